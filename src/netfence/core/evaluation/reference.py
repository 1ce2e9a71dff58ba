"""The NetworkPolicy semantics written out plainly, one connection at a time.

This is the yardstick for the compiled evaluator: it reads the raw specs for every
connection, matches selectors label by label and shares no code with `targets`,
`evaluators` or `matrices`, so tests can hold the two against each other and the benchmark
can show what compiling buys. It is not meant to be fast. Purely computational.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from netfence.core.endpoints import Endpoint
from netfence.core.objects import Policy


def allowed(
    source: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str,
    *,
    policies: Sequence[Policy],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> bool:
    """Whether egress at the source and ingress at the destination both allow it.

    `namespace_labels` must hold every namespace of the endpoints, with the API server's
    `kubernetes.io/metadata.name` label. A pod always reaches itself.
    """
    if source.is_pod and source.key == destination.key:
        return True
    egress = _direction_allows(
        "Egress", source, destination, destination, port, protocol, policies, namespace_labels
    )
    if not egress:
        return False
    return _direction_allows(
        "Ingress", destination, source, destination, port, protocol, policies, namespace_labels
    )


def _direction_allows(
    direction: str,
    subject: Endpoint,
    peer: Endpoint,
    destination: Endpoint,
    port: int,
    protocol: str,
    policies: Sequence[Policy],
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> bool:
    isolated = False
    for policy in policies:
        spec = policy.spec
        if policy.namespace != subject.namespace:
            continue
        if not _selector_matches(spec.get("podSelector") or {}, subject.labels):
            continue
        types = spec.get("policyTypes") or (
            ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"]
        )
        if direction not in types:
            continue
        isolated = True
        rules = spec.get("ingress" if direction == "Ingress" else "egress") or []
        peers_field = "from" if direction == "Ingress" else "to"
        for rule in rules:
            peers = rule.get(peers_field) or []
            ports = rule.get("ports") or []
            peer_ok = not peers or any(
                _peer_matches(p, peer, policy.namespace, namespace_labels) for p in peers
            )
            port_ok = not ports or any(_port_matches(p, port, protocol, destination) for p in ports)
            if peer_ok and port_ok:
                return True
    return not isolated


def _peer_matches(
    peer: Mapping[str, Any],
    endpoint: Endpoint,
    policy_namespace: str,
    namespace_labels: Mapping[str, Mapping[str, str]],
) -> bool:
    block = peer.get("ipBlock")
    if block is not None:
        network = ipaddress.ip_network(block["cidr"], strict=False)
        for text in endpoint.ips:
            address = ipaddress.ip_address(text)
            if address.version != network.version or address not in network:
                continue
            excepted = any(
                address in ipaddress.ip_network(e, strict=False)
                for e in block.get("except") or []
                if ipaddress.ip_network(e, strict=False).version == address.version
            )
            if not excepted:
                return True
        return False
    pods = peer.get("podSelector")
    namespaces = peer.get("namespaceSelector")
    if pods is None and namespaces is None:
        return False
    if namespaces is None:
        in_namespace = endpoint.namespace == policy_namespace
    else:
        in_namespace = _selector_matches(namespaces, namespace_labels[endpoint.namespace])
    return in_namespace and (pods is None or _selector_matches(pods, endpoint.labels))


def _port_matches(
    entry: Mapping[str, Any], port: int, protocol: str, destination: Endpoint
) -> bool:
    if (entry.get("protocol") or "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str):
        return any(
            c.name == wanted and c.protocol == protocol and c.port == port
            for c in destination.ports
        )
    end = entry.get("endPort")
    if end is not None:
        return bool(wanted <= port <= end)
    return bool(wanted == port)


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True
