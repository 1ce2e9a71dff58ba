"""Executing a plan through the ports: the order that keeps every change safe."""

from __future__ import annotations

from netfence import services
from netfence.core import naming
from netfence.core.objects import JsonDict, Namespace, Phase, Policy
from netfence.core.planning import NamespaceState, Notice, Plan, WriteBackup, plan_namespace
from netfence.core.templates import parse_catalog


class FakeCluster:
    """An honest fake of the PolicyWriter and NoticeBoard ports: a dict of policies."""

    def __init__(self, *, failing: set[str] | None = None) -> None:
        self.policies: dict[str, JsonDict] = {}
        self.backups: list[WriteBackup] = []
        self.events: list[Notice] = []
        self.failing = failing or set()

    def _maybe_fail(self, what: str) -> None:
        if what in self.failing:
            raise RuntimeError(f"the API server refused {what}")

    async def write_backup(self, step: WriteBackup) -> None:
        self._maybe_fail(f"backup:{step.phase.value}")
        self.backups.append(step)

    async def delete_policy(self, namespace: str, name: str) -> None:
        self._maybe_fail(f"delete:{name}")
        self.policies.pop(name, None)

    async def apply_policy(self, manifest: JsonDict) -> None:
        self._maybe_fail(f"apply:{manifest['metadata']['name']}")
        self.policies[manifest["metadata"]["name"]] = manifest

    async def publish(self, notice: Notice) -> None:
        self.events.append(notice)


MANAGED = Namespace("team-a", {naming.MANAGED_NAMESPACE_LABEL: "true"})
OLD = Policy("team-a", "old", {}, {}, {"podSelector": {}})


def opt_in_plan() -> Plan:
    state = NamespaceState("team-a", MANAGED, policies=[OLD])
    return plan_namespace(state, parse_catalog({}), netfence_namespace="netfence-system")


async def test_a_failed_backup_write_deletes_nothing() -> None:
    cluster = FakeCluster(failing={"backup:pruning"})
    cluster.policies["old"] = OLD.manifest()
    outcome = await services.execute(opt_in_plan(), writer=cluster, board=cluster)
    assert "old" in cluster.policies
    assert cluster.policies.keys() == {"old"}
    assert not outcome.ok
    assert [step.describe() for step, _ in outcome.failures] == [
        "record backup of team-a (pruning): old"
    ]


async def test_a_failed_create_still_runs_the_rest_but_does_not_record_the_opt_in() -> None:
    cluster = FakeCluster(failing={"apply:deny-all-ingress"})
    cluster.policies["old"] = OLD.manifest()
    outcome = await services.execute(opt_in_plan(), writer=cluster, board=cluster)
    assert set(cluster.policies) == {"allow-namespace-communication"}
    assert [b.phase for b in cluster.backups] == [Phase.PRUNING]
    assert not outcome.ok
    assert len(outcome.skipped) == 1


async def test_a_clean_run_posts_an_event_per_action() -> None:
    cluster = FakeCluster()
    cluster.policies["old"] = OLD.manifest()
    outcome = await services.execute(opt_in_plan(), writer=cluster, board=cluster)
    assert outcome.ok
    assert [b.phase for b in cluster.backups] == [Phase.PRUNING, Phase.ADOPTED]
    assert [e.reason for e in cluster.events] == [
        "PoliciesBackedUp",
        "PolicyDeleted",
        "PolicyCreated",
        "PolicyCreated",
        "NamespaceManaged",
    ]
