"""`netfence demo`: the product on the embedded default, one command on a fresh machine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netfence.cli.context import Runtime, out, run
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
    """Start the local control plane with demo workloads, the controller and the console."""
    runtime: Runtime = ctx.find_root().obj.runtime
    kubeconfig = runtime.start_local_cluster(directory)
    configure_logging()
    run(_demo(runtime, kubeconfig, port))


async def _demo(runtime: Runtime, kubeconfig: Path, port: int) -> None:
    created = await runtime.seed_demo(kubeconfig)
    out.print(f"Demo objects created: {created} (namespaces shop, payments, monitoring).")
    out.print(
        f"\n[bold]Open http://127.0.0.1:{port}[/] - the console acts as the local cluster's "
        "admin (the kubeconfig's user); no sign-in needed.\n"
        "CLI, in another terminal:\n"
        f"  export KUBECONFIG={kubeconfig}\n"
        "  .venv/bin/netfence status\n"
        "  .venv/bin/netfence enable payments --dry-run\n"
        "Ctrl-C stops the console and the controller; the control plane keeps running "
        "(stop it with: .venv/bin/netfence controlplane down).\n"
    )
    await runtime.serve_demo(kubeconfig, port)
