"""Executing a plan through the ports: the order that keeps every change safe."""

from __future__ import annotations

from netfence.core import naming
from netfence.core.objects import JsonDict, Namespace, Phase, Policy
from netfence.core.planning import NamespaceState, Notice, Plan, WriteBackup, plan_namespace
from netfence.core.templates import parse_catalog
from netfence.usecases import reconciling


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

    async def delete(
        self, namespace: str, name: str, *, uid: str | None, resource_version: str | None
    ) -> None:
        self._maybe_fail(f"delete:{name}")
        self.policies.pop(name, None)

    async def create(self, manifest: JsonDict) -> None:
        self._maybe_fail(f"apply:{manifest['metadata']['name']}")
        self.policies[manifest["metadata"]["name"]] = manifest

    async def update(
        self, manifest: JsonDict, *, resource_version: str | None, takeover: bool = False
    ) -> None:
        await self.create(manifest)

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
    outcome = await reconciling.execute(opt_in_plan(), writer=cluster, board=cluster)
    assert "old" in cluster.policies
    assert cluster.policies.keys() == {"old"}
    assert not outcome.ok
    assert [step.describe() for step, _ in outcome.failures] == [
        "record backup of team-a (pruning): old"
    ]


async def test_a_refused_create_keeps_the_old_policies_and_does_not_record_the_opt_in() -> None:
    cluster = FakeCluster(failing={"apply:deny-all-ingress"})
    cluster.policies["old"] = OLD.manifest()
    outcome = await reconciling.execute(opt_in_plan(), writer=cluster, board=cluster)
    # Never less restricted than before: the old policy stays until its replacement exists.
    assert set(cluster.policies) == {"old", "allow-namespace-communication"}
    assert [b.phase for b in cluster.backups] == [Phase.PRUNING]
    assert not outcome.ok
    assert [s.describe() for s in outcome.skipped] == [
        "delete NetworkPolicy team-a/old",
        "record backup of team-a (adopted): old",
    ]


async def test_a_replica_that_lost_the_lease_writes_nothing_more() -> None:
    cluster = FakeCluster()
    cluster.policies["old"] = OLD.manifest()
    calls = iter([True, True])  # leading for the first two steps, then not

    outcome = await reconciling.execute(
        opt_in_plan(), writer=cluster, board=cluster, leading=lambda: next(calls, False)
    )
    assert outcome.fenced
    assert not outcome.ok
    assert len(outcome.done) == 2
    assert "old" in cluster.policies  # the delete came after the Lease was gone
    assert [b.phase for b in cluster.backups] == [Phase.PRUNING]


async def test_a_clean_run_posts_an_event_per_action() -> None:
    cluster = FakeCluster()
    cluster.policies["old"] = OLD.manifest()
    outcome = await reconciling.execute(opt_in_plan(), writer=cluster, board=cluster)
    assert outcome.ok
    assert [b.phase for b in cluster.backups] == [Phase.PRUNING, Phase.ADOPTED]
    assert [e.reason for e in cluster.events] == [
        "PoliciesBackedUp",
        "PolicyCreated",
        "PolicyCreated",
        "PolicyDeleted",
        "NamespaceManaged",
    ]


# --- the Reconciler: memory between passes ----------------------------------------------

from netfence.core.default_templates import DEFAULT_TEMPLATES  # noqa: E402
from netfence.core.objects import Workload, WorkloadKind  # noqa: E402
from tests.usecases.fakes import NETFENCE_NS  # noqa: E402
from tests.usecases.fakes import FakeCluster as FakePorts  # noqa: E402


def _managed(
    *, templates: dict[str, str] | None = None
) -> tuple[FakePorts, reconciling.Reconciler]:
    fake = FakePorts()
    fake.add_namespace("team-a", managed=True)
    fake.add_workload(
        Workload(
            "team-a",
            WorkloadKind.DEPLOYMENT,
            "web",
            labels={naming.template_label_key("http"): "true"},
            pod_selector={"matchLabels": {"app": "web"}},
            pod_labels={"app": "web"},
        )
    )
    fake.set_catalog(templates if templates is not None else DEFAULT_TEMPLATES)
    return fake, reconciling.Reconciler(fake, fake, fake, netfence_namespace=NETFENCE_NS)


