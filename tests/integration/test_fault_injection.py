"""Kill or pause the leading controller at random points of an opt-in, an attach and a
restore, many times, and check with a watch (every intermediate state, not only the end)
that a namespace never held fewer restrictions than before and that no policy was lost.

Restrictions, as a person reading the namespace would judge them:
- during an opt-in, at every moment either every old policy is there or both defaults are;
- once managed, the defaults never go away while it stays managed;
- after `disable --restore`, every backed-up policy is back, identical.
The figures (runs, kills, pauses, losses) are printed and recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import Iterator

import pytest
from lightkube import AsyncClient
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.composition import cluster_for
from netfence.core import naming
from netfence.localcluster import ControlPlane
from netfence.usecases import namespaces
from tests.integration import kube
from tests.integration.netfence_fixtures import NETFENCE_NS
from tests.integration.test_failsafe import (
    DEFAULTS,
    Replica,
    Replicas,
    _watch_names,
    holder,
)

RUNS = int(os.environ.get("NETFENCE_FAULT_RUNS", "6"))
LEGACY = 15

pytestmark = pytest.mark.timeout(60 + RUNS * 45)


@pytest.fixture
def pool(control_plane: ControlPlane, admin: AsyncClient) -> Iterator[Replicas]:
    found = Replicas(control_plane)
    try:
        yield found
    finally:
        found.stop_all()


class Chaos:
    """Keeps two live replicas and strikes the leader: kill -9, or a pause long enough for
    the other to take over (resumed later)."""

    def __init__(self, admin: AsyncClient, pool: Replicas, rng: random.Random) -> None:
        self.admin, self.pool, self.rng = admin, pool, rng
        self.kills = self.pauses = 0
        self.paused: list[Replica] = []
        self.serial = 0

    def live(self) -> list[Replica]:
        return [r for r in self.pool.started if r.process.poll() is None and r not in self.paused]

    def top_up(self) -> None:
        while len(self.live()) < 2:
            self.serial += 1
            self.pool.start(f"chaos{self.serial}")

    async def strike(self, delay: float) -> None:
        await asyncio.sleep(delay)
        name = await holder(self.admin)
        leader = next(
            (r for r in self.live() if name and r.log.name == f"failsafe-{name[9:]}.log"), None
        )
        if leader is None:
            return
        if self.rng.random() < 0.5:
            leader.process.send_signal(signal.SIGKILL)
            await asyncio.to_thread(leader.process.wait, 10)
            self.kills += 1
        else:
            leader.process.send_signal(signal.SIGSTOP)
            self.paused.append(leader)
            self.pauses += 1
        self.top_up()

    def resume_paused(self) -> None:
        for replica in self.paused:
            replica.process.send_signal(signal.SIGCONT)
        self.paused.clear()


def _held_before_or_after(names: set[str], legacy: set[str]) -> bool:
    return legacy <= names or names >= DEFAULTS


async def test_random_kills_and_pauses_never_open_a_namespace_nor_lose_a_policy(
    admin: AsyncClient, pool: Replicas
) -> None:
    rng = random.Random(int(os.environ.get("NETFENCE_FAULT_SEED", "1")))  # noqa: S311
    chaos = Chaos(admin, pool, rng)
    chaos.top_up()
    cluster = cluster_for(admin, netfence_namespace=NETFENCE_NS)
    violations: list[str] = []
    lost = 0
    for run in range(RUNS):
        ns = await kube.create_namespace(admin, kube.unique(f"chaos{run}"))
        legacy = {f"legacy-{i:02}" for i in range(LEGACY)}
        for name in sorted(legacy):
            await kube.create(admin, kube.foreign_policy(ns, name))
        before = {
            p.metadata.name: p.spec.to_dict()
            async for p in admin.list(NetworkPolicy, namespace=ns)
            if p.metadata and p.spec
        }
        seen: list[set[str]] = []
        watching = asyncio.create_task(_watch_names(admin, ns, seen))
        await asyncio.sleep(0.2)  # the watch has its first list

        # Opt in, struck at a random moment.
        await kube.set_namespace_label(admin, ns, "true")
        await chaos.strike(rng.uniform(0.0, 0.6))

        async def adopted(ns: str = ns, legacy: set[str] = legacy) -> bool:
            names = await kube.policy_names(admin, ns)
            return names >= DEFAULTS and not names & legacy

        await kube.eventually(adopted, timeout=40)
        opted = len(seen)
        # The watch starts with one ADDED event per existing policy: judge from the moment
        # it has shown them all.
        start = next(i for i, names in enumerate(seen) if legacy <= names)
        violations += [
            f"run {run} opt-in: {sorted(n)}"
            for n in seen[start:opted]
            if not _held_before_or_after(n, legacy)
        ]

        # Attach, struck: the defaults hold throughout.
        await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
        await chaos.strike(rng.uniform(0.0, 0.4))
        await kube.wait_for_policy(
            admin, ns, naming.attachment_policy_name("Deployment", "web", "http"), timeout=40
        )
        violations += [f"run {run} attach: {sorted(n)}" for n in seen[opted:] if not n >= DEFAULTS]
        chaos.resume_paused()

        # Opt out and restore, struck while the controller removes its policies.
        striking = asyncio.create_task(chaos.strike(rng.uniform(0.0, 0.3)))
        result = await namespaces.disable(cluster, ns, restore=True, wait=40)
        await striking
        watching.cancel()
        after = {
            p.metadata.name: p.spec.to_dict()
            async for p in admin.list(NetworkPolicy, namespace=ns)
            if p.metadata and p.spec
        }
        missing = [name for name in before if after.get(name) != before[name]]
        lost += len(missing)
        assert result.remaining == (), result
        chaos.resume_paused()
    print(  # noqa: T201 - the figures of this run, for docs/benchmarks.md
        f"\nfault injection: {RUNS} runs x {LEGACY} policies, {chaos.kills} kill -9, "
        f"{chaos.pauses} SIGSTOP; {len(violations)} moments less restricted, {lost} "
        "policies lost"
    )
    assert violations == []
    assert lost == 0
