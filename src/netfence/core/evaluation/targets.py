"""NetworkPolicies compiled once into targets: a pod selector and small matchers per rule.

The compiled form spells out the networking.k8s.io/v1 semantics that a raw spec leaves to
defaulting and to the difference between an empty and a missing field:

* `podSelector` missing or `{}` selects every pod of the policy's namespace;
* `policyTypes` missing or empty means `Ingress`, plus `Egress` when the policy has at
  least one egress rule (the API server's defaulting, applied here to files too);
* a rule's `from`/`to` missing or empty matches every peer; `ports` missing or empty
  matches every port and protocol;
* within one peer, `podSelector` and `namespaceSelector` are ANDed; `podSelector` alone
  means pods of the policy's namespace, `namespaceSelector` alone every pod of the matching
  namespaces; `ipBlock` is a CIDR minus its `except` ranges;
* a port's protocol defaults to TCP; a missing port number means every port of that
  protocol; `endPort` makes a range; a named port is resolved on the destination.

Purely computational, no side effects.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from netfence.core import selectors
from netfence.core.endpoints import Endpoint
from netfence.core.objects import Policy

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network
Address: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


class Direction(enum.StrEnum):
    INGRESS = "Ingress"
    EGRESS = "Egress"

    @property
    def peers_field(self) -> str:
        return "from" if self is Direction.INGRESS else "to"

    @property
    def rules_field(self) -> str:
        return "ingress" if self is Direction.INGRESS else "egress"


@dataclass(frozen=True, slots=True)
class IPBlock:
    network: Network | None
    exceptions: tuple[Network, ...] = ()
    text: str = ""

    def contains(self, address: Address) -> bool:
        if self.network is None or address.version != self.network.version:
            return False
        if address not in self.network:
            return False
        return not any(address in e for e in self.exceptions if e.version == address.version)

    def __str__(self) -> str:
        if self.network is None:
            return f"{self.text} (not a valid CIDR)"
        if not self.exceptions:
            return str(self.network)
        return f"{self.network} except {', '.join(str(e) for e in self.exceptions)}"


@dataclass(frozen=True, slots=True)
class Peer:
    """One entry of a rule's `from`/`to` list."""

    policy_namespace: str
    pods: selectors.Selector | None = None
    namespaces: selectors.Selector | None = None
    ip_block: IPBlock | None = None

    @property
    def is_empty(self) -> bool:
        """A peer with no field set: the API server rejects it, and it matches nothing."""
        return self.pods is None and self.namespaces is None and self.ip_block is None

    def describe(self) -> str:
        if self.ip_block is not None:
            return f"addresses in {self.ip_block}"
        if self.namespaces is None and self.pods is not None:
            if self.pods.matches_everything:
                return f"every pod in namespace {self.policy_namespace} (the policy's own)"
            return (
                f"pods matching {self.pods} in namespace {self.policy_namespace} (the policy's own)"
            )
        if self.namespaces is not None:
            where = (
                "every namespace"
                if self.namespaces.matches_everything
                else f"namespaces matching {self.namespaces}"
            )
            if self.pods is None or self.pods.matches_everything:
                return f"every pod in {where}"
            return f"pods matching {self.pods} in {where}"
        return "nothing (an empty peer is invalid)"


