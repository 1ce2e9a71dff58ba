"""What the reconcile use case tells the metrics recorder (the `ReconcileRecorder` port)."""

from __future__ import annotations

from netfence.core import errors, naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import JsonDict, Workload, WorkloadKind
from netfence.usecases import reconciling
from tests.usecases.fakes import FakeCluster

NETFENCE_NS = "netfence-system"


class Recorder:
    """An honest fake of the port: it keeps what it was told, in order."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, str]] = []
        self.refusals: list[str] = []

    def wrote(self, verb: str, resource: str, result: str) -> None:
        self.writes.append((verb, resource, result))

    def refused(self, reason: str) -> None:
        self.refusals.append(reason)


def _managed(
    templates: dict[str, str] | None = None,
) -> tuple[FakeCluster, Recorder, reconciling.Reconciler]:
    fake = FakeCluster()
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
    recorder = Recorder()
    reconciler = reconciling.Reconciler(
        fake, fake, fake, netfence_namespace=NETFENCE_NS, recorder=recorder
    )
    return fake, recorder, reconciler


async def test_every_write_of_an_opt_in_is_counted_by_verb_resource_and_result() -> None:
    _, recorder, reconciler = _managed()
    assert await reconciler.reconcile("team-a")
    assert sorted(recorder.writes) == sorted(
        [
            ("apply", "configmaps", "success"),  # backup, phase pruning
            ("create", "networkpolicies", "success"),  # deny-all-ingress
            ("create", "networkpolicies", "success"),  # allow-namespace-communication
            ("create", "networkpolicies", "success"),  # deploy-web-http
            ("apply", "configmaps", "success"),  # backup, phase adopted
        ]
    )
    # A converged namespace writes nothing, so counts nothing.
    recorder.writes.clear()
    assert await reconciler.reconcile("team-a")
    assert recorder.writes == []


async def test_a_refused_and_a_conflicting_write_are_counted_as_such() -> None:
    fake, recorder, reconciler = _managed()

    async def refuse(manifest: JsonDict) -> None:
        if manifest["metadata"]["name"] == "deploy-web-http":
            raise errors.Conflict("someone took the name")
        raise errors.Rejected("admission webhook denied it")

    fake.create = refuse  # type: ignore[method-assign]
    assert not await reconciler.reconcile("team-a")
    creates = [w for w in recorder.writes if w[0] == "create"]
    assert sorted(creates) == [
        ("create", "networkpolicies", "conflict"),
        ("create", "networkpolicies", "refused"),
        ("create", "networkpolicies", "refused"),
    ]


async def test_a_refusal_is_counted_once_like_its_event() -> None:
    _, recorder, reconciler = _managed(templates={})  # the attached template is unknown
    for _ in range(3):
        await reconciler.reconcile("team-a")
    assert recorder.refusals == ["UnknownTemplate"]
