"""The connectivity matrix written out: every verdict as JSON, the compact JSON, the table.

A matrix of 5,000 pods holds 40 million verdicts (4 GB of flat JSON) but only a few
thousand distinct rows: sources selected by the same policies share their row objects
(`core.evaluation.matrices`). So nothing here touches one verdict at a time in Python:
each distinct row is turned into text once, as a list of pre-encoded pieces picked by its
bits in C (`operator.itemgetter`, `map`), and each source's output is one `join` of those
pieces. The formats are documented in docs/connectivity.md.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import BinaryIO

import orjson

from netfence.cli.output import API_VERSION
from netfence.core import bitsets
from netfence.core.endpoints import PortKey
from netfence.core.evaluation.matrices import Matrix

# Every document of the CLI names its version and kind (docs/cli.md).
_VERSIONED = b'{"apiVersion": "netfence.io/v1", "kind": "Connectivity", '
_FLAT_HEAD = _VERSIONED + b'"verdicts": ['
_FLAT_TAIL = b"\n]}\n"
_FLAT_EMPTY = _VERSIONED + b'"verdicts": []}\n'
_COMPACT_KIND = "CompactConnectivity"
_ALLOWED = "\N{CHECK MARK}"
_DENIED = "\N{BALLOT X}"
_BOLD, _GREEN, _RED, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[31m", "\x1b[0m"
_GAP = "  "
_CORNER = "SOURCE \\ DESTINATION"
_NAMED_CORNER = "SOURCE"  # the columns' names say they are destinations
# Lines of the table written at once: large enough to be quick, small enough that a table
# of thousands of columns is never held whole.
_BATCH = 256


def _bits(row: int, size: int) -> str:
    """The row as '0'/'1' characters, the character at d telling whether d is in it."""
    return format(row, "b")[::-1].ljust(size, "0") if row else "0" * size


def _picker(positions: Sequence[int]) -> Callable[[str], Sequence[str]]:
    """A function that takes the characters at `positions` of a string, in C."""
    if not positions:
        return lambda _: ()
    if len(positions) == 1:
        only = positions[0]
        return lambda text: (text[only],)
    return operator.itemgetter(*positions)


# --- every verdict --------------------------------------------------------------------------


def write_verdicts(matrix: Matrix, out: BinaryIO) -> None:
    """`{"verdicts": [...]}`, one verdict per line, in the order of `Matrix.verdicts`:
    sources, then destinations, then each port the destination declares, ascending."""
    endpoints = matrix.endpoints
    size = len(endpoints)
    names = [orjson.dumps(e.key) for e in endpoints]
    key_number = {key: number for number, key in enumerate(matrix.keys)}
    # Each verdict a source has, in order, as (destination, port): its position in the
    # concatenated bit strings of the source's rows, and its text without the source.
    positions: list[int] = []
    pieces: list[dict[str, bytes]] = []
    for destination, endpoint in enumerate(endpoints):
        for key in endpoint.declared():
            port, protocol = key
            positions.append(key_number[key] * size + destination)
            text = b', "destination": %s, "port": %d, "protocol": %s, "allowed": ' % (
                names[destination],
                port,
                orjson.dumps(protocol),
            )
            pieces.append({"1": text + b"true}", "0": text + b"false}"})
    if not positions or not size:
        out.write(_FLAT_EMPTY)
        return
    pick = _picker(positions)
    rows = [matrix.rows[key] for key in matrix.keys]
    # Sources of one controller are usually neighbours and share their rows: remember the
    # last few rows' texts, not every one (they are large: one piece per verdict).
    remembered: dict[tuple[int, ...], list[bytes]] = {}
    out.write(_FLAT_HEAD)
    first = True
    for source in range(size):
        own = tuple(row[source] for row in rows)
        identity = tuple(map(id, own))
        parts = remembered.get(identity)
        if parts is None:
            chosen = pick("".join(_bits(row, size) for row in own))
            parts = list(map(dict.__getitem__, pieces, chosen))
            if len(remembered) >= 64:
                remembered.pop(next(iter(remembered)))
            remembered[identity] = parts
        start = b'\n  {"source": ' if first else b',\n  {"source": '
        first = False
        out.write(start + names[source])
        out.write((b',\n  {"source": ' + names[source]).join(parts))
    out.write(_FLAT_TAIL)


# --- compact: the rows, shared ------------------------------------------------------------


def compact_document(matrix: Matrix) -> dict[str, object]:
    """The matrix in its own shape: distinct rows once, each source pointing at its rows.

    `allowed[s][p]` is the index in `rows` of the destinations source `s` may reach on
    `ports[p]`; a row lists endpoint indices, ascending, among the port's `declaredBy`.
    """
    rows, allowed = _shared_rows(matrix)
    return {
        "apiVersion": API_VERSION,
        "kind": _COMPACT_KIND,
        "endpoints": [e.key for e in matrix.endpoints],
        "ports": [_port(key, matrix.declared[key]) for key in matrix.keys],
        "rows": [bitsets.indices(row) for row in rows],
        "allowed": allowed,
    }


def _shared_rows(matrix: Matrix) -> tuple[list[int], list[list[int]]]:
    """The distinct rows as bitsets, and per source and port the index of its row."""
    distinct: dict[int, int] = {}
    by_identity: dict[int, int] = {}
    allowed: list[list[int]] = []
    per_key = [matrix.rows[key] for key in matrix.keys]
    for source in range(len(matrix.endpoints)):
        numbers = []
        for rows in per_key:
            row = rows[source]
            # Shared row objects are looked up by identity; equal rows of different
            # signatures by value, so each set of destinations is listed once.
            number = by_identity.get(id(row))
            if number is None:
                number = by_identity[id(row)] = distinct.setdefault(row, len(distinct))
            numbers.append(number)
        allowed.append(numbers)
    return list(distinct), allowed


def _port(key: PortKey, declared: int) -> dict[str, object]:
    port, protocol = key
    return {"port": port, "protocol": protocol, "declaredBy": bitsets.indices(declared)}


def write_compact(matrix: Matrix, out: BinaryIO) -> None:
    """`compact_document` as JSON, a row and a source per line; each row is made a list
    only while it is written, which at 20,000 pods saves most of the memory."""
    rows, allowed = _shared_rows(matrix)
    head = {"apiVersion": API_VERSION, "kind": _COMPACT_KIND}
    out.write(orjson.dumps(head)[:-1] + b',"endpoints":')
    out.write(orjson.dumps([e.key for e in matrix.endpoints]))
    ports = [_port(key, matrix.declared[key]) for key in matrix.keys]
    out.write(b',\n"ports":' + orjson.dumps(ports))
    out.write(b',\n"rows":[')
    for number, row in enumerate(rows):
        out.write((b"\n" if number == 0 else b",\n") + orjson.dumps(bitsets.indices(row)))
    out.write(b"\n]" if rows else b"]")
    out.write(b',\n"allowed":[')
    out.write(b",".join(b"\n" + orjson.dumps(numbers) for numbers in allowed))
    out.write(b"\n]" if allowed else b"]")
    out.write(b"}\n")


# --- the table ------------------------------------------------------------------------------


# Up to this many destinations a port's table is headed by their names, as kubectl would;
# past it names would make each line thousands of characters, so columns are numbered
# as the rows are.
NAMED_COLUMNS = 12


def write_table(matrix: Matrix, out: BinaryIO, *, colour: bool) -> None:
    """One table per (port, protocol): sources down, the destinations declaring the port
    across (by name up to NAMED_COLUMNS of them, else by the rows' numbers), a ✓ or ✗ in
    each cell (green and red with `colour`). Every column is as wide as its heading, so the
    table stays aligned at any size, and no line ends in spaces."""
    endpoints = matrix.endpoints
    size = len(endpoints)
    numbers = [str(i + 1) for i in range(size)]
    number_width = max(1, len(numbers[-1]) if numbers else 1)
    name_width = max([len(_CORNER), *(len(e.key) for e in endpoints)])
    numbered_lefts = [
        f"{number.ljust(number_width)}{_GAP}{e.key.ljust(name_width)}{_GAP}".encode()
        for number, e in zip(numbers, endpoints, strict=True)
    ]
    named_lefts = [f"{e.key.ljust(name_width)}{_GAP}".encode() for e in endpoints]
    yes = f"{_GREEN}{_ALLOWED}{_RESET}" if colour else _ALLOWED
    no = f"{_RED}{_DENIED}{_RESET}" if colour else _DENIED
    for key in matrix.keys:
        port, protocol = key
        columns = bitsets.indices(matrix.declared[key])
        named = len(columns) <= NAMED_COLUMNS
        headings = [endpoints[d].key if named else numbers[d] for d in columns]
        cells = [{"1": yes + " " * (len(h) - 1), "0": no + " " * (len(h) - 1)} for h in headings]
        pick = _picker(columns)
        header = _GAP.join(headings)
        title = f"{_BOLD}{port}/{protocol}{_RESET}" if colour else f"{port}/{protocol}"
        if named:
            corner = _NAMED_CORNER.ljust(name_width)
        else:
            corner = f"{'#'.ljust(number_width)}{_GAP}{_CORNER.ljust(name_width)}"
        lefts = named_lefts if named else numbered_lefts
        lines = [f"\n{title}\n".encode(), f"{corner}{_GAP}{header}".rstrip().encode() + b"\n"]
        # A row's cells as encoded text, once per distinct row object.
        texts: dict[int, bytes] = {}
        for source, row in enumerate(matrix.rows[key]):
            text = texts.get(id(row))
            if text is None:
                chosen = pick(_bits(row, size))
                cells_text = _GAP.join(map(dict.__getitem__, cells, chosen)).rstrip()
                text = texts[id(row)] = cells_text.encode() + b"\n"
            lines.append(lefts[source])
            lines.append(text)
            if len(lines) >= _BATCH:
                out.write(b"".join(lines))
                lines.clear()
        out.write(b"".join(lines))
