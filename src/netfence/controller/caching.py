"""The controller's view of the cluster: informers for everything that decides policies.

`CachedReader` serves the `ClusterReader` port from memory, so the reconcile use case reads
the cache exactly as the CLI and the console read the live cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.controller.informing import Informer
from netfence.core import backups, conversion, naming, templates
from netfence.core.objects import Backup, Namespace, Policy, Workload
from netfence.core.planning import NamespaceState
from netfence.kube import converting
from netfence.usecases.ports import StoredCatalog


class BackupPieces:
    """Every ConfigMap of every backup, by namespace and name, and what they assemble into:
    a backup is there only once all its parts are (`core.backups`). The controller's cache
    and the console's keep theirs with this."""

    def __init__(self) -> None:
        self.pieces: dict[str, dict[str, conversion.BackupPiece]] = {}
        self.backups: dict[str, Backup] = {}

    def changed(self, piece: conversion.BackupPiece, *, current: bool, new: Any) -> None:
        """`piece` is the ConfigMap's new form (`current`) or its old one; `new` is what
        the ConfigMap is now (None when deleted), as the informer converted it."""
        pieces = self.pieces.setdefault(piece.namespace, {})
        if current:
            pieces[piece.name] = piece
        elif new is None or new[0] != "backup" or new[1].namespace != piece.namespace:
            pieces.pop(piece.name, None)
        backup = backups.assemble(piece.namespace, pieces.values()).backup if pieces else None
        if not pieces:
            self.pieces.pop(piece.namespace, None)
        if backup is None:
            self.backups.pop(piece.namespace, None)
        else:
            self.backups[piece.namespace] = backup


class ClusterCache:
    """Informers on namespaces, policies, controllers and netfence's own ConfigMaps."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        netfence_namespace: str,
        on_namespace: Callable[[str], None],
        on_catalog: Callable[[], None],
        on_error: Callable[[str, BaseException], None] | None = None,
        on_listed: Callable[[str], None] | None = None,
    ) -> None:
        self.netfence_namespace = netfence_namespace
        self._on_namespace = on_namespace
        self._on_catalog = on_catalog
        self.catalog = templates.parse_catalog({})
        self._catalog_data: dict[str, str] = {}
        self.catalog_seen = asyncio.Event()

        def touched(namespace: str, _old: object, _new: object) -> None:
            on_namespace(namespace)

        self.namespaces: Informer[Namespace] = Informer(
            client,
            NamespaceResource,
            convert=converting.namespace_from,
            on_change=touched,
            cluster_scoped=True,
            on_error=on_error,
            on_listed=on_listed,
        )
        self.policies: Informer[Policy] = Informer(
            client,
            NetworkPolicy,
            convert=converting.policy_from,
            on_change=touched,
            on_error=on_error,
            on_listed=on_listed,
        )
        self.workloads: list[Informer[Workload]] = [
            Informer(
                client,
                resource,
                convert=converting.workload_from,
                on_change=touched,
                on_error=on_error,
                on_listed=on_listed,
            )
            for resource in converting.WORKLOAD_RESOURCES.values()
        ]
        self.configmaps: Informer[Any] = Informer(
            client,
            ConfigMap,
            convert=self._convert_configmap,
            on_change=self._configmap_changed,
            namespace=netfence_namespace,
            labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
            on_error=on_error,
            on_listed=on_listed,
        )
        self._backups = BackupPieces()

    @property
    def informers(self) -> list[Informer[Any]]:
        return [self.namespaces, self.policies, *self.workloads, self.configmaps]

    def unsynced(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.informers if not i.synced.is_set())

    def managed(self) -> tuple[int, dict[str, int]]:
        """Namespaces opted in, and the policies netfence made by role."""
        namespaces = sum(
            1
            for items in self.namespaces.by_namespace.values()
            for ns in items.values()
            if ns.wants_management
        )
        roles: dict[str, int] = {}
        for items in self.policies.by_namespace.values():
            for policy in items.values():
                if policy.is_managed:
                    role = policy.role or "other"
                    roles[role] = roles.get(role, 0) + 1
        return namespaces, roles

    def cached(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for informer in self.informers:
            counts[informer.name] = counts.get(informer.name, 0) + informer.count()
        return counts

    async def wait_synced(self) -> None:
        await asyncio.gather(*(informer.synced.wait() for informer in self.informers))

    def _convert_configmap(self, obj: ConfigMap) -> Any:
        name = obj.metadata.name if obj.metadata else None
        if name == naming.TEMPLATES_CONFIGMAP:
            return ("catalog", tuple(sorted((obj.data or {}).items())))
        piece = conversion.backup_piece_from(obj.to_dict())
        return ("backup", piece) if piece is not None else None

    def _configmap_changed(self, _namespace: str, old: Any, new: Any) -> None:
        for item in (old, new):
            if item is None:
                continue
            kind, value = item
            if kind == "catalog":
                if item is new:
                    self._catalog_data = dict(value)
                    self.catalog = templates.parse_catalog(self._catalog_data)
                    self.catalog_seen.set()
                elif new is None:
                    self._catalog_data = {}
                    self.catalog = templates.parse_catalog({})
                    self.catalog_seen.clear()
                self._on_catalog()
            else:
                piece: conversion.BackupPiece = value
                self._backups.changed(piece, current=item is new, new=new)
                self._on_namespace(piece.namespace)

    def namespace_names(self) -> set[str]:
        names = set(self.namespaces.by_namespace)
        names.update(self.policies.by_namespace)
        names.update(self._backups.pieces)
        return names

    def state(self, name: str) -> NamespaceState:
        namespace = self.namespaces.get(name, name)
        workloads: list[Workload] = []
        for informer in self.workloads:
            workloads.extend(informer.in_namespace(name))
        return NamespaceState(
            name=name,
            namespace=namespace,
            workloads=workloads,
            policies=self.policies.in_namespace(name),
            backup=self._backups.backups.get(name),
        )

    def stored_catalog(self) -> StoredCatalog:
        return StoredCatalog(self.catalog, dict(self._catalog_data), None)


class CachedReader:
    """The `ClusterReader` port served from the cache's memory: no API call."""

    def __init__(self, cache: ClusterCache) -> None:
        self._cache = cache

    async def namespace(self, name: str) -> NamespaceState:
        return self._cache.state(name)

    async def namespaces(self) -> list[NamespaceState]:
        return [self._cache.state(name) for name in sorted(self._cache.namespaces.by_namespace)]

    async def backup(self, namespace: str) -> Backup | None:
        return self._cache.state(namespace).backup

    async def catalog(self) -> StoredCatalog:
        return self._cache.stored_catalog()
