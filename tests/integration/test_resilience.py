"""Crashes at the dangerous points, restarts, and two replicas: nothing is lost or fought over."""

from __future__ import annotations

import asyncio

from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming
from netfence.core.objects import JsonDict
from netfence.kube.writing import KubeWriter
from tests.integration import kube
from tests.integration.netfence_fixtures import NETFENCE_NS, running_controller

DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}


class FreezingWriter(KubeWriter):
    """Writes normally until the chosen operation, then freezes there like a killed process."""

    def __init__(self, client: AsyncClient, *, freeze_on: str, namespace: str) -> None:
        super().__init__(client, netfence_namespace=NETFENCE_NS)
        self.freeze_on = freeze_on
        # Only the namespace under test: a controller starting up may write elsewhere.
        self.namespace = namespace
        self.frozen = asyncio.Event()

    async def _freeze(self) -> None:
        self.frozen.set()
        await asyncio.Event().wait()  # until cancelled: the "crash"

    async def delete(
        self, namespace: str, name: str, *, uid: str | None, resource_version: str | None
    ) -> None:
        if self.freeze_on == "delete" and namespace == self.namespace:
            await self._freeze()
        await super().delete(namespace, name, uid=uid, resource_version=resource_version)

    async def create(self, manifest: JsonDict) -> None:
        if self.freeze_on == "apply" and manifest["metadata"]["namespace"] == self.namespace:
            await self._freeze()
        await super().create(manifest)


async def _crash_during_opt_in(admin: AsyncClient, freeze_on: str) -> str:
    ns = await kube.create_namespace(admin, kube.unique(f"crash-{freeze_on}"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))
    writer = FreezingWriter(admin, freeze_on=freeze_on, namespace=ns)
    async with running_controller(admin, writer=writer):
        await kube.set_namespace_label(admin, ns, "true")
        await asyncio.wait_for(writer.frozen.wait(), timeout=10)
    return ns


async def test_a_crash_between_create_and_delete_resumes_and_loses_nothing(
    admin: AsyncClient,
) -> None:
    ns = await _crash_during_opt_in(admin, "delete")
    backup = await kube.backup(admin, ns, NETFENCE_NS)
    assert backup is not None
    assert backup.metadata is not None
    assert (backup.metadata.annotations or {})[naming.PHASE_ANNOTATION] == "pruning"
    # The defaults were created before anything was deleted: never less restricted.
    assert await kube.policy_names(admin, ns) == {"legacy", *DEFAULTS}

    async with running_controller(admin):

        async def converged() -> bool:
            # The phase is the pass's last write: stopping the controller as soon as the
            # policies look right could cut it off before recording the opt-in.
            found = await kube.backup(admin, ns, NETFENCE_NS)
            phase = (found.metadata.annotations or {}) if found and found.metadata else {}
            return (
                await kube.policy_names(admin, ns) == DEFAULTS
                and phase.get(naming.PHASE_ANNOTATION) == "adopted"
            )

        await kube.eventually(converged)
    backup = await kube.backup(admin, ns, NETFENCE_NS)
    assert backup is not None
    assert backup.metadata is not None
    assert (backup.metadata.annotations or {})[naming.PHASE_ANNOTATION] == "adopted"
    assert set(backup.data or {}) == {"legacy.yaml"}


async def test_a_crash_between_backup_and_create_keeps_the_old_policy_then_converges(
    admin: AsyncClient,
) -> None:
    ns = await _crash_during_opt_in(admin, "apply")
    # Backed up, nothing created yet, so nothing deleted either: the old policy still holds.
    assert await kube.policy_names(admin, ns) == {"legacy"}
    backup = await kube.backup(admin, ns, NETFENCE_NS)
    assert backup is not None
    assert "legacy.yaml" in (backup.data or {})

    async with running_controller(admin):

        async def converged() -> bool:
            return await kube.policy_names(admin, ns) == DEFAULTS

        await kube.eventually(converged)
    backup = await kube.backup(admin, ns, NETFENCE_NS)
    assert backup is not None
    assert set(backup.data or {}) == {"legacy.yaml"}


async def test_a_restart_of_a_converged_cluster_writes_nothing(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("restart"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
    async with running_controller(admin):
        await kube.wait_for_policy(admin, ns, "deploy-web-http")
        await asyncio.sleep(0.5)
    before = {
        p.metadata.name: p.metadata.resourceVersion
        async for p in admin.list(NetworkPolicy, namespace=ns)
        if p.metadata
    }
    async with running_controller(admin) as controller:
        await kube.eventually(lambda: _idle(controller.queue.idle()))
        await asyncio.sleep(0.5)
    after = {
        p.metadata.name: p.metadata.resourceVersion
        async for p in admin.list(NetworkPolicy, namespace=ns)
        if p.metadata
    }
    assert after == before


async def _idle(value: bool) -> bool:
    return value


async def test_two_replicas_elect_one_leader_and_hand_over(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("ha"), managed=True)
    # A Lease of 6 s: a busy machine (a build beside the tests) can delay one renewal of a
    # 3 s Lease past the 80% the elector trusts by its own clock.
    async with running_controller(admin, lease_seconds=6) as first:
        second_task = asyncio.create_task(_second_replica(admin, ns, first))
        await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
        await kube.wait_for_policy(admin, ns, "deploy-web-http")
        second = await asyncio.wait_for(second_task, timeout=30)
    assert second == "took over"


async def _second_replica(admin: AsyncClient, ns: str, first: object) -> str:
    from netfence.controller.running import Controller, ControllerSettings

    assert isinstance(first, Controller)
    replica = Controller(
        admin,
        ControllerSettings(netfence_namespace=NETFENCE_NS, renew_seconds=1.0, lease_seconds=6),
    )
    task = asyncio.create_task(replica.run())
    try:
        await asyncio.sleep(3)
        # While the first replica leads, the second one keeps warm caches but never leads.
        assert first.elector.is_leader()
        assert not replica.elector.leading.is_set()
        assert replica.cache.namespaces.synced.is_set()
        # Take the first one down the way a crashed pod goes: it stops renewing.
        first.elector._renew_seconds = 3600.0
        first.elector.leading.clear()
        await asyncio.wait_for(replica.elector.leading.wait(), timeout=15)
        await admin.patch(
            Deployment,
            "web",
            {"metadata": {"labels": {naming.template_label_key("https"): "true"}}},
            namespace=ns,
        )
        await kube.wait_for_policy(admin, ns, "deploy-web-https")
        return "took over"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
