"""`ClusterViews` for one caller, answered from the shared watch cache.

Every answer holds only what this caller could list from the API server themselves, as
Kubernetes decided for them (`core.visibility`); refusals read like the live reader's, so
the use cases and the console cannot tell which one they read. The caller's writes never
come here: they go out with the caller's own credentials (`kube.changes`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence

from netfence.controller.shared_cache import RESYNC, Change, SharedCache
from netfence.core import errors, naming
from netfence.core.manifests import Inventory, assembled
from netfence.core.objects import Backup, JsonDict, Policy, WorkloadRef
from netfence.core.planning import NamespaceState
from netfence.core.visibility import (
    EVENTS,
    NAMESPACE_VIEW,
    NAMESPACES,
    PODS,
    POLICIES,
    WORKLOADS,
    Visibility,
)
from netfence.usecases.ports import (
    ClusterChanges,
    ClusterViews,
    EventRecord,
    LeaseRecord,
    StoredCatalog,
    ViewChange,
)

_WHO_ALL = "connectivity analysis needs read access to them cluster-wide (netfence-admin has it)"
# Inventories are shared by callers who see the same, until the cache changes.
_INVENTORIES_KEPT = 16
# How long the stream gathers changes before telling a page: one reload for a burst.
_BATCH_SECONDS = 0.05


class InventoryMemo:
    """Inventories by (cache revision, what the caller sees, which namespaces): assembling
    one of a large cluster is the cost of every connectivity answer otherwise."""

    def __init__(self) -> None:
        self._kept: OrderedDict[tuple[object, ...], Inventory] = OrderedDict()

    def get(self, key: tuple[object, ...], make: Callable[[], Inventory]) -> Inventory:
        found = self._kept.get(key)
        if found is None:
            found = make()
            self._kept[key] = found
            if len(self._kept) > _INVENTORIES_KEPT:
                self._kept.popitem(last=False)
        else:
            self._kept.move_to_end(key)
        return found


class CachedViews:
    """Implements `ClusterViews` (and `ChangeFeed`) for one caller over a `SharedCache`."""

    def __init__(
        self,
        cache: SharedCache,
        visibility: Callable[[], Awaitable[Visibility]],
        memo: InventoryMemo,
        live: ClusterViews,
        *,
        sync_seconds: float = 30.0,
    ) -> None:
        # The caller's own live reader, for the few reads a write depends on.
        self._live = live
        self._cache = cache
        self._visibility = visibility
        self._memo = memo
        self._sync_seconds = sync_seconds

    async def _seen(self) -> Visibility:
        """The caller's visibility, once the cache holds the whole cluster."""
        if not self._cache.synced:
            try:
                await asyncio.wait_for(self._cache.wait_synced(), self._sync_seconds)
            except TimeoutError:
                raise errors.ClusterError(
                    "the console is still reading the cluster (waiting for "
                    f"{', '.join(self._cache.unsynced())}); try again in a moment"
                ) from None
        return await self._visibility()

    # --- ClusterReader --------------------------------------------------------------------

    async def catalog(self) -> StoredCatalog:
        seen = await self._seen()
        if not seen.catalog:
            ns = self._cache.netfence_namespace
            raise errors.AccessDenied(
                f"you may not read the templates in {ns}/{naming.TEMPLATES_CONFIGMAP}"
            )
        return self._cache.stored_catalog()

    async def backup(self, namespace: str) -> Backup | None:
        seen = await self._seen()
        if not seen.backups:
            raise errors.AccessDenied(f"you may not read the backup of namespace {namespace}")
        return self._cache.backups.get(namespace)

    async def namespace(self, name: str) -> NamespaceState:
        seen = await self._seen()
        self._require_namespace(seen, name)
        backup = self._cache.backups.get(name) if seen.backups else None
        if self._cache.namespaces.get(name, name) is None:
            return NamespaceState(name=name, namespace=None, backup=backup)
        state = self._cache.state(name)
        return NamespaceState(
            name=name,
            namespace=state.namespace,
            workloads=state.workloads,
            policies=state.policies,
            backup=backup,
        )

    async def namespaces(self) -> list[NamespaceState]:
        """The namespaces the caller may read, each with what they may list in it."""
        seen = await self._seen()
        names = sorted(
            n for n in self._cache.namespaces.by_namespace if seen.namespace_objects.covers(n)
        )
        if not names and not seen.namespace_objects.everywhere:
            raise errors.AccessDenied("You may not list namespaces; an admin can.")
        cache = self._cache
        states = []
        for name in names:
            workloads = [
                w
                for informer, resource in zip(cache.workloads, WORKLOADS, strict=True)
                if seen.can_list(resource, name)
                for w, _ in informer.in_namespace(name)
            ]
            states.append(
                NamespaceState(
                    name=name,
                    namespace=cache.namespaces.get(name, name),
                    workloads=workloads,
                    policies=cache.policies.in_namespace(name)
                    if seen.can_list(POLICIES, name)
                    else [],
                    backup=cache.backups.get(name) if seen.backups else None,
                )
            )
        return states

    def _require_namespace(self, seen: Visibility, name: str) -> None:
        if not seen.can_read_namespace(name):
            raise errors.AccessDenied(
                f"You may not read namespace {name}; ask an admin for access."
            )

    # --- ClusterViews ---------------------------------------------------------------------

    async def current_catalog(self) -> StoredCatalog:
        await self.catalog()  # refused as the cached one would be
        return await self._live.current_catalog()

    async def revision(self) -> tuple[object, ...] | None:
        seen = await self._seen()
        return (seen.fingerprint(), self._cache.revision)

    async def inventory(self, namespaces: Sequence[str] | None = None) -> Inventory:
        seen = await self._seen()
        cache = self._cache
        if namespaces is None:
            if not seen.can_list_everywhere(NAMESPACES, *NAMESPACE_VIEW):
                raise errors.AccessDenied(
                    "You may not list namespaces, NetworkPolicies and controllers in all "
                    f"namespaces; {_WHO_ALL}."
                )
            pods = seen.can_list_everywhere(PODS)
            key: tuple[object, ...] = (cache.revision, None, pods)
            return self._memo.get(key, lambda: self._assemble(None, pods=pods))
        wanted = sorted(set(namespaces))
        for name in wanted:
            self._require_namespace(seen, name)
            if cache.namespaces.get(name, name) is None:
                raise errors.NotFound(f"cannot read namespace {name}: namespace {name} not found")
        pods = all(seen.can_list(PODS, n) for n in wanted)
        key = (tuple(cache.namespace_revision(n) for n in wanted), tuple(wanted), pods)
        return self._memo.get(key, lambda: self._assemble(wanted, pods=pods))

    def _assemble(self, names: list[str] | None, *, pods: bool) -> Inventory:
        cache = self._cache
        if names is None:
            return assembled(
                (n for items in cache.namespaces.by_namespace.values() for n in items.values()),
                (p for items in cache.policies.by_namespace.values() for p in items.values()),
                (
                    (p for items in cache.pods.by_namespace.values() for p in items.values())
                    if pods
                    else ()
                ),
                (
                    entry
                    for informer in cache.workloads
                    for items in informer.by_namespace.values()
                    for entry in items.values()
                ),
                unreadable=() if pods else ("pods",),
            )
        found = [cache.namespaces.get(n, n) for n in names]
        return assembled(
            (n for n in found if n is not None),
            (p for n in names for p in cache.policies.in_namespace(n)),
            (p for n in names for p in cache.pods.in_namespace(n)) if pods else (),
            (entry for n in names for entry in cache.workload_entries(n)),
            unreadable=() if pods else ("pods",),
        )

    async def policy_exists(self, namespace: str, name: str) -> bool:
        seen = await self._seen()
        if not seen.can_list(POLICIES, namespace):
            raise errors.AccessDenied(f"you may not read NetworkPolicy {namespace}/{name}")
        return self._cache.policies.get(namespace, name) is not None

    async def attachment_policies(self, template: str | None = None) -> list[Policy] | None:
        seen = await self._seen()
        if not seen.can_list_everywhere(POLICIES):
            return None
        return [
            policy
            for items in self._cache.policies.by_namespace.values()
            for policy in items.values()
            if policy.role == naming.ROLE_ATTACHMENT
            and (template is None or policy.template == template)
        ]

    async def events(self, namespace: str) -> list[EventRecord]:
        seen = await self._seen()
        if not seen.can_list(EVENTS, namespace):
            raise errors.AccessDenied(f"you may not read events in {namespace}")
        found = self._cache.events.in_namespace(namespace)
        if not found and self._cache.namespaces.get(namespace, namespace) is None:
            raise errors.NotFound(f"cannot read events in {namespace}: no such namespace")
        return found

    async def controller_lease(self) -> LeaseRecord | None:
        seen = await self._seen()
        if not seen.lease:
            ns = self._cache.netfence_namespace
            raise errors.AccessDenied(f"you may not read Lease {ns}/{naming.LEADER_LEASE}")
        return self._cache.lease()

    # --- ChangeFeed -----------------------------------------------------------------------

    async def changes(self) -> AsyncIterator[ViewChange]:
        """Batches of the changes this caller may see, each as soon as a burst settles.

        Visibility is asked again for every batch (it is cached for seconds per caller),
        so a binding removed meanwhile stops the changes of that namespace too.
        """
        with self._cache.subscribe() as queue:
            while True:
                batch = [await queue.get()]
                await asyncio.sleep(_BATCH_SECONDS)
                while not queue.empty():
                    batch.append(queue.get_nowait())
                seen = await self._seen()
                change = _visible(batch, seen)
                if change is not None:
                    yield change


