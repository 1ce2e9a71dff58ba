"""The connectivity writers: every verdict, the compact rows and the table describe one matrix."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from netfence.cli import connectivity_output
from netfence.core.evaluation import matrices
from netfence.core.evaluation.evaluators import Evaluator
from tests.core import random_clusters

SEEDS = range(60)


def matrix_of(seed: int) -> matrices.Matrix:
    namespaces, endpoints, policies = random_clusters.cluster(seed)
    ordered = sorted(endpoints, key=lambda e: e.key)
    return matrices.compute(Evaluator(namespaces=namespaces, endpoints=ordered, policies=policies))


def written(writer: Any, matrix: matrices.Matrix, **options: Any) -> bytes:
    buffer = io.BytesIO()
    writer(matrix, buffer, **options)
    return buffer.getvalue()


def verdicts_one_by_one(matrix: matrices.Matrix) -> bytes:
    """What `-o json` printed before it was written in bulk: one json.dumps per verdict."""
    keys = [e.key for e in matrix.endpoints]
    lines = [
        json.dumps(
            {
                "source": keys[s],
                "destination": keys[d],
                "port": port,
                "protocol": protocol,
                "allowed": allowed,
            }
        )
        for s, d, (port, protocol), allowed in matrix.verdicts()
    ]
    head = '{"apiVersion": "netfence.io/v1", "kind": "Connectivity", "verdicts": ['
    if not lines:
        return (head + "]}\n").encode()
    return (head + "\n  " + ",\n  ".join(lines) + "\n]}\n").encode()


def expanded(compact: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat verdicts a script rebuilds from the compact form, in the flat form's order."""
    names = compact["endpoints"]
    declared: dict[int, list[int]] = {}
    for number, port in enumerate(compact["ports"]):
        for destination in port["declaredBy"]:
            declared.setdefault(destination, []).append(number)
    found = []
    for source, row_numbers in enumerate(compact["allowed"]):
        for destination in range(len(names)):
            for number in declared.get(destination, []):
                port = compact["ports"][number]
                found.append(
                    {
                        "source": names[source],
                        "destination": names[destination],
                        "port": port["port"],
                        "protocol": port["protocol"],
                        "allowed": destination in compact["rows"][row_numbers[number]],
                    }
                )
    return found


@pytest.mark.parametrize("seed", SEEDS)
def test_every_verdict_is_written_exactly_as_one_dumps_per_verdict_wrote_it(seed: int) -> None:
    matrix = matrix_of(seed)
    assert written(connectivity_output.write_verdicts, matrix) == verdicts_one_by_one(matrix)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_compact_form_describes_the_same_matrix_as_the_flat_one(seed: int) -> None:
    matrix = matrix_of(seed)
    flat = json.loads(written(connectivity_output.write_verdicts, matrix))["verdicts"]
    compact = json.loads(written(connectivity_output.write_compact, matrix))
    assert expanded(compact) == flat


@pytest.mark.parametrize("seed", SEEDS)
def test_the_compact_json_reads_back_as_the_document_it_was_written_from(seed: int) -> None:
    matrix = matrix_of(seed)
    document = connectivity_output.compact_document(matrix)
    assert json.loads(written(connectivity_output.write_compact, matrix)) == document
    # Each distinct row once: two sources with the same destinations share a row.
    rows = [tuple(row) for row in document["rows"]]  # type: ignore[attr-defined]
    assert len(rows) == len(set(rows))


def test_rows_shared_by_sources_are_listed_once() -> None:
    matrix = matrix_of(3)
    document = connectivity_output.compact_document(matrix)
    allowed = document["allowed"]
    assert isinstance(allowed, list)
    assert len(allowed) == len(matrix.endpoints)
    assert all(len(numbers) == len(matrix.keys) for numbers in allowed)


@pytest.mark.parametrize("named_columns", [connectivity_output.NAMED_COLUMNS, 0])
@pytest.mark.parametrize("seed", SEEDS)
def test_the_table_shows_each_verdict_in_its_column(
    seed: int, named_columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns by name while few (all of these clusters' ports), by number past that."""
    monkeypatch.setattr(connectivity_output, "NAMED_COLUMNS", named_columns)
    matrix = matrix_of(seed)
    keys = [e.key for e in matrix.endpoints]
    text = written(connectivity_output.write_table, matrix, colour=False).decode()
    assert all(line == line.rstrip() for line in text.splitlines())
    tables = [block.strip("\n").splitlines() for block in text.split("\n\n") if block.strip()]
    assert [block[0] for block in tables] == [f"{p}/{q}" for p, q in matrix.keys]
    for key, (_, header, *rows) in zip(matrix.keys, tables, strict=True):
        declared = [d for d in range(len(keys)) if matrix.declared[key] >> d & 1]
        named = len(declared) <= named_columns
        if named:
            assert header.split()[0] == "SOURCE"
            columns = [keys.index(name) for name in header.split()[1:]]
        else:
            assert header.split()[:4] == ["#", "SOURCE", "\\", "DESTINATION"]
            columns = [int(n) - 1 for n in header.split()[4:]]
        assert columns == declared
        assert len(rows) == len(keys)
        for source, line in enumerate(rows):
            words = line.split()
            if named:
                name, *cells = words
            else:
                number, name, *cells = words
                assert int(number) - 1 == source
            assert name == keys[source]
            assert cells == ["✓" if matrix.allowed(source, d, key) else "✗" for d in columns]


def test_the_table_colours_its_cells_only_when_asked() -> None:
    matrix = next(m for m in map(matrix_of, SEEDS) if m.keys)
    plain = written(connectivity_output.write_table, matrix, colour=False).decode()
    coloured = written(connectivity_output.write_table, matrix, colour=True).decode()
    assert "\x1b[" not in plain
    assert "\x1b[32m✓\x1b[0m" in coloured or "\x1b[31m✗\x1b[0m" in coloured


def test_a_matrix_without_ports_is_an_empty_json_list() -> None:
    matrix = matrices.compute(Evaluator(namespaces=(), endpoints=(), policies=()))
    versioned = {"apiVersion": "netfence.io/v1"}
    flat = json.loads(written(connectivity_output.write_verdicts, matrix))
    assert flat == {**versioned, "kind": "Connectivity", "verdicts": []}
    assert json.loads(written(connectivity_output.write_compact, matrix)) == {
        **versioned,
        "kind": "CompactConnectivity",
        "endpoints": [],
        "ports": [],
        "rows": [],
        "allowed": [],
    }
