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


def test_a_namespace_open_to_itself_is_one_edge_per_destination_from_its_group() -> None:
    graph = _graph(_shop(), namespaces=["shop"])
    edges = _edges(graph)
    assert edges[("shop/*", "shop/Deployment/db")] == [(5432, "TCP")]
    assert edges[("shop/*", "shop/Deployment/worker")] == [(9000, "TCP")]
    # Not nine edges between three workloads: no single workload of shop is a source.
    assert not [s for s, d in edges if d.startswith("shop/") and not s.endswith("/*")]


def test_a_rule_for_another_namespace_draws_its_group_as_a_neighbour() -> None:
    graph = _graph(_shop(), namespaces=["shop"])
    edges = _edges(graph)
    assert edges[("monitoring/*", "shop/Deployment/api")] == [(8443, "TCP")]
    assert [g.id for g in graph.groups] == ["monitoring/*", "shop/*"]
    monitoring = next(g for g in graph.groups if g.id == "monitoring/*")
    assert monitoring.size == 2
    assert monitoring.example == "monitoring/Deployment/grafana"
    # Only shop's workloads are nodes of the graph: monitoring is there as its group.
    assert {n.endpoint.key for n in graph.nodes} == {
        "shop/Deployment/api",
        "shop/Deployment/db",
        "shop/Deployment/worker",
    }
    assert graph.namespaces == ("shop",)


def test_a_destination_no_policy_isolates_is_reached_by_everyone_and_not_marked() -> None:
    graph = _graph(_shop(), namespaces=["web"])
    assert _edges(graph) == {("*", "web/Deployment/front"): [(8080, "TCP")]}
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
    # shop's workloads may reach web/front, as everyone may: one edge from everyone, drawn
    # only where its destination is shown. monitoring reaches shop/api by its own rule.
    graph = _graph(_shop(), namespaces=["monitoring"])
    edges = _edges(graph)
    assert edges[("monitoring/*", "shop/Deployment/api")] == [(8443, "TCP")]
    assert ("*", "web/Deployment/front") not in edges
    neighbours = {n.endpoint.key for n in graph.nodes if not n.shown}
    assert neighbours == {"shop/Deployment/api"}


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


def _expanded(evaluator: Evaluator, graph: graphs.Graph) -> set[tuple[str, str, PortKey, bool]]:
    """Every (source, destination, port, verdict) the edges stand for."""
    keys = [e.key for e in evaluator.endpoints]
    found = set()
    for edge in graph.edges:
        if edge.source == graphs.EVERYONE:
            sources = keys
        elif edge.source.endswith("/*"):
            members = evaluator.namespace_members(edge.source[:-2])
            sources = [keys[i] for i in bitsets.indices(members)]
        else:
            sources = [edge.source]
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

    def open_to_all(destination: int, port: PortKey) -> bool:
        return all(matrix.allowed(s, destination, port) for s in range(evaluator.size))

    wanted = set()
    for source, destination, port, allowed in matrix.verdicts():
        into = evaluator.endpoints[destination].namespace in shown
        out_of = evaluator.endpoints[source].namespace in shown
        # Out of the shown namespaces, a destination everyone may reach says nothing
        # about them: it is drawn only where it is shown.
        if into or (allowed and out_of and not open_to_all(destination, port)):
            wanted.add((keys[source], keys[destination], port, allowed))
    got = _expanded(evaluator, graph)
    # An edge from a group may stand for more than the shown side asked for (a group of a
    # shown namespace reaching outside), never for a verdict the matrix does not give.
    assert wanted <= got
    every = {(keys[s], keys[d], port, allowed) for s, d, port, allowed in matrix.verdicts()}
    assert got <= every
    # No two edges say the same thing.
    assert len({(e.source, e.destination, e.allowed) for e in graph.edges}) == len(graph.edges)
