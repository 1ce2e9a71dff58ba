"""What the caller may do, asked of the API server (SelfSubjectAccessReview).

The UI uses the answers to hide or disable actions; the API still attempts every call
with the caller's credentials, so the cluster's RBAC, not this module, is the authority.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from lightkube import ApiError
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview

from netfence.core import naming
from netfence.core.objects import WorkloadKind
from netfence.kube import converting
from netfence.web.callers import Caller


@dataclass(frozen=True, slots=True)
class Question:
    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    name: str | None = None


async def can(caller: Caller, question: Question) -> bool:
    key = (
        question.verb,
        question.resource,
        question.group,
        question.namespace or "",
        question.name or "",
    )
    session = caller.session
    now = time.monotonic()
    if session is not None:
        cached = session.permissions.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(
                verb=question.verb,
                resource=question.resource,
                group=question.group,
                namespace=question.namespace,
                name=question.name,
            )
        )
    )
    try:
        answer = await caller.client.create(review)
        allowed = bool(answer.status and answer.status.allowed)
    except ApiError:
        allowed = False
    if session is not None:
        session.permissions[key] = (now + caller.settings.permission_cache_seconds, allowed)
    return allowed


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
    group = converting.API_VERSIONS[kind.value].split("/")[0]
    return Question("patch", f"{kind.value.lower()}s", group=group, namespace=namespace)


async def answers(caller: Caller, questions: dict[str, Question]) -> dict[str, bool]:
    keys = list(questions)
    results = await asyncio.gather(*(can(caller, questions[k]) for k in keys))
    return dict(zip(keys, results, strict=True))