def _visible(batch: list[Change], seen: Visibility) -> ViewChange | None:
    # A binding's change says nothing to a page until it changes what the caller sees,
    # which their next visibility (seconds later) reflects; passing it on would tell every
    # caller that someone's rights changed somewhere.
    if RESYNC in batch:
        return ViewChange(kinds=("resync",), namespaces=(), resync=True)
    kinds: set[str] = set()
    namespaces: set[str] = set()
    for change in batch:
        if change.kind == "bindings":
            continue
        if change.kind == "catalog":
            if seen.catalog:
                kinds.add("catalog")
            continue
        if change.kind == "lease":
            if seen.lease:
                kinds.add("lease")
            continue
        if change.kind == "backups":
            if seen.backups and seen.namespace_objects.covers(change.namespace):
                kinds.add("backups")
                namespaces.add(change.namespace)
            continue
        resource = _RESOURCES.get(change.kind)
        visible = (
            seen.namespace_objects.covers(change.namespace)
            if resource is None
            else seen.namespace_objects.covers(change.namespace)
            and any(seen.can_list(r, change.namespace) for r in resource)
        )
        if visible:
            kinds.add(change.kind)
            namespaces.add(change.namespace)
    if not kinds:
        return None
    return ViewChange(kinds=tuple(sorted(kinds)), namespaces=tuple(sorted(namespaces)))


