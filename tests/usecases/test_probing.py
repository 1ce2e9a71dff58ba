"""`netfence probe` over a fake prober: what is probed, how it is compared, what is said."""

from __future__ import annotations

from typing import Any

import pytest

from netfence.core import errors
from netfence.usecases import probing
from tests.core.clusters import namespace, pod, policies
from tests.usecases.fakes import FakeCluster, FakeProber
from tests.usecases.test_connectivity import inventory

IPS = {"shop/web": "10.0.0.1", "shop/db": "10.0.0.2", "other/client": "10.0.1.1"}


def running(
    ref: str, labels: dict[str, str], ports: list[dict[str, Any]], ip: str | None = None
) -> dict[str, Any]:
    return pod(ref, labels, ip=ip or IPS[ref], ports=ports)


CLUSTER = inventory(
    namespace("shop"),
    namespace("other"),
    running("shop/web", {"app": "web"}, [{"containerPort": 8080, "name": "http"}]),
    running(
        "shop/db",
        {"app": "db"},
        [{"containerPort": 5432}, {"containerPort": 9187, "protocol": "UDP"}],
    ),
    running("other/client", {"app": "client"}, []),
    pod("shop/pending", {"app": "web"}, ports=[{"containerPort": 8080}]),  # no IP yet
    policies("""
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
    ports: [{port: 5432}]
"""),
)
BY_ADDRESS = {ip: key for key, ip in IPS.items()}


def as_predicted(source: str, address: str, port: int, protocol: str) -> bool:
    """The wire as the policies say: only web (and db itself) reach db."""
    destination = BY_ADDRESS[address]
    if destination != "shop/db":
        return True
    return source == "shop/db" or (source == "shop/web" and port == 5432)


async def test_every_pod_probes_every_declared_port_and_agreements_are_counted() -> None:
    prober = FakeProber(as_predicted, answers={ip: key for key, ip in IPS.items()})
    report = await probing.run(CLUSTER, prober, probing.Scope(), timeout=0.5)
    probed = sorted(
        (r.case.source.key, r.case.destination.key, r.case.port) for r in report.results
    )
    # 3 running sources x (web 8080 + db 5432 + db 9187/UDP); the client declares nothing.
    assert len(probed) == 9
    assert ("other/client", "shop/db", 9187) in probed
    assert report.disagreements == ()
    assert report.outcomes() == {"connected": 6, "refused": 0, "dropped": 3, "unreachable": 0}
    assert [(n.endpoint, n.reason) for n in report.not_probed] == [
        ("shop/pending", "has no IP yet (not running)")
    ]
    assert {c[4] for c in prober.calls} == {0.5}
    document = probing.as_json(report)
    assert document["summary"] == {
        "probed": 9, "agree": 9, "disagree": 0, "connected": 6, "refused": 0, "dropped": 3,
        "unreachable": 0, "connectionsPerSecond": document["summary"]["connectionsPerSecond"],
    }  # fmt: skip


async def test_a_disagreement_carries_the_evaluators_explanation() -> None:
    def sidecar_gap(source: str, address: str, port: int, protocol: str) -> bool:
        # The wire drops web -> db on 5432, which the policy opens.
        if (source, BY_ADDRESS[address], port) == ("shop/web", "shop/db", 5432):
            return False
        return as_predicted(source, address, port, protocol)

    prober = FakeProber(sidecar_gap)
    report = await probing.run(CLUSTER, prober, probing.Scope(), timeout=0.2, retries=2)
    [wrong] = report.disagreements
    assert (wrong.case.source.key, wrong.case.destination.key, wrong.case.port) == (
        "shop/web",
        "shop/db",
        5432,
    )
    assert wrong.case.predicted and wrong.observed.outcome == "dropped"
    assert wrong.attempts == 3  # tried again twice: a dropped packet may be a lost verdict
    assert wrong.explanation is not None
    assert wrong.explanation.headline() == "shop/web → shop/db on 5432/TCP: allowed"
    assert any("allowed by shop/db ingress[0]" in line for line in wrong.explanation.reasons())
    retried = [c for c in prober.calls if c[:3] == ("shop/web", "10.0.0.2", 5432)]
    assert [c[4] for c in retried] == [0.2, probing.RETRY_TIMEOUT, probing.RETRY_TIMEOUT]
    result = probing.as_json(report)["results"]
    [entry] = [r for r in result if not r["agrees"]]
    assert entry["predicted"] == "allowed" and entry["observed"] == "dropped"
    assert entry["explanation"]["allowed"] is True


