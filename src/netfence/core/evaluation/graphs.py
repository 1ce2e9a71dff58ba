"""The connectivity graph: workloads as nodes, allowed (and denied) connections as edges.

Read out of the full matrix (`matrices`) as columns: for each destination and each port it
declares, the set of sources allowed. Drawn one edge per source, a namespace of 20
workloads opened to itself by its baseline would give 400 edges, and a cluster of 200
workloads tens of thousands, which no one can read. So a column is written with as few
sources as say the same thing exactly:

* `*`, every workload read, when all of them are allowed;
* `NS/*`, every workload of namespace NS, when all of its workloads are (and it has two
  or more);
* otherwise each workload, by its key.

Edges with the same source, destination and verdict are merged, listing their ports. A
graph is asked for some namespaces (`shown`): it holds their workloads, the allowed edges
into and out of them, with the workloads (or namespaces) at the other end as neighbours,
and, when asked, the denied edges into them. Purely computational, no side effects.
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
    """`source` (a workload key or a group id) to a workload, on `ports`, all one verdict."""

    source: str
    destination: str
    allowed: bool
    ports: tuple[PortKey, ...]


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

    merged: dict[tuple[str, str, bool], list[PortKey]] = {}
    for key in keys:
        columns = _columns(matrix, key, shown)
        for destination, allowed in columns.items():
            inside = bitsets.contains(shown, destination)
            target = endpoints[destination].key
            for source in sources.written(allowed):
                if inside or sources.within(source, shown):
                    merged.setdefault((source, target, True), []).append(key)
            if denied and inside:
                for source in sources.written(evaluator.everyone & ~allowed):
                    merged.setdefault((source, target, False), []).append(key)

    edges = tuple(
        Edge(source, destination, allowed, tuple(ports))
        for (source, destination, allowed), ports in sorted(
            merged.items(), key=lambda item: (not item[0][2], item[0][1], item[0][0])
        )
    )
    used = {e.source for e in edges} | {e.destination for e in edges}
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


class _Sources:
    """Writes a set of sources as groups and workloads (see the module docstring)."""

    def __init__(self, evaluator: Evaluator, members: dict[str, int]) -> None:
        self._evaluator = evaluator
        self._members = members
        self._everyone = evaluator.everyone
        self._keys = [e.key for e in evaluator.endpoints]
        self._namespace_of = [e.namespace for e in evaluator.endpoints]

    def written(self, bits: int) -> list[str]:
        if not bits:
            return []
        if bits == self._everyone and self._evaluator.size > 1:
            return [EVERYONE]
        found: list[str] = []
        done: set[str] = set()
        for position in bitsets.indices(bits):
            ns = self._namespace_of[position]
            if ns in done:
                continue
            whole = self._members[ns]
            if whole & bits == whole and whole.bit_count() > 1:
                found.append(namespace_group(ns))
                done.add(ns)
            else:
                found.append(self._keys[position])
        return found

    def within(self, source: str, shown: int) -> bool:
        """Whether a written source is (or is a group of) shown workloads."""
        if source == EVERYONE:
            return False
        if source.endswith(f"/{EVERYONE}"):
            return bool(self._members.get(source[:-2], 0) & shown)
        position = self._evaluator.find(source)
        return position is not None and bitsets.contains(shown, position)

    def is_group(self, source: str) -> bool:
        return source == EVERYONE or source.endswith(f"/{EVERYONE}")

    def group(self, source: str) -> Group:
        if source == EVERYONE:
            return Group(EVERYONE, None, self._evaluator.size, self._keys[0])
        ns = source[:-2]
        whole = self._members[ns]
        return Group(source, ns, whole.bit_count(), self._keys[bitsets.indices(whole)[0]])


def _node(evaluator: Evaluator, position: int, *, shown: bool) -> Node:
    def policies(direction: Direction) -> tuple[str, ...]:
        return tuple(evaluator.targets[n].key for n in evaluator.isolating[direction][position])

    return Node(
        endpoint=evaluator.endpoints[position],
        ingress_policies=policies(Direction.INGRESS),
        egress_policies=policies(Direction.EGRESS),
        shown=shown,
    )
