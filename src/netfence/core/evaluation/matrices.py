"""The full connectivity matrix: for every declared port, which source reaches which pod.

A matrix row is a bitset of destinations for one source and one (port, protocol). It is

    row(s, k) = egress(s, k) & ingress(s, k) & declared(k)

where `egress(s, k)` is everything when no egress policy selects `s`, else the union over
the egress rules of the policies selecting `s` of (rule peers & destinations whose port
matches k); and `ingress(s, k)` is the destinations not isolated for ingress, plus, for
every ingress rule whose peers include `s`, the pods its policy selects whose port matches.

A pod always reaches itself (see `evaluators`): bit s of row(s, k) is set for every pod
s declaring k, whatever its policies say; a controller's endpoint stands for several pods
and gets no such bit.

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
    everyone = evaluator.everyone
    ports = _declared_ports(evaluator.endpoints, evaluator.size)
    egress_allows = _egress_allows(evaluator, ports)
    opens, openers = _ingress_openings(evaluator, ports)
    inclusion = _invert(openers, evaluator.size, everyone)
    signatures = _signatures(evaluator, inclusion)
    open_to_all = everyone & ~_ingress_isolated(evaluator)

    # row(s, k) = egress & ingress & declared, once per distinct pair of signatures.
    rows: dict[PortKey, list[int]] = {}
    for key in ports.keys:
        egress_rows = _egress_rows(key, signatures.egress, egress_allows, everyone)
        ingress_rows = _ingress_rows(key, signatures.ingress, opens, inclusion.wide, open_to_all)
        mask = ports.declared[key]
        pair_rows = [egress_rows[e] & ingress_rows[i] & mask for e, i in signatures.pairs]
        rows[key] = [pair_rows[p] for p in signatures.pair_of]
    for position, endpoint in enumerate(evaluator.endpoints):
        if endpoint.is_pod:
            for key in endpoint.declared():
                rows[key][position] |= 1 << position
    return Matrix(
        endpoints=evaluator.endpoints, keys=ports.keys, declared=ports.declared, rows=rows
    )


@dataclass(frozen=True, slots=True)
class _Ports:
    """The ports the endpoints declare, as bitsets of the endpoints declaring each."""

    # Every declared (port, protocol), ascending: the matrix's keys.
    keys: tuple[PortKey, ...]
    declared: dict[PortKey, int]
    # Per (name, protocol, number), the endpoints declaring that named port.
    named: dict[_NamedPort, int]


def _declared_ports(endpoints: Sequence[Endpoint], size: int) -> _Ports:
    declaring: dict[PortKey, list[int]] = {}
    named: dict[_NamedPort, list[int]] = {}
    for position, endpoint in enumerate(endpoints):
        for key in endpoint.declared():
            declaring.setdefault(key, []).append(position)
        for port in endpoint.ports:
            if port.name:
                named.setdefault((port.name, port.protocol, port.port), []).append(position)
    return _Ports(
        keys=tuple(sorted(declaring)),
        declared={k: bitsets.from_indices(v, size) for k, v in declaring.items()},
        named={k: bitsets.from_indices(v, size) for k, v in named.items()},
    )


def _port_masks(rule: Rule, ports: _Ports, everyone: int) -> dict[PortKey, int]:
    """Per key, the destinations whose port the rule's ports list matches; keys no
    destination matches are left out."""
    if rule.ports is None:
        return dict.fromkeys(ports.keys, everyone)
    named_bits = ports.named
    masks: dict[PortKey, int] = {}
    for key in ports.keys:
        number, protocol = key
        mask = 0
        for matcher in rule.ports:
            fixed = matcher.matches_number(number, protocol)
            if fixed is None:
                # A named port: only the destinations declaring that name as this number.
                if matcher.protocol == protocol:
                    mask |= named_bits.get((str(matcher.port), protocol, number), 0)
            elif fixed:
                mask = everyone
                break
        if mask:
            masks[key] = mask
    return masks


def _egress_allows(evaluator: Evaluator, ports: _Ports) -> dict[int, dict[PortKey, int]]:
    """Per policy isolating for egress (by its position in `targets`) and per key, the
    destinations its rules allow."""
    egress_allows: dict[int, dict[PortKey, int]] = {}
    for number, target in enumerate(evaluator.targets):
        if target.egress is None:
            continue
        allows: dict[PortKey, int] = {}
        for rule in target.egress:
            peers = evaluator.rule_peers(rule)
            if not peers:
                continue
            for key, mask in _port_masks(rule, ports, evaluator.everyone).items():
                allows[key] = allows.get(key, 0) | (peers & mask)
        egress_allows[number] = allows
    return egress_allows


def _ingress_openings(
    evaluator: Evaluator, ports: _Ports
) -> tuple[list[dict[PortKey, int]], list[int]]:
    """The ingress rules that open something, in policy order, as two parallel lists: per
    rule the pods it opens per key, and the sources it opens them to."""
    opens: list[dict[PortKey, int]] = []
    openers: list[int] = []
    for number, target in enumerate(evaluator.targets):
        selected = evaluator.selected[number]
        if target.ingress is None or not selected:
            continue
        for rule in target.ingress:
            peers = evaluator.rule_peers(rule)
            masks = _port_masks(rule, ports, evaluator.everyone)
            opened = {k: selected & m for k, m in masks.items() if selected & m}
            if peers and opened:
                opens.append(opened)
                openers.append(peers)
    return opens, openers


@dataclass(frozen=True, slots=True)
class _Inclusion:
    """The ingress rules including each source, by their positions in the openings.

    A rule including more than half the sources is `wide` and listed, per source, in
    `excluded` where it leaves that source out; any other rule is listed in `narrow` for
    each source it includes. Either way a source's lists stay short.
    """

    narrow: list[list[int]]
    excluded: list[list[int]]
    wide: list[int]


def _invert(openers: Sequence[int], size: int, everyone: int) -> _Inclusion:
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
    return _Inclusion(narrow, excluded, wide)


def _ingress_isolated(evaluator: Evaluator) -> int:
    """The endpoints some policy isolates for ingress."""
    isolated = 0
    for position, numbers in enumerate(evaluator.isolating[Direction.INGRESS]):
        if numbers:
            isolated |= 1 << position
    return isolated


_IngressSignature = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Signatures:
    """What decides a source's rows, interned: sources with equal signatures share rows."""

    # The distinct egress signatures: the policies isolating a source for egress.
    egress: list[tuple[int, ...]]
    # The distinct ingress signatures: a source's (narrow, excluded) lists of `_Inclusion`.
    ingress: list[_IngressSignature]
    # The distinct (egress, ingress) pairs of signature numbers, and each source's pair.
    pairs: list[tuple[int, int]]
    pair_of: list[int]


