"""One namespace's matrix, for the console: who reaches whom inside it, and from outside.

The controller-level matrix of a namespace (its controllers and bare pods, rows and
columns alike), read out of the full bitset matrix as one verdict per declared port of
each destination, plus, when the rest of the cluster was read, one summary cell per
destination of how many endpoints of other namespaces may connect to it. Sources with
equal rows are read once, so the cost follows the number of distinct rows, not the
square of the endpoints. Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netfence.core.endpoints import Endpoint, PortKey
from netfence.core.evaluation import matrices
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.manifests import Inventory

_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class OutsideCell:
    """Traffic from every endpoint outside the namespace to one destination in it."""

    # Per declared port of the destination, how many outside sources may connect.
    allowed: tuple[int, ...]
    # A few outside sources allowed on a declared port at least, and a few denied on all.
    allowed_examples: tuple[str, ...]
    denied_examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceMatrix:
    """Who may connect to whom inside one namespace, on each destination's declared ports.

    `endpoints` are the namespace's controllers and bare pods, rows and columns alike;
    `allowed[s][d]` holds one verdict per `endpoints[d].declared()` port. `outside` is the
    number of endpoints of other namespaces, and `others` (one cell per destination) says
    how many of them may connect; both are None when other namespaces were not read.
    """

    namespace: str
    endpoints: tuple[Endpoint, ...]
    allowed: tuple[tuple[tuple[bool, ...], ...], ...]
    outside: int | None = None
    others: tuple[OutsideCell, ...] | None = None


def namespace_matrix(
    inventory: Inventory, namespace: str, *, others: bool = True
) -> NamespaceMatrix:
    """The controller-level matrix of one namespace, plus (with `others`) a summary row of
    the traffic every other namespace may send into it.

    Verdicts between the namespace's own endpoints need only its objects; the summary row
    needs the whole cluster (the egress policies of every other namespace).
    """
    units = inventory.units()
    own = tuple(e for e in units if e.namespace == namespace)
    outside = tuple(e for e in units if e.namespace != namespace) if others else ()
    # The namespace's endpoints come first, so destination d is bit d of every row.
    evaluator = Evaluator(
        namespaces=inventory.namespaces, endpoints=own + outside, policies=inventory.policies
    )
    matrix = matrices.compute(evaluator)
    declared = [e.declared() for e in own]
    allowed = _own_cells(matrix, declared)
    if not others:
        return NamespaceMatrix(namespace, own, allowed)
    return NamespaceMatrix(
        namespace, own, allowed, len(outside), _outside_cells(matrix, len(own), declared)
    )


def _own_cells(
    matrix: matrices.Matrix, declared: Sequence[tuple[PortKey, ...]]
) -> tuple[tuple[tuple[bool, ...], ...], ...]:
    """Per source and destination of the namespace, one verdict per declared port.

    Sources that share their rows (most do: same policies, same rules) share the result,
    each row is read once as a string of bits, and equal cells are one tuple, so a
    namespace of 500 controllers costs a few distinct rows, not 250,000 bit tests.
    """
    size = len(declared)
    mask = (1 << size) - 1
    keys = sorted({key for keys in declared for key in keys})
    cells: dict[str, tuple[bool, ...]] = {}
    rows: dict[tuple[int, ...], tuple[tuple[bool, ...], ...]] = {}
    result = []
    for source in range(size):
        signature = tuple(matrix.rows[key][source] & mask for key in keys)
        row = rows.get(signature)
        if row is None:
            # Bit d of a row is destination d: reversed binary text indexes it directly.
            bits = {
                key: format(value, f"0{size}b")[::-1]
                for key, value in zip(keys, signature, strict=True)
            }
            cell_row = []
            for d, ports in enumerate(declared):
                pattern = "".join(bits[key][d] for key in ports)
                cell = cells.get(pattern)
                if cell is None:
                    cell = cells[pattern] = tuple(c == "1" for c in pattern)
                cell_row.append(cell)
            row = rows[signature] = tuple(cell_row)
        result.append(row)
    return tuple(result)


def _outside_cells(
    matrix: matrices.Matrix, size: int, declared: Sequence[tuple[PortKey, ...]]
) -> tuple[OutsideCell, ...]:
    """Outside sources grouped by what they may reach in the namespace, so each distinct
    row is looked at once however many sources share it."""
    mask = (1 << size) - 1
    keys = sorted({key for keys in declared for key in keys})
    groups: dict[tuple[int, ...], list[int]] = {}
    for source in range(size, len(matrix.endpoints)):
        signature = tuple(matrix.rows[key][source] & mask for key in keys)
        groups.setdefault(signature, []).append(source)
    position = {key: i for i, key in enumerate(keys)}
    cells = []
    for d, ports in enumerate(declared):
        counts = [0] * len(ports)
        allowed_examples: list[str] = []
        denied_examples: list[str] = []
        for signature, members in groups.items() if ports else ():
            hits = [bool(signature[position[key]] >> d & 1) for key in ports]
            for i, hit in enumerate(hits):
                if hit:
                    counts[i] += len(members)
            examples = allowed_examples if any(hits) else denied_examples
            for source in members[: _EXAMPLES - len(examples)]:
                examples.append(matrix.endpoints[source].key)
        cells.append(
            OutsideCell(
                tuple(counts),
                tuple(sorted(allowed_examples)),
                tuple(sorted(denied_examples)),
            )
        )
    return tuple(cells)
