"""The connectivity graph: few edges that say exactly what the matrix says."""

from __future__ import annotations

import pytest

from netfence.core import bitsets, manifests, naming
from netfence.core.endpoints import PortKey
from netfence.core.evaluation import graphs, matrices
from netfence.core.evaluation.evaluators import Evaluator
from tests.core import random_clusters
from tests.core.clusters import deployment, namespace, policies

BASELINE = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: NS}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-namespace-communication, namespace: NS}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
"""

METRICS_FROM_MONITORING = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: metrics-from-monitoring, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]
    ports: [{port: 8443}]
"""


def _evaluator(*documents: object) -> Evaluator:
    flat: list[object] = []
    for d in documents:
        flat.extend(d if isinstance(d, list) else [d])
    found = manifests.read((f"doc{i}", d) for i, d in enumerate(flat))
    return Evaluator(namespaces=found.namespaces, endpoints=found.units(), policies=found.policies)


def _shop() -> Evaluator:
    return _evaluator(
        namespace("shop", **{naming.MANAGED_NAMESPACE_LABEL: "true"}),
        namespace("monitoring"),
        namespace("web"),
        deployment("shop/api", "api", 8443),
        deployment("shop/db", "db", 5432),
        deployment("shop/worker", "worker", 9000),
        deployment("monitoring/prometheus", "prometheus", 9090),
        deployment("monitoring/grafana", "grafana", 3000),
        deployment("web/front", "front", 8080),
        policies(BASELINE.replace("NS", "shop")),
        policies(METRICS_FROM_MONITORING),
    )


def _graph(evaluator: Evaluator, **options: object) -> graphs.Graph:
    return graphs.build(evaluator, matrices.compute(evaluator), **options)  # type: ignore[arg-type]


def _edges(graph: graphs.Graph, *, allowed: bool = True) -> dict[tuple[str, str], list[PortKey]]:
    return {(e.source, e.destination): list(e.ports) for e in graph.edges if e.allowed == allowed}


def _but(graph: graphs.Graph, source: str, destination: str) -> tuple[str, ...]:
    """The exceptions of the allowed edge from `source` to `destination`."""
    (edge,) = [
        e for e in graph.edges if e.allowed and (e.source, e.destination) == (source, destination)
    ]
    return edge.excepted


def test_a_namespace_open_to_itself_is_one_edge_per_destination_from_its_group() -> None:
    graph = _graph(_shop(), namespaces=["shop"])
    edges = _edges(graph)
    assert edges[("shop/*", "shop/Deployment/db")] == [(5432, "TCP")]
    assert edges[("shop/*", "shop/Deployment/worker")] == [(9000, "TCP")]
    assert _but(graph, "shop/*", "shop/Deployment/db") == ()
    # Not nine edges between three workloads: no single workload of shop is a source.
    assert not [s for s, d in edges if d.startswith("shop/") and not s.endswith("*")]


def _four_namespaces() -> Evaluator:
    """Four namespaces of two; shop's api open to everyone but the tools namespace, and
    shop's db to its own namespace alone (the baseline)."""
    not_tools = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: api-not-from-tools, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [tools]}]
"""
    return _evaluator(
        *(namespace(ns) for ns in ("shop", "monitoring", "web", "tools")),
        deployment("shop/api", "api", 8443),
        deployment("shop/db", "db", 5432),
        *(
            deployment(f"{ns}/{name}", name, 80)
            for ns in ("monitoring", "web", "tools")
            for name in ("a", "b")
        ),
        policies(
            BASELINE.replace("NS", "shop").replace(
                "podSelector: {}\n  ingress", "podSelector: {matchLabels: {app: db}}\n  ingress"
            )
        ),
        policies(not_tools),
    )


def test_most_of_the_cluster_with_a_few_exceptions_is_one_edge() -> None:
    graph = _graph(_four_namespaces(), namespaces=["shop"], denied=True)
    assert _edges(graph)[("*", "shop/Deployment/api")] == [(8443, "TCP")]
    assert _but(graph, "*", "shop/Deployment/api") == ("tools/*",)
    edge = next(e for e in graph.edges if e.source == "*" and e.allowed)
    assert edge.example == "monitoring/Deployment/a"
    # The baseline, denied: every workload but those of shop may not reach db.
    (into_db,) = [e for e in graph.edges if not e.allowed and e.destination == "shop/Deployment/db"]
    assert (into_db.source, into_db.excepted) == ("*", ("shop/*",))
    # The groups of exceptions are drawn as well, to be clicked.
    assert [g.id for g in graph.groups] == ["*", "shop/*", "tools/*"]


def test_a_namespace_but_one_workload_is_its_group_with_an_exception() -> None:
    only_api = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api-and-worker, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [db]}]}}]}]
"""
    evaluator = _evaluator(
        namespace("shop"),
        deployment("shop/api", "api", 8443),
        deployment("shop/db", "db", 5432),
        deployment("shop/worker", "worker", 9000),
        deployment("shop/cron", "cron", 7000),
        policies(only_api),
    )
    graph = _graph(evaluator)
    assert _but(graph, "shop/*", "shop/Deployment/db") == ("shop/Deployment/db",)