def _signatures(evaluator: Evaluator, inclusion: _Inclusion) -> _Signatures:
    egress_isolating = evaluator.isolating[Direction.EGRESS]
    egress_ids: dict[tuple[int, ...], int] = {}
    ingress_ids: dict[_IngressSignature, int] = {}
    pair_ids: dict[tuple[int, int], int] = {}
    pair_of: list[int] = []
    for position in range(evaluator.size):
        e = egress_ids.setdefault(tuple(egress_isolating[position]), len(egress_ids))
        i = ingress_ids.setdefault(
            (tuple(inclusion.narrow[position]), tuple(inclusion.excluded[position])),
            len(ingress_ids),
        )
        pair_of.append(pair_ids.setdefault((e, i), len(pair_ids)))
    # Dicts keep insertion order, so each list's index is the number given above.
    return _Signatures(list(egress_ids), list(ingress_ids), list(pair_ids), pair_of)


def _egress_rows(
    key: PortKey,
    signatures: Sequence[tuple[int, ...]],
    egress_allows: Mapping[int, Mapping[PortKey, int]],
    everyone: int,
) -> list[int]:
    """Per egress signature, the destinations it allows on ``key``."""
    return [
        everyone if not sig else _union(egress_allows[n].get(key, 0) for n in sig)
        for sig in signatures
    ]


def _ingress_rows(
    key: PortKey,
    signatures: Sequence[_IngressSignature],
    opens: Sequence[Mapping[PortKey, int]],
    wide: Sequence[int],
    open_to_all: int,
) -> list[int]:
    """Per ingress signature, the destinations that accept it on ``key``."""
    # Most signatures leave no wide rule out: their union of wide rules is computed once.
    wide_open = 0
    for number in wide:
        wide_open |= opens[number].get(key, 0)
    rows = []
    for near, left_out in signatures:
        if left_out:
            skip = set(left_out)
            base = _union(opens[n].get(key, 0) for n in wide if n not in skip)
        else:
            base = wide_open
        rows.append(open_to_all | base | _union(opens[n].get(key, 0) for n in near))
    return rows


def _union(sets: Iterator[int] | Sequence[int]) -> int:
    result = 0
    for bits in sets:
        result |= bits
    return result
