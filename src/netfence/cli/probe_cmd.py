"""`netfence probe`: real connections from every pod in scope, beside the prediction.

Agreements are summed up quietly (and shown as a matrix per port); every disagreement is
printed with the evaluator's explanation of its prediction. `-o json` is documented in
docs/probe.md. Exit code 3 with `--fail-on-disagreement` when any connection disagrees.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated

import typer
import yaml
from rich.text import Text

from netfence.cli import connectivity_output
from netfence.cli.context import EXIT_FINDINGS, err, fail, out, run, settings
from netfence.cli.output import Cell, Column, Output, print_table
from netfence.usecases import probing

DISAGREEMENT_EXIT = EXIT_FINDINGS  # docs/cli.md: 3, a command that found problems
_WIDE = 40
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*$")


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)


def parse_duration(text: str) -> float:
    """`1s`, `500ms`, `0.5` (seconds) -> seconds."""
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"--timeout {text!r} is not a duration: write e.g. 1s, 500ms or 0.5")
    value = float(found.group(1))
    return value / 1000 if found.group(2) == "ms" else value


def probe(
    ctx: typer.Context,
    namespace: Annotated[
        list[str] | None,
        typer.Option("-n", "--namespace", help="Probe the pods of these namespaces (repeat)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("-A", "--all-namespaces", help="Probe the pods of every namespace.")
    ] = False,
    workloads: Annotated[
        bool,
        typer.Option("-w", "--workloads", help="One pod per controller stands for it."),
    ] = False,
    port: Annotated[
        str | None,
        typer.Option("--port", "-p", help="Only this port: a number, or a declared port name."),
    ] = None,
    timeout: Annotated[
        str, typer.Option("--timeout", help="How long to wait for an answer, e.g. 1s, 500ms.")
    ] = "1s",
    parallel: Annotated[
        int, typer.Option("--parallel", help="Connections in flight at most.")
    ] = probing.DEFAULT_PARALLEL,
    output_format: Annotated[
        str, typer.Option("-o", "--output", help="table, json or yaml")
    ] = "table",
    fail_on_disagreement: Annotated[
        bool,
        typer.Option(
            "--fail-on-disagreement",
            help=f"Exit with {DISAGREEMENT_EXIT} when the wire disagrees with the prediction.",
        ),
    ] = False,
) -> None:
    """Open real connections from every pod in scope to every port each destination declares
    (TCP, UDP, SCTP) and set what the wire shows beside what the policies predict.

    Without -n or -A, the pods of namespace default. Available on the local cluster
    (its node agent probes inside the pods); see docs/probe.md.
    """
    if output_format not in ("table", "json", "yaml"):
        fail(f"unknown output format {output_format!r}: use table, json or yaml", 2)
    if namespace and all_namespaces:
        fail("give -n NAMESPACE or -A, not both", 2)
    try:
        seconds = parse_duration(timeout)
    except ValueError as e:
        fail(str(e), 2)
    scope = probing.Scope(
        namespaces=() if all_namespaces else tuple(namespace or ["default"]),
        workloads=workloads,
        port=port,
    )
    report = run(_probe(ctx, scope, seconds, parallel))
    if output_format == "json":
        sys.stdout.write(json.dumps(probing.as_json(report), indent=2) + "\n")
    elif output_format == "yaml":
        sys.stdout.write(yaml.safe_dump(probing.as_json(report), sort_keys=False))
    else:
        _print(report)
    if fail_on_disagreement and report.disagreements:
        raise typer.Exit(DISAGREEMENT_EXIT)


async def _probe(
    ctx: typer.Context, scope: probing.Scope, timeout: float, parallel: int
) -> probing.ProbeReport:
    async with settings(ctx).cluster() as cluster:
        return await probing.probe(cluster, scope, timeout=timeout, parallel=parallel)


# --- the table ----------------------------------------------------------------------------


def _print(report: probing.ProbeReport) -> None:
    for note in report.notes:
        err.print(Text(f"note: {note}", style="dim"), highlight=False)
    for left in report.not_probed:
        err.print(Text(f"not probed: {left.endpoint} {left.reason}", style="dim"), highlight=False)
    results = report.results
    if not results:
        where = ", ".join(report.scope.namespaces) or "any namespace"
        out.print(
            f"Nothing to probe in {where}: no running pod there declares a port"
            + (" matching --port" if report.scope.port else "")
            + (" (-A probes every namespace)." if report.scope.namespaces else ".")
        )
        return
    units = {r.case.source_unit for r in results} | {r.case.destination_unit for r in results}
    what = "controllers and bare pods" if report.scope.workloads else "pods"
    out.print(
        Text(
            f"Probed {len(results)} connections between {len(units)} {what} in "
            f"{len(report.namespaces)} namespace{'s' if len(report.namespaces) != 1 else ''} "
            f"in {report.seconds:.2f}s ({report.rate:.0f} connections/s, {report.parallel} at "
            f"once, timeout {report.timeout:g}s) at {report.started:%Y-%m-%d %H:%M:%S} UTC.",
        ),
        highlight=False,
    )
    counts = report.outcomes()
    disagreements = report.disagreements
    agreeing = len(results) - len(disagreements)
    out.print(
        Text.assemble(
            ("✓ ", "green"),
            f"{agreeing} agree with the prediction: {counts['connected']} connected, "
            f"{counts['refused']} refused (allowed, nothing listening), "
            f"{counts['dropped']} dropped",
            (f", {counts['unreachable']} unreachable" if counts["unreachable"] else ""),
            ".",
        ),
        highlight=False,
    )
    if disagreements:
        out.print(
            Text.assemble(
                ("✗ ", "bold red"),
                (f"{len(disagreements)} disagree:", "bold red"),
            ),
            highlight=False,
        )
        for result in disagreements:
            _print_disagreement(result)
    if len(units) <= _WIDE:
        _print_matrices(report)
    else:
        out.print("[dim]Many endpoints: narrow with -n NAMESPACE, or read -o json.[/]")
    out.print()
    out.print("[dim]Traffic between a pod and its own node is always allowed and is not probed.[/]")


def _print_disagreement(result: probing.Probed) -> None:
    case = result.case
    predicted = "allowed" if case.predicted else "denied"
    observed = result.observed.outcome
    said = f" ({result.observed.answer} answered)" if result.observed.answer else ""
    tries = f", {result.attempts} tries" if result.attempts > 1 else ""
    out.print()
    out.print(
        Text(
            f"  {case.source} → {case.destination} ({case.address}) on "
            f"{case.port}/{case.protocol}: predicted {predicted}, observed {observed}"
            f"{said}{tries}",
            style="bold red",
        ),
        highlight=False,
    )
    if result.explanation is not None:
        out.print(Text(f"    why the evaluator predicted {predicted}:"), highlight=False)
        for line in result.explanation.reasons():
            out.print(Text(f"      {line}"), highlight=False)


NAMED_COLUMNS = connectivity_output.NAMED_COLUMNS
TABLE_OUTPUT = Output()


def _print_matrices(report: probing.ProbeReport) -> None:
    by_port: dict[tuple[int, str], dict[tuple[str, str], probing.Probed]] = {}
    for result in report.results:
        case = result.case
        cells = by_port.setdefault((case.port, case.protocol), {})
        cells[(case.source_unit, case.destination_unit)] = result
    sources = sorted({r.case.source_unit for r in report.results})
    number = {unit: str(i + 1) for i, unit in enumerate(sources)}
    out.print()
    out.print(
        "Rows are sources, columns destinations: [green]✓[/] allowed and [dim]✗[/] denied, as "
        "predicted and observed; [bold red]![/] where the wire disagrees (what it showed)."
    )
    for (port, protocol), cells in sorted(by_port.items()):
        destinations = sorted({d for _, d in cells})
        # Destinations by name while few (as the connectivity table), else by row number;
        # plain aligned columns, never wrapped nor cut, as every table of the CLI.
        named = len(destinations) <= NAMED_COLUMNS
        headings = [d if named else number.get(d, d) for d in destinations]
        columns = [Column("SOURCE" if named else "SOURCE \\ DESTINATION")]
        columns = [*([] if named else [Column("#")]), *columns, *map(Column, headings)]
        rows: list[list[Cell]] = []
        for source in sources:
            row: list[Cell] = [source] if named else [number[source], source]
            row += [_cell(cells.get((source, destination))) for destination in destinations]
            rows.append(row)
        out.print()
        out.print(Text(f"{port}/{protocol}", style="bold"), highlight=False)
        print_table(columns, rows, TABLE_OUTPUT)


def _cell(result: probing.Probed | None) -> Cell:
    if result is None:
        return "-"
    through = result.observed.allowed
    if result.agrees:
        return ("✓", "green") if through else ("✗", "dim")
    return ("!✓", "bold red") if through else ("!✗", "bold red")
