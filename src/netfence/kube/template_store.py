"""The template catalog: one ConfigMap in netfence's namespace, one data key per template."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from netfence.core import errors, naming, templates
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.kube import failures

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    catalog: templates.Catalog
    data: dict[str, str]
    resource_version: str | None


def _catalog_configmap(namespace: str, data: dict[str, str]) -> ConfigMap:
    return ConfigMap(
        metadata=ObjectMeta(
            name=naming.TEMPLATES_CONFIGMAP,
            namespace=namespace,
            labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        ),
        data=data,
    )


async def ensure_defaults(client: AsyncClient, *, namespace: str) -> bool:
    """Create the catalog with the default templates if it is missing; never overwrite.

    Returns whether it was created. `create` (not apply) is what guarantees an existing
    catalog, possibly emptied on purpose by an admin, is left exactly as it is.
    """
    with failures.translated(f"create ConfigMap {namespace}/{naming.TEMPLATES_CONFIGMAP}"):
        try:
            await client.create(_catalog_configmap(namespace, dict(DEFAULT_TEMPLATES)))
        except ApiError as e:
            if e.status.code == 409:
                return False
            raise
    logger.info("created the template catalog with %d default templates", len(DEFAULT_TEMPLATES))
    return True


async def load(client: AsyncClient, *, namespace: str) -> StoredCatalog:
    with failures.translated(f"read the templates in {namespace}/{naming.TEMPLATES_CONFIGMAP}"):
        try:
            config_map = await client.get(
                ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=namespace
            )
        except ApiError as e:
            if e.status.code != 404:
                raise
            return StoredCatalog(templates.parse_catalog({}), {}, None)
    data = dict(config_map.data or {})
    version = config_map.metadata.resourceVersion if config_map.metadata else None
    return StoredCatalog(_parse(tuple(sorted(data.items()))), data, version)


@functools.lru_cache(maxsize=16)
def _parse(items: tuple[tuple[str, str], ...]) -> templates.Catalog:
    """Parsing is pure and the catalog rarely changes: every console poll reads it, so
    identical contents are parsed once. A Catalog is immutable, so sharing it is safe."""
    return templates.parse_catalog(dict(items))


async def put_many(
    client: AsyncClient,
    *,
    namespace: str,
    documents: dict[str, str],
    resource_version: str | None,
) -> list[templates.Template]:
    """Validate every template, then write them all in one request, or none of them.

    `resource_version` is the catalog version the caller read: a concurrent edit makes
    this fail with Conflict instead of silently overwriting someone else's change.
    """
    parsed = [templates.parse_template(name, text) for name, text in documents.items()]
    if resource_version is None:
        with failures.translated(
            f"create the template catalog in {namespace}", who_can="an admin can"
        ):
            try:
                await client.create(_catalog_configmap(namespace, dict(documents)))
            except ApiError as e:
                if e.status.code != 409:
                    raise
                raise errors.Conflict(
                    "the template catalog was created by someone else meanwhile; nothing was "
                    "written — apply again"
                ) from e
        return parsed
    await _patch(
        client,
        namespace=namespace,
        data=dict(documents),
        resource_version=resource_version,
        action="edit templates",
    )
    return parsed


async def remove(client: AsyncClient, *, namespace: str, name: str, resource_version: str) -> None:
    await _patch(
        client,
        namespace=namespace,
        data={name: None},
        resource_version=resource_version,
        action="delete templates",
    )


async def _patch(
    client: AsyncClient,
    *,
    namespace: str,
    data: Mapping[str, str | None],
    resource_version: str,
    action: str,
) -> None:
    # A merge patch carrying metadata.resourceVersion is a precondition: the API server
    # answers 409 if the ConfigMap changed since it was read.
    body = {"metadata": {"resourceVersion": resource_version}, "data": data}
    with failures.translated(action, who_can="an admin can"):
        try:
            await client.patch(
                ConfigMap,
                naming.TEMPLATES_CONFIGMAP,
                body,
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as e:
            if e.status.code == 409:
                raise errors.Conflict(
                    f"cannot {action}: the template catalog was changed by someone else since it "
                    "was read; nothing was written — re-read it and apply again"
                ) from e
            raise
