"""Small clusters for evaluator tests, written as the manifests a user would write.

`Cluster.allows` decides a connection three ways, and fails unless they agree: the compiled
evaluator's explanation, the full matrix (when the destination declares the port) and the
plain reference implementation. Every semantic test therefore checks all three.
"""

from __future__ import annotations

from typing import Any

import yaml

from netfence.core import manifests
from netfence.core.evaluation import matrices, reference
from netfence.core.evaluation.evaluators import Evaluator, implied_namespaces, namespace_labels
from netfence.core.evaluation.verdicts import Verdict


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def pod(
    ref: str,
    labels: dict[str, str] | None = None,
    *,
    ip: str | None = None,
    ports: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A pod `NS/NAME`; ports as container ports, e.g. {"containerPort": 80, "name": "http"}."""
    ns, _, name = ref.partition("/")
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "app", "ports": ports or []}]},
    }
    if ip is not None:
        document["status"] = {"podIP": ip, "podIPs": [{"ip": ip}]}
    return document


def deployment(ref: str, app: str, port: int, **labels: str) -> dict[str, Any]:
    """A Deployment `NS/NAME` of pods labelled app=`app` declaring `port` as "main"."""
    ns, _, name = ref.partition("/")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "containers": [
                        {"name": "c", "ports": [{"containerPort": port, "name": "main"}]}
                    ]
                },
            },
        },
    }


def policies(text: str) -> list[Any]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


class Cluster:
    def __init__(self, *documents: Any, workloads: bool = False) -> None:
        flat: list[Any] = []
        for document in documents:
            flat.extend(document if isinstance(document, list) else [document])
        self.inventory = manifests.read((f"doc{i}", d) for i, d in enumerate(flat))
        self.endpoints = self.inventory.endpoints(workloads=workloads)
        self.evaluator = Evaluator(
            namespaces=self.inventory.namespaces,
            endpoints=self.endpoints,
            policies=self.inventory.policies,
        )
        self.matrix = matrices.compute(self.evaluator)
        self._labels = {
            ns.name: namespace_labels(ns)
            for ns in implied_namespaces(
                self.inventory.namespaces, self.endpoints, self.inventory.policies
            )
        }

    def explain(self, source: str, destination: str, port: int, protocol: str = "TCP") -> Verdict:
        s, d = self.evaluator.find(source), self.evaluator.find(destination)
        assert s is not None, f"no endpoint {source}"
        assert d is not None, f"no endpoint {destination}"
        return self.evaluator.explain(s, d, port, protocol)

    def allows(self, source: str, destination: str, port: int, protocol: str = "TCP") -> bool:
        verdict = self.explain(source, destination, port, protocol)
        s, d = self.evaluator.positions[source], self.evaluator.positions[destination]
        plain = reference.allowed(
            self.endpoints[s],
            self.endpoints[d],
            port,
            protocol,
            policies=self.inventory.policies,
            namespace_labels=self._labels,
        )
        assert verdict.allowed == plain, f"evaluator {verdict.allowed}, reference {plain}"
        if (port, protocol) in self.endpoints[d].declared():
            in_matrix = self.matrix.allowed(s, d, (port, protocol))
            assert in_matrix == plain, f"matrix {in_matrix}, reference {plain}"
        return verdict.allowed

    def reachable(self, source: str, port: int, protocol: str = "TCP") -> set[str]:
        """The other endpoints `source` may reach on that port (a pod always reaches
        itself, whatever the policies: test_evaluation_isolation checks that on its own)."""
        return {
            e.key
            for e in self.endpoints
            if e.key != source and self.allows(source, e.key, port, protocol)
        }

    def reaching(self, destination: str, port: int, protocol: str = "TCP") -> set[str]:
        """The other endpoints that may reach `destination` on that port."""
        return {
            e.key
            for e in self.endpoints
            if e.key != destination and self.allows(e.key, destination, port, protocol)
        }
