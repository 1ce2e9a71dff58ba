"""The evaluator: policies compiled against a fixed set of endpoints, queried many times.

Building it numbers the endpoints, indexes their labels and their namespaces' labels, and
computes once, as bitsets over the endpoints, the pods each policy selects and the members
of every peer. Explaining one connection is then a handful of bit tests, and a matrix (see
`matrices`) is unions and intersections of these sets.

Semantics are those of networking.k8s.io/v1 (see `targets` for the field rules):

* a connection is allowed when egress at the source and ingress at the destination both
  allow it, each evaluated on its own;
* a pod no policy of a direction selects is not isolated in that direction: all allowed;
* an isolated pod allows what at least one rule of one selecting policy allows;
* ipBlock peers are matched against pod IPs; an endpoint without IP matches none;
* a pod always reaches itself, whatever its policies say: the Kubernetes documentation
  says a pod cannot block access to itself, and on the wire a connection to its own IP
  goes over its own loopback and never meets the enforcer (`Verdict.itself`). A
  controller's endpoint standing for several pods is not a pod: the policies decide
  between two of its pods;
* traffic between a pod and its own node (kubelet probes, host-network pods there) is
  always allowed; nodes are no endpoints, so it is never a row or column of a matrix
  (docs/connectivity.md says so, and `probe` never probes it).

Every namespace carries the label `kubernetes.io/metadata.name: <name>`, which the API
server sets; it is added here when missing, so files and a live cluster agree. A namespace
named by an endpoint or a policy but absent from the input is assumed to exist with only
that label. Purely computational, no side effects.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from netfence.core import bitsets, selectors
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation import targets as compiling
from netfence.core.evaluation.targets import Direction, Peer, Rule, Target
from netfence.core.evaluation.verdicts import RuleCheck, Side, Verdict
from netfence.core.objects import Namespace, Policy

NAME_LABEL = "kubernetes.io/metadata.name"


def namespace_labels(namespace: Namespace) -> dict[str, str]:
    """A namespace's labels as the API server keeps them: with its name label."""
    return {**namespace.labels, NAME_LABEL: namespace.name}


