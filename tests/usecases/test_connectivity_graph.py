"""The graph use case: controllers and bare pods, every namespace read, named ones checked."""

from __future__ import annotations

import pytest

from netfence.core import errors, manifests
from netfence.usecases import connectivity
from tests.core.clusters import deployment, namespace, pod, policies

ISOLATE_DB = """
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{from: [{podSelector: {matchLabels: {app: api}}}], ports: [{port: 5432}]}]
"""


def _inventory() -> manifests.Inventory:
    documents = [
        namespace("shop"),
        namespace("tools"),
        deployment("shop/api", "api", 8443),
        deployment("shop/db", "db", 5432),
        # A pod of api's Deployment is counted once, as the Deployment.
        pod("shop/api-1", {"app": "api"}, ports=[{"containerPort": 8443}]),
        pod("tools/debug", {"app": "debug"}, ports=[{"containerPort": 7000}]),
        *policies(ISOLATE_DB),
    ]
    return manifests.read((f"doc{i}", d) for i, d in enumerate(documents))


def test_the_graph_is_of_controllers_and_bare_pods() -> None:
    graph = connectivity.graph(_inventory(), ["shop"])
    assert [n.endpoint.key for n in graph.nodes] == ["shop/Deployment/api", "shop/Deployment/db"]
    edges = {(e.source, e.destination): e.ports for e in graph.edges if e.allowed}
    assert edges[("shop/Deployment/api", "shop/Deployment/db")] == ((5432, "TCP"),)
    assert edges[("*", "shop/Deployment/api")] == ((8443, "TCP"),)


def test_a_denied_port_is_an_edge_only_when_asked_for() -> None:
    graph = connectivity.graph(_inventory(), ["shop"], denied=True)
    denied = {(e.source, e.destination) for e in graph.edges if not e.allowed}
    # Only api may connect: not debug in tools, nor db's own pods to each other.
    assert denied == {
        ("tools/debug", "shop/Deployment/db"),
        ("shop/Deployment/db", "shop/Deployment/db"),
    }
    db = next(n for n in graph.nodes if n.endpoint.name == "db")
    assert db.ingress_policies == ("shop/db-from-api",)


def test_an_unknown_namespace_is_refused_by_name() -> None:
    with pytest.raises(errors.NotFound, match="namespace nope does not exist") as raised:
        connectivity.graph(_inventory(), ["shop", "nope"])
    assert raised.value.field == "namespace"
