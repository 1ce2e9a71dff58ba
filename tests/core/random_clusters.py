"""Random small clusters that exercise every corner of the semantics at once.

Used to hold the compiled evaluator and its matrix against the plain reference: selectors
with every operator, peers of every shape, named ports, ranges, protocols, ipBlocks with
exceptions, pods without IPs, and policies with and without policyTypes.
"""

from __future__ import annotations

import random
from typing import Any

from netfence.core.endpoints import ContainerPort, Endpoint
from netfence.core.objects import Namespace, Policy

_CONTAINER_PORTS = (
    ContainerPort(80, "TCP", "http"),
    ContainerPort(8080, "TCP", "http"),
    ContainerPort(53, "UDP", "dns"),
    ContainerPort(53, "TCP", "dns-tcp"),
    ContainerPort(9090, "TCP", "metrics"),
    ContainerPort(443, "TCP"),
    ContainerPort(8100, "SCTP"),
)


def _selector(rng: random.Random, keys: tuple[str, ...]) -> dict[str, Any]:
    selector: dict[str, Any] = {}
    if rng.random() < 0.3:
        return selector
    if rng.random() < 0.7:
        chosen = rng.sample(keys, rng.randint(1, 2))
        selector["matchLabels"] = {k: rng.choice("ab") for k in chosen}
    if rng.random() < 0.4:
        operator = rng.choice(["In", "NotIn", "Exists", "DoesNotExist"])
        expression: dict[str, Any] = {"key": rng.choice(keys), "operator": operator}
        if operator in ("In", "NotIn"):
            expression["values"] = rng.sample(["a", "b", "c"], rng.randint(1, 2))
        selector["matchExpressions"] = [expression]
    return selector


def _peer(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.15:
        cidr = rng.choice(["10.0.0.0/24", "10.0.0.0/25", "0.0.0.0/0", "fd00::/8"])
        block: dict[str, Any] = {"cidr": cidr}
        if rng.random() < 0.5 and ":" not in cidr:
            block["except"] = ["10.0.0.0/28"]
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if roll < 0.6:
        peer["podSelector"] = _selector(rng, ("app", "tier", "env"))
    if roll > 0.4:
        peer["namespaceSelector"] = _selector(rng, ("team", "env"))
    return peer or {"podSelector": {}}


def _port(rng: random.Random) -> dict[str, Any]:
    port: dict[str, Any] = {}
    if rng.random() < 0.8:
        port["protocol"] = rng.choice(["TCP", "UDP", "SCTP", "TCP"])
    roll = rng.random()
    if roll < 0.4:
        port["port"] = rng.choice([80, 443, 53, 8080])
    elif roll < 0.6:
        port["port"] = rng.choice(["http", "dns", "metrics"])
    elif roll < 0.8:
        port["port"] = rng.choice([80, 8000])
        port["endPort"] = port["port"] + rng.choice([0, 100, 500])
    return port


def _rule(rng: random.Random, peers_field: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if rng.random() < 0.7:
        rule[peers_field] = [_peer(rng) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.7:
        rule["ports"] = [_port(rng) for _ in range(rng.randint(0, 2))]
    return rule


def cluster(seed: int) -> tuple[list[Namespace], list[Endpoint], list[Policy]]:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    namespaces = [
        Namespace(f"ns{i}", {k: rng.choice("ab") for k in ("team", "env") if rng.random() < 0.7})
        for i in range(rng.randint(1, 4))
    ]
    endpoints = []
    for i in range(rng.randint(1, 12)):
        ports: list[ContainerPort] = []
        for port in rng.sample(_CONTAINER_PORTS, rng.randint(0, 2)):
            if port.name is None or all(p.name != port.name for p in ports):
                ports.append(port)
        endpoints.append(
            Endpoint(
                namespace=rng.choice(namespaces).name,
                name=f"pod{i}",
                labels={k: rng.choice("abc") for k in ("app", "tier", "env") if rng.random() < 0.6},
                ips=(f"10.0.0.{rng.randint(0, 255)}",) if rng.random() < 0.8 else (),
                ports=tuple(ports),
            )
        )
    policies = []
    for i in range(rng.randint(0, 6)):
        spec: dict[str, Any] = {"podSelector": _selector(rng, ("app", "tier", "env"))}
        if rng.random() < 0.5:
            spec["policyTypes"] = rng.choice([["Ingress"], ["Egress"], ["Ingress", "Egress"]])
        if rng.random() < 0.7:
            spec["ingress"] = [_rule(rng, "from") for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.6:
            spec["egress"] = [_rule(rng, "to") for _ in range(rng.randint(0, 2))]
        policies.append(Policy(rng.choice(namespaces).name, f"policy{i}", spec=spec))
    return namespaces, endpoints, policies