_RESOURCES = {
    "policies": (POLICIES,),
    "workloads": WORKLOADS,
    "pods": (PODS,),
    "events": (EVENTS,),
}


class SettlingChanges:
    """A caller's `ClusterChanges` that return once the shared cache shows the write, so
    the page reloading after it sees it (read-your-writes). Writes still go out with the
    caller's own credentials; a cache that lags longer only delays the answer."""

    def __init__(self, inner: ClusterChanges, cache: SharedCache, *, seconds: float = 3.0) -> None:
        self._inner = inner
        self._cache = cache
        self._seconds = seconds

    async def _settle(self, holds: Callable[[], bool]) -> None:
        await self._cache.until(holds, timeout=self._seconds)

    async def set_namespace_managed(self, name: str, *, managed: bool) -> None:
        await self._inner.set_namespace_managed(name, managed=managed)

        def shown() -> bool:
            found = self._cache.namespaces.get(name, name)
            return found is None or found.wants_management == managed

        await self._settle(shown)

    async def set_template_label(
        self, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
    ) -> None:
        await self._inner.set_template_label(namespace, ref, template, attached=attached)
        key = naming.template_label_key(template)

        def shown() -> bool:
            found = self._cache.workload(namespace, ref.kind, ref.name)
            return found is None or (found.labels.get(key) is not None) == attached

        await self._settle(shown)

    async def request_refresh(
        self, namespace: str, ref: WorkloadRef, template: str, version: str
    ) -> None:
        before = self._cache.namespace_revision(namespace)
        await self._inner.request_refresh(namespace, ref, template, version)
        await self._settle(lambda: self._cache.namespace_revision(namespace) > before)

    async def create_policy(self, manifest: JsonDict) -> bool:
        created = await self._inner.create_policy(manifest)
        if created:
            metadata = manifest["metadata"]
            namespace, name = str(metadata["namespace"]), str(metadata["name"])
            await self._settle(lambda: self._cache.policies.get(namespace, name) is not None)
        return created

    async def create_catalog(self, data: Mapping[str, str]) -> None:
        await self._inner.create_catalog(data)
        await self._settle(lambda: self._cache.stored_catalog().resource_version is not None)

    async def patch_catalog(self, data: Mapping[str, str | None], *, resource_version: str) -> None:
        await self._inner.patch_catalog(data, resource_version=resource_version)
        await self._settle(
            lambda: self._cache.stored_catalog().resource_version not in (None, resource_version)
        )
