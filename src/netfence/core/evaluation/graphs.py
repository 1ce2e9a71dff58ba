"""The connectivity graph: workloads as nodes, allowed (and denied) connections as edges.

Read out of the full matrix (`matrices`) as columns: for each destination and each port it
declares, the set of sources allowed. Drawn one edge per source, a namespace of 20
workloads opened to itself by its baseline would give 400 edges, and a cluster of 200
workloads tens of thousands, which no one can read. So a column is written with as few
sources as say the same thing exactly:

* `*`, every workload read, when all of them are allowed;
* `*` with exceptions, when most are and the others are written in at most twelve groups
  or workloads (or a quarter of the workloads), in fewer words than the namespaces would
  take (the baseline's "every workload but those of its own namespace" is one
  edge; so is "everyone but the one workload whose egress is isolated");
* `NS/*`, every workload of namespace NS, when all of its workloads are (and it has two
  or more), or all but at most three of them (fewer than half);
* otherwise each workload, by its key.

Edges with the same source, exceptions, destination and verdict are merged, listing their
ports; each names one source it stands for (`example`), to explain it by. A
graph is asked for some namespaces (`shown`): it holds their workloads, the allowed edges
into them, the allowed edges out of them that a policy decides for them (to a workload
some ingress policy isolates and that not (nearly) everyone may reach, or from one some
egress policy isolates: the rest is the cluster's openness to all), with the workloads (or namespaces) at the other end as
neighbours, and, when asked, the denied edges into them. Purely computational, no side
effects.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from netfence.core import bitsets
from netfence.core.endpoints import Endpoint, PortKey
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.evaluation.matrices import Matrix
from netfence.core.evaluation.targets import Direction

EVERYONE = "*"
# At most this many groups or workloads are written as the exceptions of a namespace's
# group; everyone's may have more (a cluster has many more workloads than a namespace):
# 12, or a quarter of the workloads read when that is more.
_EXCEPTIONS = 3
_EVERYONE_EXCEPTIONS = 12


def namespace_group(namespace: str) -> str:
    """The id of "every workload of `namespace`" (no endpoint key holds a `*`)."""
    return f"{namespace}/{EVERYONE}"


@dataclass(frozen=True, slots=True)
class Node:
    """A workload (controller or bare pod) and the policies isolating it, per direction."""

    endpoint: Endpoint
    ingress_policies: tuple[str, ...]
    egress_policies: tuple[str, ...]
    # False for a neighbour: a workload of another namespace at the end of a shown edge.
    shown: bool


@dataclass(frozen=True, slots=True)
class Group:
    """Several workloads as one source: every workload read, or every one of a namespace."""

    id: str
    namespace: str | None  # None for every workload read
    size: int
    # One member, to explain an edge from the group by a real connection.
    example: str


@dataclass(frozen=True, slots=True)
class Edge:
    """`source` (a workload key or a group id) to a workload, on `ports`, all one verdict.

    A group source stands for its workloads but those in `excepted` (group ids or
    workload keys); `example` is one workload it stands for.
    """

    source: str
    destination: str
    allowed: bool
    ports: tuple[PortKey, ...]
    excepted: tuple[str, ...] = ()
    example: str = ""


@dataclass(frozen=True, slots=True)
class Graph:
    namespaces: tuple[str, ...]  # shown, ascending
    nodes: tuple[Node, ...]  # shown first, then neighbours; each in endpoint order
    groups: tuple[Group, ...]
    edges: tuple[Edge, ...]
    # Every (port, protocol) the shown workloads declare: what a port filter can choose.
    ports: tuple[PortKey, ...]
    # Shown workloads left out by the port filter: they neither declare it nor use it.
    hidden: int


def build(
    evaluator: Evaluator,
    matrix: Matrix,
    *,
    namespaces: Collection[str] = (),
    port: int | None = None,
    protocol: str | None = None,
    denied: bool = False,
) -> Graph:
    """The graph of `namespaces` (every namespace when empty), on every declared port or
    only on `port` (of `protocol`, or of any protocol when None); with `denied`, the
    denied edges into the shown workloads as well."""
    endpoints = evaluator.endpoints
    shown_names = sorted(set(namespaces) or {e.namespace for e in endpoints})
    members = {ns: evaluator.namespace_members(ns) for ns in {e.namespace for e in endpoints}}
    shown = 0
    for ns in shown_names:
        shown |= members.get(ns, 0)
    all_keys = sorted({k for i in bitsets.indices(shown) for k in endpoints[i].declared()})
    keys = [k for k in matrix.keys if _wanted(k, port, protocol)]
    sources = _Sources(evaluator, members)

    merged: dict[tuple[str, tuple[str, ...], str, bool], tuple[list[PortKey], str]] = {}

    def add(written: _Written, target: str, allowed: bool, key: PortKey) -> None:
        found = merged.setdefault(
            (written.source, written.excepted, target, allowed), ([], written.example)
        )
        found[0].append(key)

    ingress_isolated = _isolated(evaluator, Direction.INGRESS)
    egress_isolated = _isolated(evaluator, Direction.EGRESS)
    for key in keys:
        columns = _columns(matrix, key, shown)
        for destination, allowed in columns.items():
            inside = bitsets.contains(shown, destination)
            # Out of the shown namespaces, only what a policy decides: an edge to a workload
            # no ingress policy isolates, from sources no egress policy isolates, is the
            # default openness of the cluster, which would otherwise be drawn to every
            # open workload of it.
            target = endpoints[destination].key
            if inside:
                for written in sources.written(allowed):
                    add(written, target, True, key)
            else:
                # A destination (nearly) everyone may reach admits the shown sources for
                # no reason of theirs, like one no policy isolates.
                decided = bitsets.contains(ingress_isolated, destination) and not any(
                    w.source == EVERYONE for w in sources.written(allowed)
                )
                out = allowed & shown & (evaluator.everyone if decided else egress_isolated)
                # Without exceptions: the shown sources left out may connect as well,
                # by default, and "but" would say they may not.
                for written in sources.whole(out):
                    add(written, target, True, key)
            if denied and inside:
                for written in sources.written(evaluator.everyone & ~allowed):
                    add(written, target, False, key)

    edges = tuple(
        Edge(source, destination, allowed, tuple(ports), excepted, example)
        for (source, excepted, destination, allowed), (ports, example) in sorted(
            merged.items(), key=lambda item: (not item[0][3], item[0][2], item[0][0], item[0][1])
        )
    )
    used = (
        {e.source for e in edges}
        | {e.destination for e in edges}
        | {x for e in edges for x in e.excepted if sources.is_group(x)}
    )
    drawn = [
        i
        for i in range(evaluator.size)
        if endpoints[i].key in used
        or (bitsets.contains(shown, i) and (port is None or _declares(endpoints[i], keys)))
    ]
    nodes = sorted(
        (_node(evaluator, i, shown=bitsets.contains(shown, i)) for i in drawn),
        key=lambda n: not n.shown,
    )
    return Graph(
        namespaces=tuple(shown_names),
        nodes=tuple(nodes),
        groups=tuple(sources.group(g) for g in sorted(used) if sources.is_group(g)),
        edges=edges,
        ports=tuple(all_keys),
        hidden=shown.bit_count() - sum(1 for n in nodes if n.shown),
    )


def _wanted(key: PortKey, port: int | None, protocol: str | None) -> bool:
    return (port is None or key[0] == port) and (protocol is None or key[1] == protocol)


def _declares(endpoint: Endpoint, keys: Sequence[PortKey]) -> bool:
    return any(k in keys for k in endpoint.declared())


def _columns(matrix: Matrix, key: PortKey, shown: int) -> dict[int, int]:
    """Per destination declaring `key` that a graph of `shown` needs, the sources allowed.

    A matrix is stored by rows (sources), and sources selected by the same policies share
    one; the transpose is taken per distinct row, so the cost follows the distinct rows
    times the destinations, not the square of the endpoints. Destinations outside `shown`
    are needed only when a shown source reaches them.
    """
    sharing: dict[int, int] = {}
    for source, row in enumerate(matrix.rows[key]):
        sharing[row] = sharing.get(row, 0) | (1 << source)
    reached = 0
    for row, holders in sharing.items():
        if holders & shown:
            reached |= row
    wanted = matrix.declared[key] & (shown | reached)
    columns: dict[int, int] = {}
    for destination in bitsets.indices(wanted):
        allowed = 0
        for row, holders in sharing.items():
            if row >> destination & 1:
                allowed |= holders
        columns[destination] = allowed
    return columns


@dataclass(frozen=True, slots=True)
class _Written:
    source: str
    excepted: tuple[str, ...]
    example: str


class _Sources:
    """Writes a set of sources as groups and workloads (see the module docstring)."""

    def __init__(self, evaluator: Evaluator, members: dict[str, int]) -> None:
        self._evaluator = evaluator
        self._members = members
        self._everyone = evaluator.everyone
        self._keys = [e.key for e in evaluator.endpoints]
        self._namespace_of = [e.namespace for e in evaluator.endpoints]

    def written(self, bits: int) -> list[_Written]:
        if not bits:
            return []
        by_namespace = self._by_namespace(bits)
        missing = self._everyone & ~bits
        if self._evaluator.size > 1 and bits.bit_count() > missing.bit_count():
            most = max(_EVERYONE_EXCEPTIONS, self._evaluator.size // 4)
            excepted = [w.source for w in self.whole(missing, most)]
            # Everyone-but is taken only when it says it in fewer words than namespaces.
            cost = sum(1 + len(w.excepted) for w in by_namespace)
            if len(excepted) <= most and 1 + len(excepted) < cost:
                return [_Written(EVERYONE, tuple(excepted), self._first(bits))]
        return by_namespace

    def _by_namespace(self, bits: int) -> list[_Written]:
        found: list[_Written] = []
        done: set[str] = set()
        for position in bitsets.indices(bits):
            ns = self._namespace_of[position]
            if ns in done:
                continue
            whole = self._members[ns]
            left_out = whole & ~bits
            kept = whole & bits
            if whole.bit_count() > 1 and (
                not left_out
                or (
                    whole.bit_count() > 2
                    and left_out.bit_count() <= _EXCEPTIONS
                    and kept.bit_count() > left_out.bit_count()
                )
            ):
                excepted = tuple(self._keys[i] for i in bitsets.indices(left_out))
                found.append(_Written(namespace_group(ns), excepted, self._first(kept)))
                done.add(ns)
            else:
                found.append(_Written(self._keys[position], (), self._keys[position]))
        return found

    def whole(self, bits: int, limit: int | None = None) -> list[_Written]:
        """`bits` as whole namespaces and workloads, without exceptions; with `limit`, at
        most one more than that many (enough to tell that there are too many)."""
        found: list[_Written] = []
        done: set[str] = set()
        for position in bitsets.indices(bits):
            ns = self._namespace_of[position]
            if ns in done:
                continue
            members = self._members[ns]
            if members & bits == members and members.bit_count() > 1:
                found.append(_Written(namespace_group(ns), (), self._first(members)))
                done.add(ns)
            else:
                key = self._keys[position]
                found.append(_Written(key, (), key))
            if limit is not None and len(found) > limit:
                break
        return found

    def _first(self, bits: int) -> str:
        return self._keys[(bits & -bits).bit_length() - 1]

    def is_group(self, source: str) -> bool:
        return source == EVERYONE or source.endswith(f"/{EVERYONE}")

    def group(self, source: str) -> Group:
        if source == EVERYONE:
            return Group(EVERYONE, None, self._evaluator.size, self._keys[0])
        ns = source[:-2]
        whole = self._members[ns]
        return Group(source, ns, whole.bit_count(), self._keys[bitsets.indices(whole)[0]])


def _isolated(evaluator: Evaluator, direction: Direction) -> int:
    """The endpoints some policy isolates in `direction`."""
    lists = evaluator.isolating[direction]
    return bitsets.from_indices((i for i, found in enumerate(lists) if found), evaluator.size)


def _node(evaluator: Evaluator, position: int, *, shown: bool) -> Node:
    def policies(direction: Direction) -> tuple[str, ...]:
        return tuple(evaluator.targets[n].key for n in evaluator.isolating[direction][position])

    return Node(
        endpoint=evaluator.endpoints[position],
        ingress_policies=policies(Direction.INGRESS),
        egress_policies=policies(Direction.EGRESS),
        shown=shown,
    )
