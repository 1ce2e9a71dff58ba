"""The questions the console asks before offering an action, answered by the cluster.

The answers only hide or disable buttons; every call is still made with the caller's own
credentials, so the cluster's RBAC, not this module, is the authority.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from netfence.core import conversion, naming
from netfence.core.objects import WorkloadKind
from netfence.usecases.ports import Authorizer, Question


def enable_namespaces() -> Question:
    return Question("patch", "namespaces")


def edit_templates(netfence_namespace: str) -> Question:
    return Question(
        "patch", "configmaps", namespace=netfence_namespace, name=naming.TEMPLATES_CONFIGMAP
    )


def read_backups(netfence_namespace: str) -> Question:
    return Question("get", "configmaps", namespace=netfence_namespace)


def restore_in(namespace: str) -> Question:
    """Restoring a backup recreates NetworkPolicies with the caller's credentials."""
    return Question("create", "networkpolicies", group="networking.k8s.io", namespace=namespace)


def attach_in(namespace: str, kind: WorkloadKind = WorkloadKind.DEPLOYMENT) -> Question:
    group = conversion.api_group(kind.value)
    return Question("patch", f"{kind.value.lower()}s", group=group, namespace=namespace)


async def answers(authorizer: Authorizer, questions: Mapping[str, Question]) -> dict[str, bool]:
    keys = list(questions)
    results = await asyncio.gather(*(authorizer.can(questions[k]) for k in keys))
    return dict(zip(keys, results, strict=True))