async def test_a_deleted_attachment_comes_back_from_its_snapshot_not_todays_template() -> None:
    fake, reconciler = _managed()
    assert await reconciler.reconcile("team-a")
    made = fake.policies[("team-a", "deploy-web-http")]
    # The template changes, then someone deletes the policy behind netfence's back.
    fake.set_catalog({**DEFAULT_TEMPLATES, "http": "ingress:\n- ports:\n  - port: 8081\n"})
    del fake.policies[("team-a", "deploy-web-http")]
    assert await reconciler.reconcile("team-a")
    assert fake.policies[("team-a", "deploy-web-http")].spec == made.spec


async def test_a_refusal_is_reported_once_however_many_passes_see_it() -> None:
    fake, reconciler = _managed(templates={})  # the attached template is unknown
    for _ in range(3):
        await reconciler.reconcile("team-a")
    unknown = [n for n in fake.notices if n.reason == "UnknownTemplate"]
    assert len(unknown) == 1, [n.reason for n in fake.notices]


async def test_a_failed_step_is_reported_with_its_cause_once_and_the_pass_is_not_ok() -> None:
    fake, reconciler = _managed()

    async def refuse(manifest: JsonDict) -> None:
        raise RuntimeError("admission webhook denied it")

    # (the fake's create is replaced: every create is refused)

    fake.create = refuse  # type: ignore[method-assign]
    assert not await reconciler.reconcile("team-a")
    assert not await reconciler.reconcile("team-a")
    failed = [n for n in fake.notices if n.reason == "ReconcileFailed"]
    assert len(failed) == 3  # one per refused policy, not one per pass
    assert all("admission webhook denied it" in n.message for n in failed)


async def test_a_namespace_that_went_away_forgets_what_was_remembered() -> None:
    fake, reconciler = _managed()
    await reconciler.reconcile("team-a")
    assert reconciler.remembered("team-a")
    del fake.namespace_objects["team-a"]
    fake.policies.clear()
    await reconciler.reconcile("team-a")
    assert reconciler.remembered("team-a") == {}


async def test_a_broken_template_is_reported_once_until_it_changes() -> None:
    fake, reconciler = _managed()
    broken = parse_catalog({"bad": "ingress:\n- ports:\n  - port: 0\n"})
    await reconciler.report_catalog(broken)
    await reconciler.report_catalog(broken)
    assert [n.reason for n in fake.notices] == ["InvalidTemplate"]
    await reconciler.report_catalog(parse_catalog({}))
    await reconciler.report_catalog(broken)
    assert [n.reason for n in fake.notices] == ["InvalidTemplate", "InvalidTemplate"]


async def test_an_object_rewritten_too_often_is_left_alone_with_one_warning() -> None:
    now = [0.0]
    guard = reconciling.RewriteGuard(limit=3, window=60, clock=lambda: now[0])
    fake, _ = _managed()
    reconciler = reconciling.Reconciler(
        fake, fake, fake, netfence_namespace=NETFENCE_NS, rewrites=guard
    )
    # Something else deletes the attachment policy as soon as netfence makes it.
    for _ in range(6):
        await reconciler.reconcile("team-a")
        fake.policies.pop(("team-a", "deploy-web-http"), None)
        now[0] += 1
    assert [n.reason for n in fake.notices].count("RewriteLoop") == 1
    created = [n for n in fake.notices if n.reason == "TemplateApplied"]
    assert len(created) == 3
    # The rest of the namespace is still served: its defaults exist.
    assert ("team-a", naming.DENY_ALL_INGRESS) in fake.policies
    # Once the writes age out of the window, it is managed again.
    now[0] += 120
    await reconciler.reconcile("team-a")
    assert ("team-a", "deploy-web-http") in fake.policies