class Evaluator:
    """Compiled policies over numbered endpoints; nothing changes after construction but caches."""

    def __init__(
        self,
        *,
        namespaces: Iterable[Namespace],
        endpoints: Sequence[Endpoint],
        policies: Iterable[Policy],
    ) -> None:
        self.endpoints: tuple[Endpoint, ...] = tuple(endpoints)
        self.size = len(self.endpoints)
        self.everyone = bitsets.full(self.size)
        self.positions: dict[str, int] = {e.key: i for i, e in enumerate(self.endpoints)}
        policy_list = sorted(policies, key=lambda p: (p.namespace, p.name))
        self.namespace_labels: dict[str, dict[str, str]] = {
            ns.name: namespace_labels(ns)
            for ns in implied_namespaces(namespaces, self.endpoints, policy_list)
        }

        self._pod_index = selectors.LabelIndex([e.labels for e in self.endpoints])
        self._namespace_index = selectors.LabelIndex(
            [self.namespace_labels[e.namespace] for e in self.endpoints]
        )
        by_namespace: dict[str, list[int]] = {}
        for position, endpoint in enumerate(self.endpoints):
            by_namespace.setdefault(endpoint.namespace, []).append(position)
        self._members_of = {
            ns: bitsets.from_indices(found, self.size) for ns, found in by_namespace.items()
        }
        self._addresses = _AddressIndex(self.endpoints)
        self._peer_cache: dict[Peer, int] = {}

        self.targets: tuple[Target, ...] = tuple(compiling.compile_policy(p) for p in policy_list)
        self._by_key = {t.key: t for t in self.targets}
        self.selected: tuple[int, ...] = tuple(self._select(t) for t in self.targets)
        # Per endpoint, the positions in `targets` of the policies isolating it, by direction.
        self.isolating: dict[Direction, list[list[int]]] = {
            d: [[] for _ in range(self.size)] for d in Direction
        }
        for number, target in enumerate(self.targets):
            for direction in Direction:
                if target.isolates(direction):
                    lists = self.isolating[direction]
                    for position in bitsets.indices(self.selected[number]):
                        lists[position].append(number)

    # --- sets ------------------------------------------------------------------------

    def members(self, peer: Peer) -> int:
        """The endpoints a peer matches, as a bitset (cached: peers repeat across policies)."""
        found = self._peer_cache.get(peer)
        if found is None:
            found = self._peer_members(peer)
            self._peer_cache[peer] = found
        return found

    def rule_peers(self, rule: Rule) -> int:
        if rule.peers is None:
            return self.everyone
        found = 0
        for peer in rule.peers:
            found |= self.members(peer)
        return found

    def namespace_members(self, namespace: str) -> int:
        return self._members_of.get(namespace, 0)

    def select_namespaces(self, selector: selectors.Selector) -> list[str]:
        """The namespaces (known or implied) a namespaceSelector matches."""
        return sorted(
            name for name, labels in self.namespace_labels.items() if selector.matches(labels)
        )

    def _select(self, target: Target) -> int:
        return self._pod_index.select(target.selector) & self.namespace_members(target.namespace)

    def _peer_members(self, peer: Peer) -> int:
        if peer.ip_block is not None:
            return self._addresses.within(peer.ip_block)
        if peer.namespaces is None:
            if peer.pods is None:
                return 0
            return self._pod_index.select(peer.pods) & self.namespace_members(peer.policy_namespace)
        found = self._namespace_index.select(peer.namespaces)
        if peer.pods is not None:
            found &= self._pod_index.select(peer.pods)
        return found

    # --- one connection --------------------------------------------------------------

    def find(self, key: str) -> int | None:
        return self.positions.get(key)

    def explain(self, source: int, destination: int, port: int, protocol: str) -> Verdict:
        """Decide one connection and say why: purely computational, no side effects."""
        egress = self.side(Direction.EGRESS, source, destination, port, protocol)
        ingress = self.side(Direction.INGRESS, source, destination, port, protocol)
        notes: list[str] = []
        itself = source == destination and self.endpoints[source].is_pod
        if source == destination and not itself:
            notes.append(
                f"{self.endpoints[source]} stands for its pods: this is one of them reaching "
                "another, which its policies decide; a pod reaching itself is always allowed"
            )
        for side, other in ((egress, destination), (ingress, source)):
            endpoint = self.endpoints[other]
            if not endpoint.ips and self._faces_ip_blocks(side):
                what = "has no IP here" if endpoint.is_pod else "stands for pods not yet running"
                notes.append(f"{endpoint} {what}, so the ipBlock peers checked cannot match it")
        return Verdict(
            source=self.endpoints[source],
            destination=self.endpoints[destination],
            port=port,
            protocol=protocol,
            egress=egress,
            ingress=ingress,
            notes=tuple(dict.fromkeys(notes)),
            itself=itself,
        )

    def _faces_ip_blocks(self, side: Side) -> bool:
        for check in side.checks:
            target = self._by_key[check.policy]
            for rule in target.rules(side.direction) or ():
                if rule.path == check.rule and any(p.ip_block for p in rule.peers or ()):
                    return True
        return False

    def side(
        self, direction: Direction, source: int, destination: int, port: int, protocol: str
    ) -> Side:
        """One direction of a connection: egress is decided at the source, ingress at the
        destination; the peer is the other end, and ports always belong to the destination."""
        here, there = (
            (source, destination) if direction is Direction.EGRESS else (destination, source)
        )
        numbers = self.isolating[direction][here]
        checks: list[RuleCheck] = []
        target_endpoint = self.endpoints[destination]
        for number in numbers:
            target = self.targets[number]
            for rule in target.rules(direction) or ():
                checks.append(self._check(target, rule, there, port, protocol, target_endpoint))
        return Side(
            direction=direction,
            endpoint=self.endpoints[here],
            policies=tuple(self.targets[n].key for n in numbers),
            checks=tuple(checks),
        )

    def _check(
        self,
        target: Target,
        rule: Rule,
        peer_position: int,
        port: int,
        protocol: str,
        destination: Endpoint,
    ) -> RuleCheck:
        peer_hit, peer_words = self._peer_hit(rule, peer_position)
        port_hit, port_words = _port_hit(rule, port, protocol, destination)
        return RuleCheck(
            policy=target.key,
            rule=rule.path,
            peer=peer_hit,
            peer_description=peer_words,
            port=port_hit,
            port_description=port_words,
        )

    def _peer_hit(self, rule: Rule, peer_position: int) -> tuple[int | None, str]:
        """The first peer of ``rule`` matching the endpoint at ``peer_position``, and in words.

        The index is -1 when the rule has no peer list (every endpoint matches) and None
        when no peer matches; the words then list every peer checked.
        """
        field = rule.direction.peers_field
        if rule.peers is None:
            return -1, f"any {_other(rule.direction)} (no '{field}' list)"
        peer_hit = next(
            (
                i
                for i, peer in enumerate(rule.peers)
                if bitsets.contains(self.members(peer), peer_position)
            ),
            None,
        )
        if peer_hit is None:
            return None, "; ".join(
                f"{field}[{i}] ({peer.describe()})" for i, peer in enumerate(rule.peers)
            )
        return peer_hit, f"{field}[{peer_hit}]: {rule.peers[peer_hit].describe()}"


