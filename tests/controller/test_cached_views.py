"""One caller's views of the shared cache, without a cluster: the cache is filled the way
its informers fill it (objects read from the API's JSON), and never started."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from netfence.controller.cached_views import (
    CachedViews,
    InventoryMemo,
    SettlingChanges,
)
from netfence.controller.informing import Informer
from netfence.controller.shared_cache import Change, SharedCache
from netfence.core import errors, manifests
from netfence.core.conversion import namespace_from, policy_from
from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.core.visibility import (
    EVENTS,
    EVERYWHERE,
    NAMESPACE_VIEW,
    NAMESPACES,
    PODS,
    Scope,
    Visibility,
)
from netfence.usecases.kept import Kept
from netfence.usecases.ports import ViewChange

NETFENCE_NS = "netfence-system"


def _cache() -> SharedCache:
    cache = SharedCache(cast(Any, None), netfence_namespace=NETFENCE_NS)
    for informer in cache.informers:
        informer.synced.set()
    for ns in ("team-a", "team-b"):
        _put(cache, "namespaces", ns, ns, namespace_from({"metadata": {"name": ns}}))
        _put(cache, "policies", ns, "own", policy_from(_policy(ns)))
        _put(cache, "pods", ns, "web-1", manifests.pod_endpoint(_pod(ns)))
        entry = manifests.workload_entry(WorkloadKind.DEPLOYMENT, _deployment(ns))
        _put(cache, "workloads", ns, "web", entry)
    return cache


def _put(cache: SharedCache, kind: str, ns: str, name: str, value: object) -> None:
    informers: dict[str, Informer[Any]] = {
        "namespaces": cache.namespaces,
        "policies": cache.policies,
        "pods": cache.pods,
        "workloads": cache.workloads[0],
    }
    informer = informers[kind]
    informer.by_namespace.setdefault(ns, {})[name] = value
    cache._changed(kind, ns)


def _policy(ns: str) -> dict[str, Any]:
    return {
        "kind": "NetworkPolicy",
        "metadata": {"name": "own", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def _pod(ns: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-1", "namespace": ns, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]},
        "status": {"podIP": "10.0.0.1"},
    }


def _deployment(ns: str) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
        },
    }


OWN = Scope(namespaces=frozenset({"team-a"}))
DEVELOPER = Visibility(
    user="bob",
    lists={**dict.fromkeys(NAMESPACE_VIEW, OWN), PODS: OWN, EVENTS: OWN},
    namespace_objects=OWN,
    catalog=True,
)
ADMIN = Visibility(
    user="root",
    lists=dict.fromkeys((NAMESPACES, *NAMESPACE_VIEW, PODS, EVENTS), EVERYWHERE),
    namespace_objects=EVERYWHERE,
    catalog=True,
    backups=True,
    lease=True,
)


def _views(cache: SharedCache, seen: Visibility) -> CachedViews:
    async def visibility() -> Visibility:
        return seen

    return CachedViews(cache, visibility, InventoryMemo(), cast(Any, None))


async def test_a_developer_reads_his_namespace_and_is_refused_the_other() -> None:
    views = _views(_cache(), DEVELOPER)
    assert [s.name for s in await views.namespaces()] == ["team-a"]
    own = await views.namespace("team-a")
    assert [p.name for p in own.policies] == ["own"]
    with pytest.raises(errors.AccessDenied, match="You may not read namespace team-b"):
        await views.namespace("team-b")
    with pytest.raises(errors.AccessDenied):
        await views.backup("team-a")


async def test_his_inventory_holds_only_what_he_may_list() -> None:
    views = _views(_cache(), DEVELOPER)
    with pytest.raises(errors.AccessDenied, match="in all namespaces"):
        await views.inventory()
    inventory = await views.inventory(["team-a"])
    assert {p.namespace for p in inventory.pods} == {"team-a"}
    assert {c.namespace for c in inventory.controllers} == {"team-a"}
    assert inventory.unreadable == ()
    with pytest.raises(errors.AccessDenied):
        await views.inventory(["team-a", "team-b"])


async def test_an_admin_reads_the_whole_cluster_and_the_same_inventory_twice() -> None:
    views = _views(_cache(), ADMIN)
    first = await views.inventory()
    assert {p.namespace for p in first.pods} == {"team-a", "team-b"}
    assert await views.inventory() is first  # until the cache changes
    assert await views.attachment_policies() == []
    with pytest.raises(errors.NotFound):
        await views.inventory(["nowhere"])


async def test_callers_share_a_revision_only_when_they_see_the_same() -> None:
    cache = _cache()
    admin, developer = _views(cache, ADMIN), _views(cache, DEVELOPER)
    assert await admin.revision() != await developer.revision()
    before = await admin.revision()
    _put(cache, "pods", "team-b", "web-2", manifests.pod_endpoint(_pod("team-b")))
    assert await admin.revision() != before


async def test_the_stream_carries_only_changes_the_caller_may_see() -> None:
    cache = _cache()
    got: list[ViewChange] = []

    async def follow() -> None:
        async for change in _views(cache, DEVELOPER).changes():
            got.append(change)

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.01)
    cache._changed("pods", "team-b")
    cache._changed("bindings", "")
    cache._changed("backups", "team-a")  # he may not read backups
    await asyncio.sleep(0.2)
    cache._changed("policies", "team-a")
    cache._changed("catalog", "")
    await asyncio.sleep(0.2)
    task.cancel()
    assert got == [ViewChange(kinds=("catalog", "policies"), namespaces=("team-a",))]


async def test_a_stream_that_falls_behind_is_told_to_reload_everything() -> None:
    cache = _cache()
    with cache.subscribe() as queue:
        for n in range(2000):
            cache._changed("pods", f"ns-{n}")
        changes = [queue.get_nowait() for _ in range(queue.qsize())]
    assert Change("resync", "") in changes
    assert len(changes) < 1100


async def test_visibility_is_asked_once_for_concurrent_requests_and_kept_for_a_while() -> None:
    asked = 0

    async def ask() -> Visibility:
        nonlocal asked
        asked += 1
        await asyncio.sleep(0.01)
        return DEVELOPER

    kept: Kept[Visibility] = Kept(seconds=60)
    found = await asyncio.gather(*(kept.get("bob", ask) for _ in range(20)))
    assert found == [DEVELOPER] * 20
    assert asked == 1
    await kept.get("bob", ask)
    assert asked == 1
    await Kept[Visibility](seconds=0).get("bob", ask)
    assert asked == 2


async def test_a_failed_visibility_is_not_kept() -> None:
    calls = 0

    async def refused() -> Visibility:
        nonlocal calls
        calls += 1
        raise errors.Unauthenticated("token expired")

    kept: Kept[Visibility] = Kept(seconds=60)
    for _ in range(2):
        with pytest.raises(errors.Unauthenticated):
            await kept.get("bob", refused)
    assert calls == 2


class LaggingChanges:
    """A caller's writes that reach the cache a little later, as a watch delivers them."""

    def __init__(self, cache: SharedCache) -> None:
        self.cache = cache

    async def set_template_label(
        self, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
    ) -> None:
        async def later() -> None:
            await asyncio.sleep(0.05)
            document = _deployment(namespace)
            document["metadata"]["labels"] = {f"templates.netfence.io/{template}": "true"}
            _put(
                self.cache,
                "workloads",
                namespace,
                "web",
                manifests.workload_entry(ref.kind, document),
            )

        asyncio.get_running_loop().create_task(later())


async def test_a_write_returns_once_the_cache_shows_it() -> None:
    cache = _cache()
    changes = SettlingChanges(cast(Any, LaggingChanges(cache)), cache)
    ref = WorkloadRef(WorkloadKind.DEPLOYMENT, "web")
    await changes.set_template_label("team-a", ref, "http", attached=True)
    workload = cache.workload("team-a", WorkloadKind.DEPLOYMENT, "web")
    assert workload is not None
    assert workload.attached_templates == ("http",)
