"""`connectivity`, `explain`, `check`: what can talk to what, why, and what looks wrong.

Each reads the live cluster, or with `--from-files` ordinary manifests offline (no
kubeconfig needed). The format of `connectivity -o json` is documented in
docs/connectivity.md.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.text import Text

from netfence.cli import output
from netfence.cli.context import Settings, err, fail, out, report, run, settings
from netfence.cli.output import Format
from netfence.core import cidrs, manifests
from netfence.core.endpoints import parse_protocol
from netfence.core.evaluation import pitfalls
from netfence.core.evaluation.verdicts import Verdict
from netfence.usecases import connectivity as cases

OutputOption = Annotated[Format, typer.Option("-o", "--output", help="table, json or yaml")]
FilesOption = Annotated[
    list[Path] | None,
    typer.Option(
        "-f",
        "--from-files",
        help=(
            "Read manifests (YAML or JSON, multi-document, kind: List; a directory is read "
            "recursively; - is stdin) instead of the cluster. More paths may follow."
        ),
        show_default=False,
    ),
]
MoreFilesArg = Annotated[
    list[Path] | None,
    typer.Argument(help="More files for --from-files.", show_default=False),
]
WorkloadsOption = Annotated[
    bool,
    typer.Option(
        "-w", "--workloads", help="Controllers (from their pod templates) instead of pods."
    ),
]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_WIDE = 40


def register(app: typer.Typer) -> None:
    app.command("connectivity")(connectivity)
    app.command("explain")(explain)
    app.command("check")(check)


# --- reading -----------------------------------------------------------------------------


def _inventory(
    s: Settings, files: list[Path] | None, more: list[Path] | None
) -> manifests.Inventory:
    inventory = _read(s, files, more)
    for found in cidrs.non_canonical(inventory.policies):
        err.print(Text(f"warning: {found}"), style="yellow", highlight=False)
    return inventory


def _read(s: Settings, files: list[Path] | None, more: list[Path] | None) -> manifests.Inventory:
    if more and not files:
        fail(
            f"unexpected arguments {' '.join(map(str, more))}: files are read with --from-files",
            2,
        )
    if files:
        try:
            return manifests.read(_documents([*files, *(more or [])]))
        except manifests.InvalidManifests as e:
            report("the files cannot be read:" if len(e.problems) > 1 else str(e))
            if len(e.problems) > 1:
                for problem in e.problems:
                    err.print(Text(f"  - {problem}"), highlight=False)
            raise typer.Exit(2) from e
    return run(_survey(s))


async def _survey(s: Settings) -> manifests.Inventory:
    async with s.cluster() as cluster:
        inventory = await cluster.reader.inventory()
    if "pods" in inventory.unreadable:
        err.print(
            Text(
                "note: you may not list pods in all namespaces, so only controllers are "
                "analysed (as with --workloads)",
                style="dim",
            ),
            highlight=False,
        )
    return inventory


def _documents(paths: Iterable[Path]) -> Iterator[tuple[str, object]]:
    for path in _expand(paths):
        try:
            text = sys.stdin.read() if str(path) == "-" else path.read_text()
        except OSError as e:
            raise manifests.InvalidManifests([f"{path}: {e.strerror or e}"]) from e
        name = "stdin" if str(path) == "-" else str(path)
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"{name}:{mark.line + 1}" if mark is not None else name
            raise manifests.InvalidManifests(
                [f"{where}: not valid YAML ({getattr(e, 'problem', None) or e})"]
            ) from e
        for index, document in enumerate(documents):
            yield (f"{name} document {index + 1}" if len(documents) > 1 else name), document


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix in _MANIFEST_SUFFIXES
            )
        else:
            yield path


# --- connectivity ------------------------------------------------------------------------


def connectivity(
    ctx: typer.Context,
    from_files: FilesOption = None,
    more: MoreFilesArg = None,
    workloads: WorkloadsOption = False,
    namespace: Annotated[
        list[str] | None,
        typer.Option("-n", "--namespace", help="Only endpoints in these namespaces (repeat)."),
    ] = None,
    output_format: OutputOption = Format.TABLE,
) -> None:
    """Who can reach whom on each declared port: a matrix per port, or every verdict as JSON.

    Policies are evaluated as the Kubernetes API defines them; the result is only enforced
    if the cluster's network plugin enforces NetworkPolicy (see `netfence check`).
    """
    inventory = _inventory(settings(ctx), from_files, more)
    if "pods" in inventory.unreadable and not workloads:
        fail("a pod-level matrix needs to list pods in all namespaces; use --workloads", 3)
    result = cases.connectivity(inventory, workloads=workloads, namespaces=namespace or ())
    if output_format is Format.JSON:
        _print_verdicts_json(result)
    elif output_format is Format.YAML:
        output.emit_data({"verdicts": list(_verdicts(result))}, Format.YAML)
    else:
        _print_matrix(result, workloads=workloads)


def _verdicts(result: cases.Connectivity) -> Iterator[dict[str, object]]:
    keys = [e.key for e in result.matrix.endpoints]
    for source, destination, (port, protocol), allowed in result.matrix.verdicts():
        yield {
            "source": keys[source],
            "destination": keys[destination],
            "port": port,
            "protocol": protocol,
            "allowed": allowed,
        }


def _print_verdicts_json(result: cases.Connectivity) -> None:
    """One verdict per line: valid JSON that stays readable and streams for big clusters."""
    write = sys.stdout.write
    write('{"verdicts": [')
    separator = "\n  "
    for verdict in _verdicts(result):
        write(separator + json.dumps(verdict))
        separator = ",\n  "
    write("\n]}\n" if separator != "\n  " else "]}\n")


def _print_matrix(result: cases.Connectivity, *, workloads: bool) -> None:
    matrix = result.matrix
    endpoints = matrix.endpoints
    what = "controllers" if workloads else "pods"
    if not endpoints:
        hint = "" if workloads else " (--workloads shows controllers, which exist before pods)"
        out.print(f"No {what} found{hint}.")
        return
    if not matrix.keys:
        out.print(
            f"None of the {len(endpoints)} {what} declares a container port, so there is no "
            "matrix to show; ask about one port with: netfence explain SRC DST --port PORT"
        )
        return
    number = {i: str(i + 1) for i in range(len(endpoints))}
    out.print(
        f"Connectivity of {len(endpoints)} {what} on their declared ports: rows are sources, "
        "columns destinations, [green]✓[/] allowed, [red]✗[/] denied."
    )
    for key in matrix.keys:
        port, protocol = key
        columns = [d for d in range(len(endpoints)) if matrix.declared[key] >> d & 1]
        rows = []
        for source in range(len(endpoints)):
            row = matrix.rows[key][source]
            cells = ["[green]✓[/]" if row >> d & 1 else "[red]✗[/]" for d in columns]
            rows.append([number[source], endpoints[source].key, *cells])
        out.print()
        out.print(
            output.table(
                f"[bold]{port}/{protocol}[/]",
                ["#", "SOURCE \\ DESTINATION", *(number[d] for d in columns)],
                rows,
            )
        )
    allowed, total = matrix.counts()
    out.print()
    out.print(f"{allowed} of {total} connections allowed.")
    out.print(
        "[dim]A pod always reaches itself; traffic between a pod and its own node is always "
        "allowed and not shown (docs/connectivity.md, Semantics).[/]"
    )
    if len(endpoints) > _WIDE:
        out.print(
            "[dim]Many endpoints: narrow the matrix with -n NAMESPACE, or use -o json.[/]",
        )


# --- explain -----------------------------------------------------------------------------


def explain(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="NAMESPACE/POD or NAMESPACE/KIND/NAME.")],
    destination: Annotated[str, typer.Argument(help="NAMESPACE/POD or NAMESPACE/KIND/NAME.")],
    port: Annotated[
        str,
        typer.Option("--port", "-p", help="Port number, or a port name the destination declares."),
    ],
    protocol: Annotated[str, typer.Option("--protocol", help="TCP, UDP or SCTP.")] = "TCP",
    from_files: FilesOption = None,
    more: MoreFilesArg = None,
    workloads: Annotated[
        bool,
        typer.Option("-w", "--workloads", help="Read NAMESPACE/NAME as a controller first."),
    ] = False,
    output_format: OutputOption = Format.TABLE,
) -> None:
    """Whether SOURCE may open a connection to DESTINATION on a port, and why."""
    try:
        wanted = parse_protocol(protocol)
    except ValueError as e:
        fail(str(e), 2)
    inventory = _inventory(settings(ctx), from_files, more)
    verdict = run(
        _explained(inventory, source, destination, port=port, protocol=wanted, workloads=workloads)
    )
    if output_format is not Format.TABLE:
        output.emit_data(verdict.as_json(), output_format)
        return
    colour = "green" if verdict.allowed else "red"
    out.print(Text(verdict.headline(), style=f"bold {colour}"), highlight=False)
    for line in verdict.reasons():
        out.print(Text(line), highlight=False)
    for note in verdict.notes:
        out.print(Text(f"note: {note}", style="dim"), highlight=False)


async def _explained(
    inventory: manifests.Inventory,
    source: str,
    destination: str,
    *,
    port: str,
    protocol: str,
    workloads: bool,
) -> Verdict:
    # Run through `run` so that a NotFound or a bad port becomes a message and an exit code.
    return cases.explain(
        inventory, source, destination, port=port, protocol=protocol, workloads=workloads
    )


# --- check -------------------------------------------------------------------------------


def check(
    ctx: typer.Context,
    from_files: FilesOption = None,
    more: MoreFilesArg = None,
    fail_on_findings: Annotated[
        bool, typer.Option("--fail-on-findings", help="Exit with 1 when anything is found.")
    ] = False,
    output_format: OutputOption = Format.TABLE,
) -> None:
    """Pitfalls: no DNS, selectors that match nothing, OR meant as AND, no enforcing plugin."""
    inventory = _inventory(settings(ctx), from_files, more)
    # Network plugins run in the cluster; files rarely hold them, so only a live cluster
    # is judged for one.
    live = not from_files
    found = cases.check(inventory, look_for_plugin=live)
    if output_format is not Format.TABLE:
        output.emit_data({"findings": [f.as_json() for f in found]}, output_format)
    else:
        _print_findings(found, live=live)
    if found and fail_on_findings:
        raise typer.Exit(1)


def _print_findings(found: list[pitfalls.Finding], *, live: bool) -> None:
    if not found:
        out.print("[green]✔[/] No pitfalls found.")
    for finding in found:
        out.print(Text.assemble(("⚠ ", "yellow"), (finding.kind.value, "bold")), highlight=False)
        out.print(Text(f"  {finding.message}"), highlight=False)
        if finding.objects:
            out.print(Text(f"  objects: {', '.join(finding.objects)}"), highlight=False)
        out.print(Text(f"  fix: {finding.fix}"), highlight=False)
    if not live:
        out.print("[dim]The network plugin check needs a live cluster; it was skipped.[/]")
