"""The matrix: the compiled evaluator agrees with the plain reference on every connection."""

from __future__ import annotations

import pytest

from netfence.core.evaluation import matrices, reference
from netfence.core.evaluation.evaluators import Evaluator, implied_namespaces, namespace_labels
from tests.core import random_clusters
from tests.core.clusters import Cluster, namespace, pod, policies


@pytest.mark.parametrize("batch", range(10))
def test_the_matrix_and_explanations_agree_with_the_reference_on_random_clusters(
    batch: int,
) -> None:
    checked = 0
    for seed in range(batch * 100, batch * 100 + 100):
        namespaces, endpoints, policy_list = random_clusters.cluster(seed)
        evaluator = Evaluator(namespaces=namespaces, endpoints=endpoints, policies=policy_list)
        matrix = matrices.compute(evaluator)
        labels = {
            ns.name: namespace_labels(ns)
            for ns in implied_namespaces(namespaces, endpoints, policy_list)
        }
        for source, destination, (port, protocol), allowed in matrix.verdicts():
            expected = reference.allowed(
                endpoints[source],
                endpoints[destination],
                port,
                protocol,
                policies=policy_list,
                namespace_labels=labels,
            )
            assert allowed == expected, (seed, source, destination, port, protocol)
            explained = evaluator.explain(source, destination, port, protocol)
            assert explained.allowed == expected, (seed, source, destination, port, protocol)
            checked += 1
    assert checked > 1000


def test_the_matrix_covers_every_ordered_pair_and_every_declared_port_of_the_destination() -> None:
    cluster = Cluster(
        namespace("a"),
        pod("a/one", ip="10.0.0.1", ports=[{"containerPort": 80}]),
        pod(
            "a/two",
            ip="10.0.0.2",
            ports=[{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 80}],
        ),
        pod("a/three", ip="10.0.0.3"),
    )
    seen = [
        (cluster.endpoints[s].key, cluster.endpoints[d].key, key)
        for s, d, key, _ in cluster.matrix.verdicts()
    ]
    assert seen == [
        ("a/one", "a/one", (80, "TCP")),
        ("a/one", "a/two", (53, "UDP")),
        ("a/one", "a/two", (80, "TCP")),
        ("a/three", "a/one", (80, "TCP")),
        ("a/three", "a/two", (53, "UDP")),
        ("a/three", "a/two", (80, "TCP")),
        ("a/two", "a/one", (80, "TCP")),
        ("a/two", "a/two", (53, "UDP")),
        ("a/two", "a/two", (80, "TCP")),
    ]
    assert cluster.matrix.counts() == (9, 9)


def test_sources_with_the_same_policies_share_one_row() -> None:
    cluster = Cluster(
        [
            pod(f"a/web-{i}", {"app": "web"}, ip=f"10.0.0.{i}", ports=[{"containerPort": 80}])
            for i in range(5)
        ],
        policies("""
kind: NetworkPolicy
metadata: {name: web, namespace: a}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{podSelector: {matchLabels: {app: web}}}]}]
"""),
    )
    rows = cluster.matrix.rows[(80, "TCP")]
    assert len({id(row) for row in rows}) == 1
    assert cluster.matrix.counts() == (25, 25)
