"""The console's shared watch cache: one set of informers for every caller of the server.

The same informer machinery as the controller's (`informing.Informer`), filled with the
console's own account, holding each object already read into what the views need (core
objects, connectivity endpoints), so a request costs what its answer costs, not a survey
of the cluster. Who may see what of it is decided per caller (`core.visibility`,
`cached_views.CachedViews`); this module never filters.

Every change bumps a revision (of the namespace it touched, and of the whole cache) and is
passed on to the subscribers of the live stream (`subscribe`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event, Pod
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import RoleBinding

from netfence.controller.caching import BackupPieces
from netfence.controller.informing import Informer
from netfence.core import conversion, manifests, naming, templates
from netfence.core.endpoints import Endpoint
from netfence.core.objects import Backup, Namespace, Policy, Workload, WorkloadKind
from netfence.core.planning import NamespaceState
from netfence.core.visibility import Subject, binds
from netfence.kube import converting
from netfence.usecases.ports import EventRecord, LeaseRecord, StoredCatalog

logger = logging.getLogger(__name__)

# A subscriber that falls this far behind is told to reload everything instead.
_QUEUE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class Change:
    """Something changed: `kind` is one of KINDS, `namespace` where ("" for the catalog,
    the Lease and bindings, which belong to no namespace a view shows)."""

    kind: str
    namespace: str


KINDS = ("namespaces", "policies", "workloads", "pods", "events", "backups", "catalog", "lease")
# Kinds whose changes belong to no namespace a view shows.
_UNPLACED = frozenset({"catalog", "lease", "bindings"})
# A subscriber's queue overflowed: everything may have changed.
RESYNC = Change("resync", "")


def _event_record(obj: Event) -> EventRecord:
    involved = obj.involvedObject
    return EventRecord(
        type=obj.type or "Normal",
        reason=obj.reason or "",
        message=obj.message or "",
        object=f"{involved.kind}/{involved.name}",
        time=obj.eventTime or obj.lastTimestamp or obj.firstTimestamp,
    )


def _lease_record(obj: Lease) -> LeaseRecord | None:
    meta = obj.metadata
    if meta is None or meta.name != naming.LEADER_LEASE:
        return None
    spec = obj.spec
    return LeaseRecord(
        namespace=meta.namespace or "",
        name=meta.name,
        holder=(spec.holderIdentity or None) if spec else None,
        renewed=spec.renewTime if spec else None,
        duration_seconds=spec.leaseDurationSeconds if spec else None,
    )


def _subjects(obj: RoleBinding) -> tuple[Subject, ...]:
    return tuple(
        Subject(kind=s.kind, name=s.name, namespace=s.namespace or "") for s in obj.subjects or ()
    )


class SharedCache:
    """Informers on everything the console shows, for all of its callers."""

    def __init__(self, client: AsyncClient, *, netfence_namespace: str) -> None:
        self.netfence_namespace = netfence_namespace
        self.revision = 0
        self._namespace_revisions: dict[str, int] = {}
        self._subscribers: set[asyncio.Queue[Change]] = set()
        self._catalog_data: dict[str, str] = {}
        self._catalog_version: str | None = None
        self.catalog = templates.parse_catalog({})
        self._pieces = BackupPieces()
        # By namespace: the backups whose every part is there (shared with _pieces).
        self.backups: dict[str, Backup] = self._pieces.backups

        def informer(
            resource: type[Any], kind: str, convert: Callable[[Any], Any], **kwargs: Any
        ) -> Informer[Any]:
            return Informer(
                client,
                resource,
                convert=convert,
                on_change=lambda namespace, _old, _new: self._changed(kind, namespace),
                **kwargs,
            )

        self.namespaces: Informer[Namespace] = informer(
            NamespaceResource, "namespaces", converting.namespace_from, cluster_scoped=True
        )
        self.policies: Informer[Policy] = informer(
            NetworkPolicy, "policies", converting.policy_from
        )
        self.workloads: list[Informer[tuple[Workload, Endpoint | None]]] = [
            informer(resource, "workloads", _workload_converter(kind))
            for kind, resource in converting.WORKLOAD_RESOURCES.items()
        ]
        self.pods: Informer[Endpoint] = informer(
            Pod, "pods", lambda obj: manifests.pod_endpoint(obj.to_dict())
        )
        self.events: Informer[EventRecord] = informer(
            Event,
            "events",
            _event_record,
            labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        )
        self.leases: Informer[LeaseRecord] = informer(
            Lease, "lease", _lease_record, namespace=netfence_namespace
        )
        self.bindings: Informer[tuple[Subject, ...]] = informer(RoleBinding, "bindings", _subjects)
        self.configmaps: Informer[Any] = Informer(
            client,
            ConfigMap,
            convert=self._convert_configmap,
            on_change=self._configmap_changed,
            namespace=netfence_namespace,
            labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
        )
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def informers(self) -> list[Informer[Any]]:
        return [
            self.namespaces,
            self.policies,
            *self.workloads,
            self.pods,
            self.events,
            self.leases,
            self.bindings,
            self.configmaps,
        ]

    # --- running -------------------------------------------------------------------------

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(i.run(), name=f"cache-{i.name}") for i in self.informers
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    @property
    def synced(self) -> bool:
        return all(i.synced.is_set() for i in self.informers)

    def unsynced(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.informers if not i.synced.is_set())

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.informers))

    def counts(self) -> dict[str, int]:
        return {i.name: i.count() for i in self.informers}

    # --- changes -------------------------------------------------------------------------

    def _changed(self, kind: str, namespace: str) -> None:
        self.revision += 1
        if kind in _UNPLACED:
            namespace = ""
        else:
            self._namespace_revisions[namespace] = self.revision
        change = Change(kind, namespace)
        for queue in list(self._subscribers):
            if queue.qsize() >= _QUEUE_LIMIT:
                # Dropping one change would leave a page stale for good; a full reload
                # is always right.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(RESYNC)
            else:
                queue.put_nowait(change)

    def namespace_revision(self, namespace: str) -> int:
        return self._namespace_revisions.get(namespace, 0)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[Change]]:
        """Every change from now on, until the block ends."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    async def until(self, holds: Callable[[], bool], *, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) until `holds()` is true of the cache."""
        if holds():
            return True
        with self.subscribe() as queue:
            try:
                async with asyncio.timeout(timeout):
                    while not holds():
                        await queue.get()
            except TimeoutError:
                return holds()
        return True

    def workload(self, namespace: str, kind: WorkloadKind, name: str) -> Workload | None:
        informer = self.workloads[list(converting.WORKLOAD_RESOURCES).index(kind)]
        entry = informer.get(namespace, name)
        return entry[0] if entry is not None else None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # --- reading -------------------------------------------------------------------------

    def state(self, name: str) -> NamespaceState:
        """One namespace as the planner reads it (everything, unfiltered)."""
        workloads = [w for informer in self.workloads for w, _ in informer.in_namespace(name)]
        return NamespaceState(
            name=name,
            namespace=self.namespaces.get(name, name),
            workloads=workloads,
            policies=self.policies.in_namespace(name),
            backup=self.backups.get(name),
        )

    def workload_entries(self, namespace: str) -> list[tuple[Workload, Endpoint | None]]:
        return [entry for informer in self.workloads for entry in informer.in_namespace(namespace)]

    def stored_catalog(self) -> StoredCatalog:
        return StoredCatalog(self.catalog, dict(self._catalog_data), self._catalog_version)

    def lease(self) -> LeaseRecord | None:
        return self.leases.get(self.netfence_namespace, naming.LEADER_LEASE)

    def nominated(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        """Namespaces with a RoleBinding for this person (the `Bindings` port)."""
        return frozenset(
            namespace
            for namespace, found in self.bindings.by_namespace.items()
            if any(binds(subjects, user, groups) for subjects in found.values())
        )

    # --- netfence's own ConfigMaps -------------------------------------------------------

    def _convert_configmap(self, obj: ConfigMap) -> Any:
        meta = obj.metadata
        if meta is not None and meta.name == naming.TEMPLATES_CONFIGMAP:
            data = tuple(sorted((obj.data or {}).items()))
            return ("catalog", (data, meta.resourceVersion))
        piece = conversion.backup_piece_from(obj.to_dict())
        return ("backup", piece) if piece is not None else None

    def _configmap_changed(self, _namespace: str, old: Any, new: Any) -> None:
        for item in (old, new):
            if item is None:
                continue
            kind, value = item
            if kind == "catalog":
                if item is new:
                    data, version = value
                    self._catalog_data = dict(data)
                    self._catalog_version = version
                elif new is None:
                    self._catalog_data, self._catalog_version = {}, None
                self.catalog = templates.parse_catalog(self._catalog_data)
                self._changed("catalog", "")
            else:
                piece: conversion.BackupPiece = value
                self._pieces.changed(piece, current=item is new, new=new)
                self._changed("backups", piece.namespace)


def _workload_converter(kind: WorkloadKind) -> Callable[[Any], tuple[Workload, Endpoint | None]]:
    def convert(obj: Any) -> tuple[Workload, Endpoint | None]:
        return manifests.workload_entry(kind, obj.to_dict())

    return convert
