"""Reading namespace state straight from the API, for the CLI (the controller uses caches)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lightkube import ALL_NS, ApiError, AsyncClient, operators
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import errors, naming
from netfence.core.objects import Backup, Policy, Workload
from netfence.core.planning import NamespaceState
from netfence.kube import converting, failures


async def _collect(iterable: Any) -> list[Any]:
    return [item async for item in iterable]


async def read_backup(
    client: AsyncClient, namespace: str, *, netfence_namespace: str
) -> Backup | None:
    with failures.translated(f"read the backup of namespace {namespace}"):
        try:
            config_map = await client.get(
                ConfigMap, naming.backup_configmap_name(namespace), namespace=netfence_namespace
            )
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise
    return converting.backup_from(config_map)


async def read_namespace(
    client: AsyncClient, name: str, *, netfence_namespace: str
) -> NamespaceState:
    """One namespace as the planner sees it; raises NotFound for a namespace that is not there."""
    with failures.translated(f"read namespace {name}", who_can="ask an admin for access"):
        namespace = converting.namespace_from(await client.get(NamespaceResource, name))
    # The backup (and its phase) is read before the policies, so a view never pairs an
    # "adopted" phase with policies from before the opt-in finished.
    try:
        backup = await read_backup(client, name, netfence_namespace=netfence_namespace)
    except errors.AccessDenied:
        backup = None  # developers may not read backups; everything else still shows
    with failures.translated(f"read namespace {name}", who_can="ask an admin for access"):
        policies, *workload_lists = await asyncio.gather(
            _collect(client.list(NetworkPolicy, namespace=name)),
            *(
                _collect(client.list(r, namespace=name))
                for r in converting.WORKLOAD_RESOURCES.values()
            ),
        )
    workloads = [converting.workload_from(obj) for items in workload_lists for obj in items]
    return NamespaceState(
        name=name,
        namespace=namespace,
        workloads=workloads,
        policies=[converting.policy_from(p) for p in policies],
        backup=backup,
    )


async def read_cluster(client: AsyncClient, *, netfence_namespace: str) -> list[NamespaceState]:
    """Every namespace, with its policies, controllers and backup.

    One list call per kind across all namespaces; for a caller whose rights stop at some
    namespaces, it falls back to per-namespace calls and leaves out what they may not see.
    """
    with failures.translated("list namespaces", who_can="an admin can"):
        namespaces = [converting.namespace_from(o) async for o in client.list(NamespaceResource)]
    names = [n.name for n in namespaces]
    kinds: list[Any] = [NetworkPolicy, *converting.WORKLOAD_RESOURCES.values()]
    listed = await asyncio.gather(*(_list_everywhere(client, kind, names) for kind in kinds))
    configmaps = await _backups(client, netfence_namespace)
    by_ns_policies: dict[str, list[Policy]] = {}
    for obj in listed[0]:
        policy = converting.policy_from(obj)
        by_ns_policies.setdefault(policy.namespace, []).append(policy)
    by_ns_workloads: dict[str, list[Workload]] = {}
    for items in listed[1:]:
        for obj in items:
            workload = converting.workload_from(obj)
            by_ns_workloads.setdefault(workload.namespace, []).append(workload)
    backups = {b.namespace: b for b in (converting.backup_from(c) for c in configmaps) if b}
    states = [
        NamespaceState(
            name=namespace.name,
            namespace=namespace,
            workloads=by_ns_workloads.get(namespace.name, []),
            policies=by_ns_policies.get(namespace.name, []),
            backup=backups.get(namespace.name),
        )
        for namespace in namespaces
    ]
    return sorted(states, key=lambda s: s.name)


async def _list_everywhere(client: AsyncClient, kind: Any, names: list[str]) -> list[Any]:
    try:
        return await _collect(client.list(kind, namespace=ALL_NS))
    except ApiError as e:
        if e.status.code != 403:
            raise failures.translate(e, f"list {kind.__name__}s") from e
    gate = asyncio.Semaphore(16)

    async def one(name: str) -> list[Any]:
        async with gate:
            try:
                return await _collect(client.list(kind, namespace=name))
            except ApiError as e:
                if e.status.code == 403:
                    return []
                raise failures.translate(e, f"list {kind.__name__}s in {name}") from e

    return [item for items in await asyncio.gather(*(one(n) for n in names)) for item in items]


async def _backups(client: AsyncClient, netfence_namespace: str) -> list[ConfigMap]:
    try:
        return await _collect(
            client.list(
                ConfigMap,
                namespace=netfence_namespace,
                labels={naming.BACKUP_OF_LABEL: operators.exists()},
            )
        )
    except ApiError as e:
        if e.status.code in (403, 404):
            # Developers may not read backups; status still works without the counts.
            return []
        raise


async def until_released(
    client: AsyncClient, name: str, *, netfence_namespace: str, timeout: float
) -> NamespaceState:
    """Re-read a namespace until the controller has removed every policy it made there
    (or `timeout` passes); the caller decides what remaining managed policies mean."""
    deadline = time.monotonic() + timeout
    while True:
        state = await read_namespace(client, name, netfence_namespace=netfence_namespace)
        if not any(p.is_managed for p in state.policies) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.2)