def test_a_rule_for_another_namespace_draws_its_group_as_a_neighbour() -> None:
    graph = _graph(_shop(), namespaces=["shop"], port=9000, protocol="TCP")
    assert _edges(graph) == {("shop/*", "shop/Deployment/worker"): [(9000, "TCP")]}
    monitoring_rule = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: worker-from-monitoring, namespace: shop}
spec:
  podSelector: {matchLabels: {app: worker}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]}]
"""
    evaluator = _evaluator(
        namespace("shop"),
        namespace("monitoring"),
        namespace("web"),
        deployment("shop/worker", "worker", 9000),
        deployment("monitoring/prometheus", "prometheus", 9090),
        deployment("monitoring/grafana", "grafana", 3000),
        deployment("web/front", "front", 8080),
        deployment("web/back", "back", 8081),
        policies(monitoring_rule),
    )
    graph = _graph(evaluator, namespaces=["shop"])
    assert _edges(graph) == {("monitoring/*", "shop/Deployment/worker"): [(9000, "TCP")]}
    (monitoring,) = graph.groups
    assert (monitoring.id, monitoring.namespace, monitoring.size) == (
        "monitoring/*",
        "monitoring",
        2,
    )
    assert monitoring.example == "monitoring/Deployment/grafana"
    # Only shop's workloads are nodes of the graph: monitoring is there as its group.
    assert [n.endpoint.key for n in graph.nodes] == ["shop/Deployment/worker"]
    assert graph.namespaces == ("shop",)


def test_a_destination_no_policy_isolates_is_reached_by_everyone_and_not_marked() -> None:
    graph = _graph(_shop(), namespaces=["web"])
    assert _edges(graph) == {("*", "web/Deployment/front"): [(8080, "TCP")]}
    assert _but(graph, "*", "web/Deployment/front") == ()
    (front,) = graph.nodes
    assert front.ingress_policies == ()
    assert front.egress_policies == ()
    assert [g.id for g in graph.groups] == ["*"]


def test_isolated_workloads_carry_the_policies_isolating_them() -> None:
    graph = _graph(_shop(), namespaces=["shop"])
    api = next(n for n in graph.nodes if n.endpoint.name == "api")
    assert api.ingress_policies == (
        "shop/allow-namespace-communication",
        "shop/deny-all-ingress",
        "shop/metrics-from-monitoring",
    )
    assert api.egress_policies == ()


def test_an_allowed_edge_out_of_the_shown_namespaces_brings_its_destination_along() -> None:
    # shop's api takes 8443 from shop and from monitoring: drawn in monitoring's view,
    # with api; db takes 5432 from shop alone, and front from everyone: neither is.
    graph = _graph(_shop(), namespaces=["monitoring"])
    edges = _edges(graph)
    assert edges[("monitoring/*", "shop/Deployment/api")] == [(8443, "TCP")]
    assert ("*", "web/Deployment/front") not in edges
    assert [n.endpoint.key for n in graph.nodes if not n.shown] == ["shop/Deployment/api"]
    # A rule naming monitoring's prometheus alone is drawn, with its destination.
    only_prometheus = METRICS_FROM_MONITORING.replace(
        "namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}",
        "namespaceSelector: {}, podSelector: {matchLabels: {app: prometheus}}",
    ).replace("app: api", "app: db")
    evaluator = _evaluator(
        namespace("shop"),
        namespace("monitoring"),
        deployment("shop/db", "db", 8443),
        deployment("monitoring/prometheus", "prometheus", 9090),
        deployment("monitoring/grafana", "grafana", 3000),
        policies(only_prometheus),
    )
    graph = _graph(evaluator, namespaces=["monitoring"])
    assert _edges(graph)[("monitoring/Deployment/prometheus", "shop/Deployment/db")] == [
        (8443, "TCP")
    ]
    assert [n.endpoint.key for n in graph.nodes if not n.shown] == ["shop/Deployment/db"]


def test_denied_edges_into_the_shown_namespaces_are_given_on_demand() -> None:
    evaluator = _shop()
    assert not _edges(_graph(evaluator, namespaces=["shop"]), allowed=False)
    denied = _edges(_graph(evaluator, namespaces=["shop"], denied=True), allowed=False)
    assert denied[("monitoring/*", "shop/Deployment/db")] == [(5432, "TCP")]
    assert denied[("web/Deployment/front", "shop/Deployment/api")] == [(8443, "TCP")]
    # A namespace of one workload is that workload, not a group of one.
    assert ("web/*", "shop/Deployment/api") not in denied
    assert ("monitoring/*", "shop/Deployment/api") not in denied


def test_a_port_filter_keeps_the_edges_and_workloads_of_that_port() -> None:
    evaluator = _shop()
    graph = _graph(evaluator, namespaces=["shop"], port=5432, protocol="TCP")
    assert _edges(graph) == {("shop/*", "shop/Deployment/db"): [(5432, "TCP")]}
    assert [n.endpoint.key for n in graph.nodes] == ["shop/Deployment/db"]
    assert graph.hidden == 2
    # The choices offered stay those of every shown workload.
    assert graph.ports == ((5432, "TCP"), (8443, "TCP"), (9000, "TCP"))
    assert _graph(evaluator, namespaces=["shop"], port=5432, protocol="UDP").edges == ()


def test_every_namespace_is_shown_when_none_is_named() -> None:
    graph = _graph(_shop())
    assert graph.namespaces == ("monitoring", "shop", "web")
    assert all(n.shown for n in graph.nodes)
    assert len(graph.nodes) == 6


def _members(evaluator: Evaluator, source: str) -> set[str]:
    """The workloads a source id names: everyone, a namespace's, or one."""
    keys = [e.key for e in evaluator.endpoints]
    if source == graphs.EVERYONE:
        return set(keys)
    if source.endswith("/*"):
        return {keys[i] for i in bitsets.indices(evaluator.namespace_members(source[:-2]))}
    return {source}