async def test_a_lost_packet_looked_at_again_is_no_disagreement() -> None:
    lossy = [("shop/web", "10.0.0.2", 5432, "TCP")]
    prober = FakeProber(as_predicted, lossy=lossy)
    report = await probing.run(CLUSTER, prober, probing.Scope())
    assert report.disagreements == ()
    [looked] = [r for r in report.results if r.attempts > 1]
    assert looked.observed.outcome == "connected" and looked.attempts == 2


async def test_let_through_against_a_denying_prediction_is_proof_at_once() -> None:
    prober = FakeProber(lambda *_: True)  # no enforcement at all
    report = await probing.run(CLUSTER, prober, probing.Scope(), retries=2)
    assert {(r.case.source.key, r.case.port) for r in report.disagreements} == {
        ("other/client", 5432),
        ("other/client", 9187),
        ("shop/web", 9187),
    }
    assert all(r.attempts == 1 for r in report.results)


async def test_refused_is_allowed_with_nothing_listening() -> None:
    prober = FakeProber(as_predicted, listening=[("10.0.0.1", 8080, "TCP")])
    report = await probing.run(CLUSTER, prober, probing.Scope())
    assert report.disagreements == ()
    assert report.outcomes()["refused"] == 3  # what reaches db, whose ports nothing serves


async def test_parallel_bounds_the_connections_in_flight() -> None:
    prober = FakeProber(as_predicted)
    await probing.run(CLUSTER, prober, probing.Scope(), parallel=2)
    assert prober.most_in_flight == 2


async def test_scope_narrows_to_namespaces_and_to_one_port_by_number_or_name() -> None:
    prober = FakeProber(as_predicted)
    shop = await probing.run(CLUSTER, prober, probing.Scope(namespaces=("shop",)))
    assert {r.case.source.namespace for r in shop.results} == {"shop"}
    by_name = await probing.run(CLUSTER, prober, probing.Scope(port="http"))
    assert {(r.case.destination.key, r.case.port) for r in by_name.results} == {("shop/web", 8080)}
    by_number = await probing.run(CLUSTER, prober, probing.Scope(port="9187"))
    assert {r.case.protocol for r in by_number.results} == {"UDP"}


async def test_a_pod_the_prober_cannot_reach_is_named_not_probed() -> None:
    prober = FakeProber(as_predicted, elsewhere=["other/client"])
    report = await probing.run(CLUSTER, prober, probing.Scope())
    assert {r.case.source.key for r in report.results} == {"shop/web", "shop/db"}
    assert [n.endpoint for n in report.not_probed] == ["shop/pending", "other/client"]
    assert "runs on no node" in report.not_probed[1].reason


async def test_with_workloads_one_pod_stands_for_its_controller() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
            },
        },
    }
    cluster = inventory(
        namespace("shop"),
        deployment,
        running("shop/web", {"app": "web"}, [{"containerPort": 8080}]),
        running("shop/web-2", {"app": "web"}, [{"containerPort": 8080}], ip="10.0.0.3"),
        running("shop/db", {"app": "db"}, [{"containerPort": 5432}]),
    )
    prober = FakeProber(lambda *_: True)
    report = await probing.run(cluster, prober, probing.Scope(workloads=True))
    units = {(r.case.source_unit, r.case.destination_unit) for r in report.results}
    assert ("shop/Deployment/web", "shop/db") in units
    assert {r.case.source.key for r in report.results} == {"shop/web", "shop/db"}


async def test_without_a_prober_probing_is_said_to_be_unavailable() -> None:
    with pytest.raises(errors.Unavailable, match="only the local cluster"):
        await probing.probe(FakeCluster().ports(), probing.Scope())


async def test_nonsense_numbers_are_refused_with_the_range() -> None:
    with pytest.raises(ValueError, match="timeout 0s is out of range"):
        await probing.run(CLUSTER, FakeProber(as_predicted), probing.Scope(), timeout=0)
    with pytest.raises(ValueError, match="parallel 0 is out of range"):
        await probing.run(CLUSTER, FakeProber(as_predicted), probing.Scope(), parallel=0)


async def test_a_namespace_that_does_not_exist_is_named() -> None:
    with pytest.raises(errors.NotFound, match="namespace nope does not exist"):
        await probing.run(CLUSTER, FakeProber(as_predicted), probing.Scope(namespaces=("nope",)))
