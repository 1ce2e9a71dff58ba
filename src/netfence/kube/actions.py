"""The writes a person makes through netfence (CLI or console), with the caller's client.

Each one changes only what an ordinary RBAC verb guards: a label on a Namespace, a label or
annotation on a controller, NetworkPolicies recreated from a backup. The controller does
the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.types import PatchType

from netfence.core import naming
from netfence.core.objects import Backup, WorkloadRef
from netfence.kube import converting, failures


async def set_namespace_managed(client: AsyncClient, name: str, *, managed: bool) -> None:
    value = naming.MANAGED_NAMESPACE_VALUE if managed else None
    body = {"metadata": {"labels": {naming.MANAGED_NAMESPACE_LABEL: value}}}
    action = "enable namespaces" if managed else "disable namespaces"
    with failures.translated(action, who_can="an admin can"):
        await client.patch(NamespaceResource, name, body, patch_type=PatchType.MERGE)


async def set_template_label(
    client: AsyncClient, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
) -> None:
    """Attach or detach by label; only the controller's metadata changes, so no pod restarts."""
    value = naming.TEMPLATE_LABEL_VALUE if attached else None
    verb = "attach templates to" if attached else "detach templates from"
    await _patch_controller(
        client,
        namespace,
        ref,
        {"labels": {naming.template_label_key(template): value}},
        action=f"{verb} controllers in namespace {namespace}",
    )


async def request_refresh(
    client: AsyncClient, namespace: str, ref: WorkloadRef, template: str, version: str
) -> None:
    """Ask the controller to re-render one attachment from this exact template version."""
    await _patch_controller(
        client,
        namespace,
        ref,
        {"annotations": {naming.refresh_annotation_key(template): version}},
        action=f"update policies of controllers in namespace {namespace}",
    )


async def _patch_controller(
    client: AsyncClient, namespace: str, ref: WorkloadRef, metadata: dict[str, Any], *, action: str
) -> None:
    with failures.translated(action, who_can="ask an admin for access to this namespace"):
        await client.patch(
            converting.WORKLOAD_RESOURCES[ref.kind],
            ref.name,
            {"metadata": metadata},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )


@dataclass(slots=True)
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


async def restore_backup(
    client: AsyncClient, namespace: str, backup: Backup, *, existing: set[str]
) -> RestoreReport:
    """Recreate backed-up policies that are not there; never overwrite one that is."""
    report = RestoreReport()
    for name, manifest in sorted(backup.entries.items()):
        if converting.UNPARSED in manifest:
            report.skipped[name] = "its backup entry is not valid YAML"
            continue
        if name in existing:
            report.skipped[name] = "a policy of that name exists"
            continue
        metadata = {**manifest.get("metadata", {}), "namespace": namespace, "name": name}
        obj = codecs.from_dict({**manifest, "metadata": metadata})
        with failures.translated(
            f"restore NetworkPolicy {namespace}/{name}", who_can="an admin can"
        ):
            try:
                await client.create(obj)
            except ApiError as e:
                if e.status.code != 409:
                    raise
                report.skipped[name] = "a policy of that name exists"
                continue
        report.restored.append(name)
    return report