def _port_hit(
    rule: Rule, port: int, protocol: str, destination: Endpoint
) -> tuple[int | None, str]:
    """The first entry of ``rule``'s ports matching the port on ``destination``, and in words.

    The index is -1 when the rule has no ports list (every port matches) and None when no
    entry matches; the words then list every entry checked.
    """
    if rule.ports is None:
        return -1, "every port (no 'ports' list)"
    port_hit = next(
        (i for i, matcher in enumerate(rule.ports) if matcher.matches(port, protocol, destination)),
        None,
    )
    if port_hit is None:
        return None, ", ".join(f"ports[{i}] ({m.describe()})" for i, m in enumerate(rule.ports))
    matcher = rule.ports[port_hit]
    port_words = f"ports[{port_hit}]: {matcher.describe()}"
    if isinstance(matcher.port, str):
        port_words += f" (= {port} on {destination})"
    return port_hit, port_words


def _other(direction: Direction) -> str:
    return "source" if direction is Direction.INGRESS else "destination"


class _AddressIndex:
    """Endpoint IPs sorted per IP version, so an ipBlock finds its members by bisection."""

    def __init__(self, endpoints: Sequence[Endpoint]) -> None:
        self._size = len(endpoints)
        pairs: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for position, endpoint in enumerate(endpoints):
            for text in endpoint.ips:
                address = compiling.parse_address(text)
                if address is not None:
                    pairs[address.version].append((int(address), position))
        self._sorted = {version: sorted(found) for version, found in pairs.items()}

    def within(self, block: compiling.IPBlock) -> int:
        network = block.network
        if network is None:
            return 0
        keep = self._positions(network)
        for excluded in block.exceptions:
            if excluded.version == network.version:
                keep -= self._positions(excluded)
        # An endpoint with several IPs matches when one of them is inside the block.
        return bitsets.from_indices((p for _, p in keep), self._size) if keep else 0

    def _positions(self, network: compiling.Network) -> set[tuple[int, int]]:
        found = self._sorted[network.version]
        low = int(network.network_address)
        high = int(network.broadcast_address)
        start = bisect.bisect_left(found, (low, -1))
        end = bisect.bisect_right(found, (high, self._size))
        return set(found[start:end])


def implied_namespaces(
    namespaces: Iterable[Namespace], endpoints: Iterable[Endpoint], policies: Iterable[Policy]
) -> list[Namespace]:
    """The namespaces given, plus one (labelled only by name) for every other name used."""
    known = {ns.name: ns for ns in namespaces}
    for name in [e.namespace for e in endpoints] + [p.namespace for p in policies]:
        known.setdefault(name, Namespace(name))
    return [known[name] for name in sorted(known)]