def _expanded(evaluator: Evaluator, graph: graphs.Graph) -> set[tuple[str, str, PortKey, bool]]:
    """Every (source, destination, port, verdict) the edges stand for."""
    found = set()
    for edge in graph.edges:
        sources = _members(evaluator, edge.source)
        for excepted in edge.excepted:
            sources -= _members(evaluator, excepted)
        assert edge.example in sources
        for source in sources:
            for port in edge.ports:
                found.add((source, edge.destination, port, edge.allowed))
    return found


@pytest.mark.parametrize("seed", range(40))
def test_the_edges_say_exactly_what_the_matrix_says_on_random_clusters(seed: int) -> None:
    namespaces, endpoints, policy_list = random_clusters.cluster(seed)
    evaluator = Evaluator(namespaces=namespaces, endpoints=endpoints, policies=policy_list)
    matrix = matrices.compute(evaluator)
    shown = sorted({e.namespace for e in endpoints})[:1]
    graph = graphs.build(evaluator, matrix, namespaces=shown, denied=True)
    keys = [e.key for e in evaluator.endpoints]
    into = set()
    for source, destination, port, allowed in matrix.verdicts():
        if evaluator.endpoints[destination].namespace in shown:
            into.add((keys[source], keys[destination], port, allowed))
    got = _expanded(evaluator, graph)
    # Every connection into the shown namespaces is drawn, allowed or denied; out of them,
    # some are (see the tests above); none is drawn that the matrix does not give.
    assert {
        c
        for c in got
        if c[1]
        in {keys[i] for i in range(evaluator.size) if evaluator.endpoints[i].namespace in shown}
    } == into
    every = {(keys[s], keys[d], port, allowed) for s, d, port, allowed in matrix.verdicts()}
    assert got <= every
    # No two edges say the same thing.
    assert len({(e.source, e.excepted, e.destination, e.allowed) for e in graph.edges}) == len(
        graph.edges
    )


def test_out_of_the_shown_namespaces_only_what_a_policy_decides_is_drawn() -> None:
    egress_only_to_front = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: worker-to-front, namespace: shop}
spec:
  podSelector: {matchLabels: {app: worker}}
  egress: [{to: [{namespaceSelector: {}, podSelector: {matchLabels: {app: front}}}]}]
"""
    evaluator = _evaluator(
        namespace("shop"),
        namespace("web"),
        deployment("shop/api", "api", 8443),
        deployment("shop/worker", "worker", 9000),
        deployment("web/front", "front", 8080),
        deployment("web/back", "back", 8081),
        policies(egress_only_to_front),
    )
    edges = _edges(_graph(evaluator, namespaces=["shop"]))
    # worker's egress policy decides that it reaches front (and only front) ...
    assert edges[("shop/Deployment/worker", "web/Deployment/front")] == [(8080, "TCP")]
    # ... while api reaching back, which no policy restricts, is not drawn from shop.
    assert not [d for s, d in edges if d == "web/Deployment/back"]
    assert ("shop/Deployment/api", "web/Deployment/front") not in edges


def test_out_of_the_shown_namespaces_a_workload_open_to_nearly_all_is_not_drawn() -> None:
    # front is isolated, but its rule admits every namespace: shop is not special to it.
    from_everywhere = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: front-from-everywhere, namespace: web}
spec:
  podSelector: {matchLabels: {app: front}}
  ingress: [{from: [{namespaceSelector: {}}]}]
"""
    evaluator = _evaluator(
        namespace("shop"),
        namespace("web"),
        deployment("shop/api", "api", 8443),
        deployment("shop/worker", "worker", 9000),
        deployment("web/front", "front", 8080),
        policies(from_everywhere),
    )
    assert not [
        d for _, d in _edges(_graph(evaluator, namespaces=["shop"])) if d.startswith("web/")
    ]
