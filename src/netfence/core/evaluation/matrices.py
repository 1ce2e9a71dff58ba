"""The full connectivity matrix: for every declared port, which source reaches which pod.

A matrix row is a bitset of destinations for one source and one (port, protocol). It is

    row(s, k) = egress(s, k) & ingress(s, k) & declared(k)

where `egress(s, k)` is everything when no egress policy selects `s`, else the union over
the egress rules of the policies selecting `s` of (rule peers & destinations whose port
matches k); and `ingress(s, k)` is the destinations not isolated for ingress, plus, for
every ingress rule whose peers include `s`, the pods its policy selects whose port matches.

Two sources selected by the same egress policies and included in the same ingress rules
have the same row, so rows are computed once per such signature and shared; the work
grows with the number of distinct signatures and rules, not with the square of the pods.
Named ports are resolved on the destination in both directions, through a bitset of the
endpoints declaring each (name, protocol, number). Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from netfence.core import bitsets
from netfence.core.endpoints import Endpoint, PortKey
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.evaluation.targets import Direction, Rule

_NamedPort = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class Matrix:
    endpoints: tuple[Endpoint, ...]
    # Every (port, protocol) some endpoint declares, ascending.
    keys: tuple[PortKey, ...]
    # Per key, the endpoints declaring it: the only destinations a row holds.
    declared: Mapping[PortKey, int]
    # Per key, one bitset of allowed destinations per source position.
    rows: Mapping[PortKey, Sequence[int]]

    def allowed(self, source: int, destination: int, key: PortKey) -> bool:
        return bitsets.contains(self.rows[key][source], destination)

    def verdicts(self) -> Iterator[tuple[int, int, PortKey, bool]]:
        """Every (source, destination, port) the matrix covers, sources then destinations
        in endpoint order, ports ascending: one per declared port of each destination."""
        declared = [e.declared() for e in self.endpoints]
        rows = self.rows
        for source in range(len(self.endpoints)):
            own = {key: rows[key][source] for key in self.keys}
            for destination, keys in enumerate(declared):
                for key in keys:
                    yield source, destination, key, bool(own[key] >> destination & 1)

    def counts(self) -> tuple[int, int]:
        """(allowed, total) connections over every source and declared destination port."""
        allowed = total = 0
        for key in self.keys:
            width = self.declared[key].bit_count()
            total += width * len(self.endpoints)
            allowed += sum(row.bit_count() for row in self.rows[key])
        return allowed, total


def compute(evaluator: Evaluator) -> Matrix:
    """The matrix over every endpoint of the evaluator: purely computational."""
    size = evaluator.size
    everyone = evaluator.everyone
    endpoints = evaluator.endpoints

    declaring: dict[PortKey, list[int]] = {}
    named: dict[_NamedPort, list[int]] = {}
    for position, endpoint in enumerate(endpoints):
        for key in endpoint.declared():
            declaring.setdefault(key, []).append(position)
        for port in endpoint.ports:
            if port.name:
                named.setdefault((port.name, port.protocol, port.port), []).append(position)
    keys = tuple(sorted(declaring))
    declared = {k: bitsets.from_indices(v, size) for k, v in declaring.items()}
    named_bits = {k: bitsets.from_indices(v, size) for k, v in named.items()}

    def port_masks(rule: Rule) -> dict[PortKey, int]:
        """Per key, the destinations whose port the rule's ports list matches."""
        if rule.ports is None:
            return dict.fromkeys(keys, everyone)
        masks: dict[PortKey, int] = {}
        for key in keys:
            number, protocol = key
            mask = 0
            for matcher in rule.ports:
                fixed = matcher.matches_number(number, protocol)
                if fixed is None:
                    if matcher.protocol == protocol:
                        mask |= named_bits.get((str(matcher.port), protocol, number), 0)
                elif fixed:
                    mask = everyone
                    break
            if mask:
                masks[key] = mask
        return masks

    # Egress: per isolating policy and key, the destinations its rules allow.
    egress_allows: dict[int, dict[PortKey, int]] = {}
    # Ingress: per rule, the pods it opens per key, and whom it opens them to.
    opens: list[dict[PortKey, int]] = []
    openers: list[int] = []
    for number, target in enumerate(evaluator.targets):
        if target.egress is not None:
            allows: dict[PortKey, int] = {}
            for rule in target.egress:
                peers = evaluator.rule_peers(rule)
                if not peers:
                    continue
                for key, mask in port_masks(rule).items():
                    allows[key] = allows.get(key, 0) | (peers & mask)
            egress_allows[number] = allows
        if target.ingress is not None:
            selected = evaluator.selected[number]
            if not selected:
                continue
            for rule in target.ingress:
                peers = evaluator.rule_peers(rule)
                opened = {k: selected & m for k, m in port_masks(rule).items() if selected & m}
                if peers and opened:
                    opens.append(opened)
                    openers.append(peers)

    # Invert ingress rules to "which rules include this source". A rule including almost
    # everyone is recorded by whom it leaves out instead, so the walk stays short.
    narrow: list[list[int]] = [[] for _ in range(size)]
    excluded: list[list[int]] = [[] for _ in range(size)]
    wide: list[int] = []
    for number, peers in enumerate(openers):
        if peers == everyone:
            wide.append(number)
        elif peers.bit_count() * 2 > size:
            wide.append(number)
            for position in bitsets.indices(everyone & ~peers):
                excluded[position].append(number)
        else:
            for position in bitsets.indices(peers):
                narrow[position].append(number)

    ingress_isolated = 0
    for position, numbers in enumerate(evaluator.isolating[Direction.INGRESS]):
        if numbers:
            ingress_isolated |= 1 << position
    open_to_all = everyone & ~ingress_isolated

    # Sources with equal signatures share rows: intern the signatures once.
    egress_ids: dict[tuple[int, ...], int] = {}
    ingress_ids: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
    pair_ids: dict[tuple[int, int], int] = {}
    pair_of: list[int] = []
    for position in range(size):
        e = egress_ids.setdefault(
            tuple(evaluator.isolating[Direction.EGRESS][position]), len(egress_ids)
        )
        i = ingress_ids.setdefault(
            (tuple(narrow[position]), tuple(excluded[position])), len(ingress_ids)
        )
        pair_of.append(pair_ids.setdefault((e, i), len(pair_ids)))

    rows: dict[PortKey, Sequence[int]] = {}
    for key in keys:
        wide_open = 0
        for number in wide:
            wide_open |= opens[number].get(key, 0)
        egress_rows = [
            everyone if not sig else _union(egress_allows[n].get(key, 0) for n in sig)
            for sig in egress_ids
        ]
        ingress_rows = []
        for near, left_out in ingress_ids:
            if left_out:
                skip = set(left_out)
                base = _union(opens[n].get(key, 0) for n in wide if n not in skip)
            else:
                base = wide_open
            ingress_rows.append(open_to_all | base | _union(opens[n].get(key, 0) for n in near))
        mask = declared[key]
        pair_rows = [egress_rows[e] & ingress_rows[i] & mask for e, i in pair_ids]
        rows[key] = [pair_rows[p] for p in pair_of]
    return Matrix(endpoints=endpoints, keys=keys, declared=declared, rows=rows)


def _union(sets: Iterator[int] | Sequence[int]) -> int:
    result = 0
    for bits in sets:
        result |= bits
    return result
