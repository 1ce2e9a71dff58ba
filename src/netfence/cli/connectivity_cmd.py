"""`connectivity`, `explain`, `check`: what can talk to what, why, and what looks wrong.

Each reads the live cluster, or with `--from-files` ordinary manifests offline (no
kubeconfig needed). The format of `connectivity -o json` is documented in
docs/connectivity.md.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.text import Text

from netfence.cli import connectivity_output, leadership, output
from netfence.cli.context import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_USAGE,
    Settings,
    err,
    fail,
    out,
    report,
    run,
    settings,
)
from netfence.cli.options import TABLE, AllNamespacesOption, DocumentOutputOption
from netfence.cli.output import DOCUMENTS, Format
from netfence.core import cidrs, manifests
from netfence.core.endpoints import parse_protocol
from netfence.core.evaluation import pitfalls
from netfence.core.evaluation.verdicts import Verdict
from netfence.usecases import connectivity as cases
from netfence.usecases import leadership as leading

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
            return manifests.read_texts(_texts([*files, *(more or [])]))
        except manifests.InvalidManifests as e:
            report("the files cannot be read:" if len(e.problems) > 1 else str(e))
            if len(e.problems) > 1:
                for problem in e.problems:
                    err.print(Text(f"  - {problem}"), highlight=False)
            raise typer.Exit(EXIT_ERROR) from e
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


def _texts(paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """Each file's bytes, decoded by the core (`manifests.read_texts`), one at a time."""
    for path in _expand(paths):
        stdin = str(path) == "-"
        try:
            text = sys.stdin.buffer.read() if stdin else path.read_bytes()
        except OSError as e:
            raise manifests.InvalidManifests([f"{path}: {e.strerror or e}"]) from e
        yield ("stdin" if stdin else str(path)), text


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
    _all_namespaces: AllNamespacesOption = False,
    output_format: DocumentOutputOption = TABLE,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact",
            help="With -o json or yaml: each distinct row once, sources pointing at their rows.",
        ),
    ] = False,
) -> None:
    """Who can reach whom on each declared port: a matrix per port, or every verdict as JSON.

    Every namespace by default (-A says so explicitly); -n narrows it. Policies are
    evaluated as the Kubernetes API defines them; the result is only enforced if the
    cluster's network plugin enforces NetworkPolicy (see `netfence check`).
    """
    fmt = output_format.allow("connectivity", *DOCUMENTS)
    if compact and not fmt.is_document:
        fail(
            "--compact is a form of -o json, yaml or jsonpath; the table is compact already",
            EXIT_USAGE,
        )
    inventory = _inventory(settings(ctx), from_files, more)
    if "pods" in inventory.unreadable and not workloads:
        fail("a pod-level matrix needs to list pods in all namespaces; use --workloads")
    result = cases.connectivity(inventory, workloads=workloads, namespaces=namespace or ())
    if fmt.format is Format.JSON:
        writer = (
            connectivity_output.write_compact if compact else connectivity_output.write_verdicts
        )
        _write(lambda stream: writer(result.matrix, stream))
    elif fmt.is_document and compact:
        output.emit(connectivity_output.compact_document(result.matrix), fmt)
    elif fmt.is_document:
        output.emit(output.document("Connectivity", verdicts=list(_verdicts(result))), fmt)
    else:
        _print_matrix(result, workloads=workloads)


def _write(writer: Callable[[BinaryIO], None]) -> None:
    """Bytes straight to standard output, after whatever was printed as text."""
    sys.stdout.flush()
    writer(sys.stdout.buffer)
    sys.stdout.buffer.flush()


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
    out.print(
        f"Connectivity of {len(endpoints)} {what} on their declared ports: rows are sources, "
        "columns destinations, [green]✓[/] allowed, [red]✗[/] denied."
    )
    # Written directly rather than as rich tables: thousands of sources by thousands of
    # columns would take rich minutes, and every row shared by several sources is
    # written out once (see `connectivity_output`).
    colour = out.color_system is not None
    _write(lambda stream: connectivity_output.write_table(matrix, stream, colour=colour))
    allowed, total = matrix.counts()
    out.print()
    out.print(f"{allowed} of {total} connections allowed.")
    out.print(
        "[dim]A pod always reaches itself; traffic between a pod and its own node is always "
        "allowed and not shown (docs/connectivity.md, Semantics).[/]"
    )
    if len(endpoints) > _WIDE:
        out.print(
            "[dim]Many endpoints: narrow the matrix with -n NAMESPACE, or use -o json "
            "--compact.[/]",
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
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Whether SOURCE may open a connection to DESTINATION on a port, and why."""
    fmt = output_format.allow("explain", *DOCUMENTS)
    try:
        wanted = parse_protocol(protocol)
    except ValueError as e:
        fail(str(e), 2)
    inventory = _inventory(settings(ctx), from_files, more)
    verdict = run(
        _explained(inventory, source, destination, port=port, protocol=wanted, workloads=workloads)
    )
    if fmt.is_document:
        output.emit(output.document("Explanation", **verdict.as_json()), fmt)
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
        bool,
        typer.Option(
            "--fail-on-findings",
            help=f"Exit with {EXIT_FINDINGS} when anything is found (1 stays for errors).",
        ),
    ] = False,
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Pitfalls: no DNS, selectors matching nothing, OR meant as AND, no enforcing plugin.

    On a live cluster, also whether a netfence controller holds its Lease.
    """
    fmt = output_format.allow("check", *DOCUMENTS)
    s = settings(ctx)
    inventory = _inventory(s, from_files, more)
    # Network plugins and the controller run in the cluster; files rarely hold them, so
    # only a live cluster is judged for them.
    live = not from_files
    found = cases.check(inventory, look_for_plugin=live)
    lead = run(_leadership(s)) if live else None
    absent = lead is not None and lead.live is False
    if fmt.is_document:
        output.emit(
            output.document(
                "CheckResult",
                findings=[f.as_json() for f in found],
                controller=lead.as_json() if lead is not None else None,
            ),
            fmt,
        )
    else:
        if lead is not None:
            leadership.warn(lead)
        _print_findings(found, live=live, quiet=absent)
    if (found or absent) and fail_on_findings:
        raise typer.Exit(EXIT_FINDINGS)


async def _leadership(s: Settings) -> leading.Leadership:
    async with s.cluster() as cluster:
        return await leadership.presence(cluster)


def _print_findings(found: list[pitfalls.Finding], *, live: bool, quiet: bool = False) -> None:
    if not found and not quiet:
        out.print("[green]✔[/] No pitfalls found.")
    elif not found:
        out.print("No pitfalls found in the policies.")
    for finding in found:
        out.print(Text.assemble(("⚠ ", "yellow"), (finding.kind.value, "bold")), highlight=False)
        out.print(Text(f"  {finding.message}"), highlight=False)
        if finding.objects:
            out.print(Text(f"  objects: {', '.join(finding.objects)}"), highlight=False)
        out.print(Text(f"  fix: {finding.fix}"), highlight=False)
    if not live:
        out.print("[dim]The network plugin check needs a live cluster; it was skipped.[/]")
