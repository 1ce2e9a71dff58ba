"""`netfence lab up|down`: a cluster's exported manifests on the local cluster, with real
pods, to try policies on real packets before rolling them out (docs/lab.md).

A dev tool like `controlplane`, reached through the runtime the composition root gives.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from netfence.cli.context import LabSummary, Runtime, run
from netfence.cli.controlplane_cmd import DEFAULT_DIR, DirOption

app = typer.Typer(help="A copy of a cluster's objects on the local cluster, with real pods.")

_out = Console()
_err = Console(stderr=True)
_SUFFIXES = (".yaml", ".yml", ".json")


def _fail(message: str, code: int = 1) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=code)


def _documents(paths: list[Path]) -> Iterator[object]:
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.suffix in _SUFFIXES) if path.is_dir() else [path]
        )
        for file in files:
            text = sys.stdin.read() if str(file) == "-" else file.read_text()
            yield from yaml.safe_load_all(text)


def _runtime(ctx: typer.Context) -> Runtime:
    runtime: Runtime = ctx.find_root().obj.runtime
    return runtime


# Through `run`, so that a domain error becomes its message and exit code.
async def _lab_up(runtime: Runtime, directory: Path, documents: list[object]) -> LabSummary:
    return runtime.lab_up(directory, documents)


async def _lab_down(runtime: Runtime, directory: Path) -> int:
    return runtime.lab_down(directory)


@app.command()
def up(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Option(
            "-f",
            "--filename",
            help="Exported manifests (YAML or JSON, lists, directories, - for stdin).",
        ),
    ],
    directory: DirOption = DEFAULT_DIR,
) -> None:
    """Load exported manifests (kubectl get ns,deploy,sts,ds,cronjob,pod,netpol -A -o yaml)
    onto the local control plane: namespaces, controllers, one running pod per controller,
    NetworkPolicies as they are. Needs root (the pods are network namespaces)."""
    try:
        documents = list(_documents(files))
    except (OSError, yaml.YAMLError) as e:
        raise _fail(f"the files cannot be read: {e}", 2) from e
    made = run(_lab_up(_runtime(ctx), directory, documents))
    plan = made.plan
    _out.print(
        f"[green]Lab up[/] in {made.seconds:.1f}s on node {escape(made.node)} "
        f"(pod CIDR {escape(made.pod_cidr)}): {len(plan.namespaces)} namespaces, "
        f"{len(plan.controllers)} controllers, {made.pods} running pods, "
        f"{len(plan.policies)} NetworkPolicies."
    )
    for kind, count in plan.skipped.items():
        _out.print(f"  [dim]not made: {count} of kind {escape(kind)}[/]")
    for warning in plan.warnings:
        _err.print(f"[yellow]warning:[/] {escape(warning)}")
    _out.print(
        f"\n  export KUBECONFIG={escape(str(made.kubeconfig))}\n"
        "  netfence probe -A          # real packets beside the prediction\n"
        "  netfence lab down          # removes it"
    )


@app.command()
def down(ctx: typer.Context, directory: DirOption = DEFAULT_DIR) -> None:
    """Remove every object the lab made and stop its node."""
    removed = run(_lab_down(_runtime(ctx), directory))
    _out.print(f"[green]Lab down[/]: {removed} objects removed, its node stopped.")
