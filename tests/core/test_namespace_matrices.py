"""One namespace's matrix: its own cells and what other namespaces may send into it."""

from __future__ import annotations

from typing import Any

import pytest

from netfence.core import manifests, naming
from netfence.core.endpoints import Endpoint, PortKey
from netfence.core.evaluation import namespace_matrices
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.objects import Namespace
from tests.core import random_clusters
from tests.core.clusters import deployment, namespace, pod, policies


def inventory(*documents: Any) -> manifests.Inventory:
    flat: list[Any] = []
    for document in documents:
        flat.extend(document if isinstance(document, list) else [document])
    return manifests.read((f"doc{i}", d) for i, d in enumerate(flat))


# The cluster of tests/test_analysis.py: shop is managed (its baseline admits only its
# own pods), web has no policy; web/debug is a bare pod that declares no port.
CLUSTER = inventory(
    namespace("shop", **{naming.MANAGED_NAMESPACE_LABEL: "true"}),
    namespace("web"),
    deployment("shop/api", "api", 8443),
    deployment("shop/db", "db", 5432),
    deployment("web/front", "front", 8080),
    pod("web/debug", {"run": "debug"}, ip="10.0.0.9"),
    [
        {
            **p,
            "metadata": {
                **p["metadata"],
                "labels": {
                    naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
                    naming.ROLE_LABEL: "baseline",
                },
            },
        }
        for p in policies("""
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: allow-namespace-communication, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {}}]}]
""")
    ],
)


def explainer(found: manifests.Inventory) -> Evaluator:
    """An evaluator over every pod and controller, in the inventory's order."""
    return Evaluator(
        namespaces=found.namespaces,
        endpoints=found.pods + found.controllers,
        policies=found.policies,
    )


def allowed(evaluator: Evaluator, source: Endpoint, destination: Endpoint, key: PortKey) -> bool:
    s, d = evaluator.find(source.key), evaluator.find(destination.key)
    assert s is not None and d is not None
    port, protocol = key
    return evaluator.explain(s, d, port, protocol).allowed


def test_a_namespace_matrix_and_what_other_namespaces_may_reach() -> None:
    web = namespace_matrices.namespace_matrix(CLUSTER, "web")
    assert [e.key for e in web.endpoints] == ["web/Deployment/front", "web/debug"]
    # No policy in web: everything reaches front on 8080; debug declares no port.
    assert web.allowed == (((True,), ()), ((True,), ()))
    assert web.outside == 2
    assert web.others is not None
    front, debug = web.others
    assert front.allowed == (2,)
    assert front.allowed_examples == ("shop/Deployment/api", "shop/Deployment/db")
    assert front.denied_examples == ()
    assert debug.allowed == ()

    shop = namespace_matrices.namespace_matrix(CLUSTER, "shop")
    assert shop.allowed == (((True,), (True,)), ((True,), (True,)))
    assert shop.others is not None
    assert [c.allowed for c in shop.others] == [(0,), (0,)]
    assert shop.others[0].denied_examples == ("web/Deployment/front", "web/debug")

    inside = namespace_matrices.namespace_matrix(CLUSTER, "shop", others=False)
    assert inside.allowed == shop.allowed
    assert inside.outside is None
    assert inside.others is None


def test_every_namespace_matrix_cell_agrees_with_explain() -> None:
    evaluator = explainer(CLUSTER)
    for name in ("shop", "web"):
        result = namespace_matrices.namespace_matrix(CLUSTER, name)
        for source, row in zip(result.endpoints, result.allowed, strict=True):
            for destination, cell in zip(result.endpoints, row, strict=True):
                for key, verdict in zip(destination.declared(), cell, strict=True):
                    assert allowed(evaluator, source, destination, key) is verdict


def test_a_namespace_nothing_runs_in_has_an_empty_matrix() -> None:
    empty = namespace_matrices.namespace_matrix(CLUSTER, "nowhere")
    assert empty.endpoints == ()
    assert empty.allowed == ()
    assert empty.outside == 4
    assert empty.others == ()


@pytest.mark.parametrize("batch", range(4))
def test_cells_and_outside_counts_agree_with_explain_on_random_clusters(batch: int) -> None:
    checked = 0
    for seed in range(batch * 50, batch * 50 + 50):
        namespaces, endpoints, policy_list = random_clusters.cluster(seed)
        found = manifests.Inventory(
            namespaces=tuple(namespaces), policies=tuple(policy_list), pods=tuple(endpoints)
        )
        evaluator = explainer(found)
        for space in namespaces:
            checked += _check_namespace(found, evaluator, space)
    assert checked > 500


def _check_namespace(found: manifests.Inventory, evaluator: Evaluator, space: Namespace) -> int:
    """Hold one namespace's matrix against explain; returns how many verdicts it checked."""
    result = namespace_matrices.namespace_matrix(found, space.name)
    own = [e for e in found.units() if e.namespace == space.name]
    outside = [e for e in found.units() if e.namespace != space.name]
    assert list(result.endpoints) == own
    assert result.outside == len(outside)
    assert result.others is not None
    checked = 0
    for source, row in zip(own, result.allowed, strict=True):
        for destination, cell in zip(own, row, strict=True):
            expected = tuple(
                allowed(evaluator, source, destination, k) for k in destination.declared()
            )
            assert cell == expected, (space.name, source.key, destination.key)
            checked += len(cell)
    for destination, summary in zip(own, result.others, strict=True):
        keys = destination.declared()
        hits = {s.key: [allowed(evaluator, s, destination, k) for k in keys] for s in outside}
        assert summary.allowed == tuple(sum(h[i] for h in hits.values()) for i in range(len(keys)))
        reached = sorted(key for key, h in hits.items() if any(h))
        refused = sorted(key for key, h in hits.items() if not any(h)) if keys else []
        assert set(summary.allowed_examples) <= set(reached)
        assert set(summary.denied_examples) <= set(refused)
        assert len(summary.allowed_examples) == min(3, len(reached))
        assert len(summary.denied_examples) == min(3, len(refused))
        assert list(summary.allowed_examples) == sorted(summary.allowed_examples)
        assert list(summary.denied_examples) == sorted(summary.denied_examples)
        checked += len(keys) * len(outside)
    return checked
