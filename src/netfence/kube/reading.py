"""The live `ClusterViews` adapter: reads straight from the API with the caller's client.

The CLI and the console read through this with each person's own credentials, so they see
exactly what the cluster lets that person see. (The controller reads its informer cache,
which serves the same `ClusterReader` port.)
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Sequence
from typing import Any

from lightkube import ALL_NS, ApiError, AsyncClient, operators
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap, Event, Pod
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import backups, conversion, errors, manifests, naming, templates
from netfence.core.objects import Backup, Policy, Workload
from netfence.core.planning import NamespaceState
from netfence.kube import converting, failures
from netfence.usecases.ports import EMPTY_CATALOG, EventRecord, LeaseRecord, StoredCatalog

logger = logging.getLogger(__name__)

_READABLE: tuple[Any, ...] = (NetworkPolicy, *converting.WORKLOAD_RESOURCES.values())
_WHO_ALL = "connectivity analysis needs read access to them cluster-wide (netfence-admin has it)"


async def _collect(iterable: Any) -> list[Any]:
    return [item async for item in iterable]


def _origin(obj: Any) -> str:
    meta = obj.metadata
    name = (
        "?" if meta is None else (f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name)
    )
    return f"{type(obj).__name__} {name}"


@functools.lru_cache(maxsize=16)
def _parse_catalog(items: tuple[tuple[str, str], ...]) -> templates.Catalog:
    """Parsing is pure and the catalog rarely changes: every console poll reads it, so
    identical contents are parsed once. A Catalog is immutable, so sharing it is safe."""
    return templates.parse_catalog(dict(items))


def _assembled(namespace: str, found: Sequence[ConfigMap]) -> Backup | None:
    pieces = [conversion.backup_piece_from(config_map.to_dict()) for config_map in found]
    assembly = backups.assemble(namespace, pieces)
    if assembly.incomplete:
        logger.warning("the backup of namespace %s is incomplete: %s", namespace, assembly.missing)
    return assembly.backup


def stored_catalog(config_map: ConfigMap) -> StoredCatalog:
    data = dict(config_map.data or {})
    version = config_map.metadata.resourceVersion if config_map.metadata else None
    return StoredCatalog(_parse_catalog(tuple(sorted(data.items()))), data, version)


class LiveReader:
    """Implements `ClusterViews` with one client (one caller's credentials)."""

    def __init__(self, client: AsyncClient, *, netfence_namespace: str) -> None:
        self._client = client
        self._netfence_namespace = netfence_namespace

    # --- ClusterReader --------------------------------------------------------------------

    async def catalog(self) -> StoredCatalog:
        ns = self._netfence_namespace
        with failures.translated(f"read the templates in {ns}/{naming.TEMPLATES_CONFIGMAP}"):
            try:
                config_map = await self._client.get(
                    ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=ns
                )
            except ApiError as e:
                if e.status.code != 404:
                    raise
                return EMPTY_CATALOG
        return stored_catalog(config_map)

    async def backup(self, namespace: str) -> Backup | None:
        """The backup, from one list of its ConfigMaps (head and parts are one consistent
        snapshot); None when there is none, or when a part is missing (`core.backups`)."""
        with failures.translated(f"read the backup of namespace {namespace}"):
            found = await _collect(
                self._client.list(
                    ConfigMap,
                    namespace=self._netfence_namespace,
                    labels={naming.BACKUP_OF_LABEL: namespace},
                )
            )
        return _assembled(namespace, found)

    async def namespace(self, name: str) -> NamespaceState:
        with failures.translated(f"read namespace {name}", who_can="ask an admin for access"):
            try:
                namespace = converting.namespace_from(
                    await self._client.get(NamespaceResource, name)
                )
            except ApiError as e:
                if e.status.code != 404:
                    raise
                namespace = None
        # The backup (and its phase) is read before the policies, so a view never pairs an
        # "adopted" phase with policies from before the opt-in finished.
        try:
            backup = await self.backup(name)
        except errors.AccessDenied:
            backup = None  # developers may not read backups; everything else still shows
        if namespace is None:
            return NamespaceState(name=name, namespace=None, backup=backup)
        with failures.translated(f"read namespace {name}", who_can="ask an admin for access"):
            policies, *workload_lists = await asyncio.gather(
                *(_collect(self._client.list(r, namespace=name)) for r in _READABLE)
            )
        return NamespaceState(
            name=name,
            namespace=namespace,
            workloads=[converting.workload_from(o) for items in workload_lists for o in items],
            policies=[converting.policy_from(p) for p in policies],
            backup=backup,
        )

    async def namespaces(self) -> list[NamespaceState]:
        """One list call per kind across all namespaces; for a caller whose rights stop at
        some namespaces, per-namespace calls that leave out what they may not see."""
        with failures.translated("list namespaces", who_can="an admin can"):
            found = [
                converting.namespace_from(o) async for o in self._client.list(NamespaceResource)
            ]
        names = [n.name for n in found]
        listed = await asyncio.gather(*(self._everywhere(kind, names) for kind in _READABLE))
        policies: dict[str, list[Policy]] = {}
        for obj in listed[0]:
            policy = converting.policy_from(obj)
            policies.setdefault(policy.namespace, []).append(policy)
        workloads: dict[str, list[Workload]] = {}
        for items in listed[1:]:
            for obj in items:
                workload = converting.workload_from(obj)
                workloads.setdefault(workload.namespace, []).append(workload)
        backups = await self._backups()
        states = [
            NamespaceState(
                name=namespace.name,
                namespace=namespace,
                workloads=workloads.get(namespace.name, []),
                policies=policies.get(namespace.name, []),
                backup=backups.get(namespace.name),
            )
            for namespace in found
        ]
        return sorted(states, key=lambda s: s.name)

    async def _everywhere(self, kind: Any, names: list[str]) -> list[Any]:
        try:
            return await _collect(self._client.list(kind, namespace=ALL_NS))
        except ApiError as e:
            if e.status.code != 403:
                raise failures.translate(e, f"list {kind.__name__}s") from e
        gate = asyncio.Semaphore(16)

        async def one(name: str) -> list[Any]:
            async with gate:
                try:
                    return await _collect(self._client.list(kind, namespace=name))
                except ApiError as e:
                    if e.status.code == 403:
                        return []
                    raise failures.translate(e, f"list {kind.__name__}s in {name}") from e

        return [item for items in await asyncio.gather(*(one(n) for n in names)) for item in items]

    async def _backups(self) -> dict[str, Backup]:
        try:
            found = await _collect(
                self._client.list(
                    ConfigMap,
                    namespace=self._netfence_namespace,
                    labels={naming.BACKUP_OF_LABEL: operators.exists()},
                )
            )
        except ApiError as e:
            if e.status.code in (403, 404):
                # Developers may not read backups; status still works without the counts.
                return {}
            raise failures.translate(e, "list backups") from e
        by_namespace: dict[str, list[ConfigMap]] = {}
        for config_map in found:
            labels = (config_map.metadata.labels if config_map.metadata else None) or {}
            by_namespace.setdefault(labels.get(naming.BACKUP_OF_LABEL, ""), []).append(config_map)
        assembled = {ns: _assembled(ns, items) for ns, items in by_namespace.items() if ns}
        return {ns: backup for ns, backup in assembled.items() if backup is not None}

    # --- ClusterViews ---------------------------------------------------------------------

    async def current_catalog(self) -> StoredCatalog:
        return await self.catalog()

    async def revision(self) -> tuple[object, ...] | None:
        return None  # every read is a new one: nothing can be reused

    async def inventory(self, namespaces: Sequence[str] | None = None) -> manifests.Inventory:
        """Objects go through the same reader as files (`core.manifests`), as their JSON
        form, so the live cluster and `--from-files` of the same objects agree."""
        if namespaces is None:
            listed, unreadable = await self._survey()
        else:
            listed, unreadable = await self._survey_namespaces(sorted(set(namespaces)))
        documents = [(_origin(obj), obj.to_dict()) for items in listed for obj in items]
        # Objects the API server returns are valid; only files need checking.
        inventory = manifests.read(documents, validate=False)
        return dataclasses.replace(inventory, unreadable=unreadable)

    async def _survey(self) -> tuple[list[list[Any]], tuple[str, ...]]:
        action = "list namespaces, NetworkPolicies and controllers in all namespaces"
        with failures.translated(action, who_can=_WHO_ALL):
            listed = await asyncio.gather(
                _collect(self._client.list(NamespaceResource)),
                *(_collect(self._client.list(kind, namespace=ALL_NS)) for kind in _READABLE),
            )
        pods = await self._pods(ALL_NS, "list pods in all namespaces")
        return [*listed, pods or []], () if pods is not None else ("pods",)

    async def _survey_namespaces(self, names: list[str]) -> tuple[list[list[Any]], tuple[str, ...]]:
        """Enough for every verdict between endpoints of these namespaces: egress is decided
        by the policies of the source's namespace and ingress by those of the destination's,
        each matching the other end by its labels and its namespace's labels, all read here."""
        listed: list[list[Any]] = []
        unreadable: tuple[str, ...] = ()
        for name in names:
            with failures.translated(f"read namespace {name}", who_can="ask an admin for access"):
                listed.append([await self._client.get(NamespaceResource, name)])
                listed.extend(
                    await asyncio.gather(
                        *(_collect(self._client.list(k, namespace=name)) for k in _READABLE)
                    )
                )
            pods = await self._pods(name, f"list pods in namespace {name}")
            if pods is None:
                unreadable = ("pods",)
            else:
                listed.append(pods)
        return listed, unreadable

    async def _pods(self, namespace: str, action: str) -> list[Any] | None:
        """Pods are optional: a caller who may not list them gets the rest (None here)."""
        try:
            return await _collect(self._client.list(Pod, namespace=namespace))
        except ApiError as e:
            if e.status.code != 403:
                raise failures.translate(e, action) from e
            return None

    async def policy_exists(self, namespace: str, name: str) -> bool:
        with failures.translated(f"read NetworkPolicy {namespace}/{name}"):
            try:
                await self._client.get(NetworkPolicy, name, namespace=namespace)
            except ApiError as e:
                if e.status.code != 404:
                    raise
                return False
        return True

    async def attachment_policies(self, template: str | None = None) -> list[Policy] | None:
        """For one template the API server filters by its label."""
        labels: dict[str, Any] = {naming.ROLE_LABEL: naming.ROLE_ATTACHMENT}
        if template is not None:
            labels[naming.TEMPLATE_LABEL] = template
        with failures.translated("list NetworkPolicies in all namespaces"):
            try:
                found = await _collect(
                    self._client.list(NetworkPolicy, namespace=ALL_NS, labels=labels)
                )
            except ApiError as e:
                if e.status.code == 403:
                    return None
                raise
        return [converting.policy_from(obj) for obj in found]

    async def events(self, namespace: str) -> list[EventRecord]:
        labels: dict[str, Any] = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
        with failures.translated(f"read events in {namespace}"):
            found = await _collect(self._client.list(Event, namespace=namespace, labels=labels))
        if not found:
            await self._check_exists(namespace)
        return [
            EventRecord(
                type=event.type or "Normal",
                reason=event.reason or "",
                message=event.message or "",
                object=f"{event.involvedObject.kind}/{event.involvedObject.name}",
                time=event.eventTime or event.lastTimestamp or event.firstTimestamp,
            )
            for event in found
        ]

    async def controller_lease(self) -> LeaseRecord | None:
        ns, name = self._netfence_namespace, naming.LEADER_LEASE
        with failures.translated(f"read Lease {ns}/{name}"):
            try:
                lease = await self._client.get(Lease, name, namespace=ns)
            except ApiError as e:
                if e.status.code != 404:
                    raise
                return None
        spec = lease.spec
        return LeaseRecord(
            namespace=ns,
            name=name,
            holder=(spec.holderIdentity or None) if spec else None,
            renewed=spec.renewTime if spec else None,
            duration_seconds=spec.leaseDurationSeconds if spec else None,
        )

    async def _check_exists(self, namespace: str) -> None:
        """Listing events in a namespace that does not exist answers an empty list; say so.

        Only a 404 counts: a caller who may list events but not read the Namespace object
        still gets the (empty) list.
        """
        try:
            await self._client.get(NamespaceResource, namespace)
        except ApiError as e:
            if e.status.code == 404:
                raise failures.translate(e, f"read events in {namespace}") from e
