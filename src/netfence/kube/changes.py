"""The `ClusterChanges` adapter: the writes a person makes, with that person's client.

Each one changes only what an ordinary RBAC verb guards: a label on a Namespace, a label or
annotation on a controller, a NetworkPolicy created from a backup, the template ConfigMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.types import PatchType

from netfence.core import errors, naming
from netfence.core.objects import JsonDict, WorkloadRef
from netfence.kube import converting, failures


def catalog_configmap(namespace: str, data: Mapping[str, str]) -> ConfigMap:
    return ConfigMap(
        metadata=ObjectMeta(
            name=naming.TEMPLATES_CONFIGMAP,
            namespace=namespace,
            labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        ),
        data=dict(data),
    )


class KubeChanges:
    def __init__(self, client: AsyncClient, *, netfence_namespace: str) -> None:
        self._client = client
        self._netfence_namespace = netfence_namespace

    async def set_namespace_managed(self, name: str, *, managed: bool) -> None:
        value = naming.MANAGED_NAMESPACE_VALUE if managed else None
        body = {"metadata": {"labels": {naming.MANAGED_NAMESPACE_LABEL: value}}}
        action = "enable namespaces" if managed else "disable namespaces"
        with failures.translated(action, who_can="an admin can"):
            await self._client.patch(NamespaceResource, name, body, patch_type=PatchType.MERGE)

    async def set_template_label(
        self, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
    ) -> None:
        value = naming.TEMPLATE_LABEL_VALUE if attached else None
        verb = "attach templates to" if attached else "detach templates from"
        await self._patch_controller(
            namespace,
            ref,
            {"labels": {naming.template_label_key(template): value}},
            action=f"{verb} controllers in namespace {namespace}",
        )

    async def request_refresh(
        self, namespace: str, ref: WorkloadRef, template: str, version: str
    ) -> None:
        await self._patch_controller(
            namespace,
            ref,
            {"annotations": {naming.refresh_annotation_key(template): version}},
            action=f"update policies of controllers in namespace {namespace}",
        )

    async def _patch_controller(
        self, namespace: str, ref: WorkloadRef, metadata: dict[str, Any], *, action: str
    ) -> None:
        with failures.translated(action, who_can="ask an admin for access to this namespace"):
            await self._client.patch(
                converting.WORKLOAD_RESOURCES[ref.kind],
                ref.name,
                {"metadata": metadata},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )

    async def create_policy(self, manifest: JsonDict) -> bool:
        metadata = manifest["metadata"]
        where = f"{metadata['namespace']}/{metadata['name']}"
        with failures.translated(f"restore NetworkPolicy {where}", who_can="an admin can"):
            try:
                await self._client.create(codecs.from_dict(manifest))
            except ApiError as e:
                if e.status.code != 409:
                    raise
                return False
        return True

    async def create_catalog(self, data: Mapping[str, str]) -> None:
        ns = self._netfence_namespace
        with failures.translated(f"create the template catalog in {ns}", who_can="an admin can"):
            await self._client.create(catalog_configmap(ns, data))

    async def patch_catalog(self, data: Mapping[str, str | None], *, resource_version: str) -> None:
        # A merge patch carrying metadata.resourceVersion is a precondition: the API server
        # answers 409 if the ConfigMap changed since it was read.
        removing = all(v is None for v in data.values())
        action = "delete templates" if removing else "edit templates"
        body = {"metadata": {"resourceVersion": resource_version}, "data": dict(data)}
        with failures.translated(action, who_can="an admin can"):
            try:
                await self._client.patch(
                    ConfigMap,
                    naming.TEMPLATES_CONFIGMAP,
                    body,
                    namespace=self._netfence_namespace,
                    patch_type=PatchType.MERGE,
                )
            except ApiError as e:
                if e.status.code == 409:
                    raise errors.Conflict(
                        f"cannot {action}: the template catalog was changed by someone else "
                        "since it was read; nothing was written — re-read it and apply again"
                    ) from e
                raise