@dataclass(frozen=True, slots=True)
class PortMatcher:
    """One entry of a rule's `ports` list."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None

    def matches(self, port: int, protocol: str, destination: Endpoint) -> bool:
        if isinstance(self.port, str):
            # Resolved on the destination, whose container port must have this protocol too.
            return protocol == self.protocol and destination.named_port(self.port, protocol) == port
        return bool(self.matches_number(port, protocol))

    def matches_number(self, port: int, protocol: str) -> bool | None:
        """Whether the port matches whatever the destination; None for a named port."""
        if isinstance(self.port, str):
            return None
        if protocol != self.protocol:
            return False
        if self.port is None:
            return True
        if self.end_port is not None:
            return self.port <= port <= self.end_port
        return port == self.port

    def describe(self) -> str:
        if self.port is None:
            return f"every {self.protocol} port"
        if isinstance(self.port, str):
            return f"named port {self.port}/{self.protocol}"
        if self.end_port is not None:
            return f"{self.port}-{self.end_port}/{self.protocol}"
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Rule:
    direction: Direction
    index: int
    # None: `from`/`to` missing or empty, every peer matches.
    peers: tuple[Peer, ...] | None = None
    # None: `ports` missing or empty, every port matches.
    ports: tuple[PortMatcher, ...] | None = None

    @property
    def path(self) -> str:
        return f"{self.direction.rules_field}[{self.index}]"


@dataclass(frozen=True, slots=True)
class Target:
    """One NetworkPolicy: the pods it selects and, per direction it isolates, its rules.

    `ingress` is None when the policy does not isolate ingress (its policyTypes do not
    include Ingress), and an empty tuple when it isolates ingress and allows nothing.
    """

    namespace: str
    name: str
    selector: selectors.Selector
    ingress: tuple[Rule, ...] | None = None
    egress: tuple[Rule, ...] | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...] | None:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def isolates(self, direction: Direction) -> bool:
        return self.rules(direction) is not None

    def __str__(self) -> str:
        return self.key


def policy_types(spec: Mapping[str, Any]) -> tuple[Direction, ...]:
    """The policy's types, defaulted the way the API server defaults them."""
    written = spec.get("policyTypes") or []
    if written:
        return tuple(d for d in Direction if d.value in written)
    if spec.get("egress"):
        return (Direction.INGRESS, Direction.EGRESS)
    return (Direction.INGRESS,)


def compile_policy(policy: Policy) -> Target:
    spec = policy.spec
    types = policy_types(spec)
    compiled: dict[Direction, tuple[Rule, ...] | None] = {}
    for direction in Direction:
        if direction not in types:
            compiled[direction] = None
            continue
        rules = spec.get(direction.rules_field) or []
        compiled[direction] = tuple(
            _rule(direction, index, rule, policy.namespace)
            for index, rule in enumerate(rules if isinstance(rules, list) else [])
        )
    return Target(
        namespace=policy.namespace,
        name=policy.name,
        selector=selectors.parse(_mapping(spec.get("podSelector"))),
        ingress=compiled[Direction.INGRESS],
        egress=compiled[Direction.EGRESS],
    )


def _rule(direction: Direction, index: int, rule: object, namespace: str) -> Rule:
    if not isinstance(rule, Mapping):
        # Not a rule the API server would accept; `{}` is the closest reading of `null`.
        return Rule(direction, index)
    peers = _list(rule.get(direction.peers_field))
    ports = _list(rule.get("ports"))
    return Rule(
        direction=direction,
        index=index,
        peers=tuple(_peer(p, namespace) for p in peers) if peers else None,
        ports=tuple(_port(p) for p in ports) if ports else None,
    )


def _peer(peer: object, namespace: str) -> Peer:
    if not isinstance(peer, Mapping):
        return Peer(namespace)
    pods = peer.get("podSelector")
    namespaces = peer.get("namespaceSelector")
    block = peer.get("ipBlock")
    return Peer(
        policy_namespace=namespace,
        pods=selectors.parse(_mapping(pods)) if pods is not None else None,
        namespaces=selectors.parse(_mapping(namespaces)) if namespaces is not None else None,
        ip_block=_ip_block(block) if block is not None else None,
    )


def _ip_block(block: object) -> IPBlock:
    if not isinstance(block, Mapping):
        return IPBlock(None, text=str(block))
    text = str(block.get("cidr", ""))
    network = _network(text)
    exceptions = tuple(
        n for n in (_network(str(e)) for e in _list(block.get("except"))) if n is not None
    )
    return IPBlock(network, exceptions, text)


def _network(text: str) -> Network | None:
    try:
        # strict=False: the API server accepts host bits (10.0.0.1/8) and means the network.
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _port(port: object) -> PortMatcher:
    if not isinstance(port, Mapping):
        return PortMatcher()
    protocol = str(port.get("protocol") or "TCP")
    number = port.get("port")
    end = port.get("endPort")
    value: int | str | None
    if number is None:
        value = None
    elif isinstance(number, int) and not isinstance(number, bool):
        value = number
    else:
        # IntOrString: a string is a port name, even when it looks like a number.
        value = str(number)
    end_port = end if isinstance(end, int) and isinstance(value, int) else None
    return PortMatcher(protocol=protocol, port=value, end_port=end_port)


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list) else []


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None
