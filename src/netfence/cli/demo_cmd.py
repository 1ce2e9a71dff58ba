"""`netfence demo`: the product on the embedded default, one command on a fresh machine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from netfence.cli.context import DemoOutcome, Runtime, out, run
from netfence.cli.controller_cmd import configure_logging


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option("--dir", help="Control plane data directory.")] = Path(
        ".netfence/controlplane"
    ),
    port: Annotated[int, typer.Option(help="Port of the console.")] = 8080,
) -> None:
    """Start the local cluster with a demo application, the controller and the console, and
    prove on real connections that the application works behind its policies."""
    runtime: Runtime = ctx.find_root().obj.runtime
    kubeconfig = runtime.start_local_cluster(directory)
    configure_logging()
    run(_demo(runtime, kubeconfig, directory, port))


async def _demo(runtime: Runtime, kubeconfig: Path, directory: Path, port: int) -> None:
    created = await runtime.seed_demo(kubeconfig)
    out.print(
        f"Demo objects created: {created} (namespaces shop, payments, monitoring, "
        "ingress-nginx; a DNS pod in kube-system)."
    )
    clusters = await _second_cluster(runtime, directory)
    serving = asyncio.create_task(runtime.serve_demo(kubeconfig, port, clusters), name="console")
    picker = " Pick the cluster (dev or prod) in the header." if clusters is not None else ""
    out.print(
        f"\n[bold]Open http://127.0.0.1:{port}[/] - the console acts as the local clusters' "
        f"admin (the kubeconfig's user); no sign-in needed.{picker}\n"
        "CLI, in another terminal:\n"
        f"  export KUBECONFIG={clusters or kubeconfig}\n"
        "  .venv/bin/netfence status\n"
        "  .venv/bin/netfence enable payments --dry-run\n"
        + ("  .venv/bin/netfence status --context prod\n" if clusters is not None else "")
        + "Ctrl-C stops the console and the controllers; the clusters keep running "
        "(stop them with: .venv/bin/netfence controlplane down).\n"
    )
    proving = asyncio.create_task(runtime.prove_demo(kubeconfig, directory), name="proof")
    done, _ = await asyncio.wait({serving, proving}, return_when=asyncio.FIRST_COMPLETED)
    if proving in done:
        _print_proof(proving.result())
    else:
        proving.cancel()
    await serving


async def _second_cluster(runtime: Runtime, directory: Path) -> Path | None:
    """The second cluster, prod, so the console's picker has two; the demo goes on with
    one cluster if it cannot start (it is not what the proof on the wire is about)."""
    try:
        clusters = await runtime.start_second_cluster(directory)
    except Exception as e:  # noqa: BLE001 - reported, and the first cluster still serves
        out.print(f"[yellow]The second cluster (prod) did not start:[/] {escape(str(e))}")
        return None
    out.print(
        "Second cluster ready: prod (control plane only, its pods stay Pending; namespaces "
        f"storefront, jobs). Both are contexts of {clusters}.",
        markup=False,
    )
    return clusters


def _print_proof(outcomes: Sequence[DemoOutcome] | None) -> None:
    if outcomes is None:
        out.print("[yellow]No dataplane runs, so nothing was proven on the wire.[/]")
        return
    rows = [("", "FROM", "TO", "PORT", "EXPECTED", "OBSERVED", "WHY")]
    rows += [
        (
            "ok" if o.as_intended else "WRONG",
            o.source,
            o.destination,
            f"{o.port}/{o.protocol}",
            "allowed" if o.allowed else "blocked",
            o.observed,
            o.purpose,
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    wrong = sum(not o.as_intended for o in outcomes)
    out.print("The demo application on the wire (a fresh connection from inside each pod):")
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if wrong:
        out.print(
            f"[bold red]{wrong} of {len(outcomes)} connections do not behave as the demo "
            "intends.[/] See the controller's log above and `netfence check`."
        )
    else:
        out.print(
            f"[green]All {len(outcomes)} connections behave as intended:[/] the application "
            "works, and what its policies shut stays shut."
        )
