"""`netfence demo`: the product on the embedded default, one command on a fresh machine."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Annotated

import typer

from netfence.cli.context import out, run
from netfence.controller.running import ControllerSettings, run_controller
from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ensure_binary, needs_build, start
from netfence.localcluster.demo import seed


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Control plane data directory.")] = Path(
        ".netfence/controlplane"
    ),
) -> None:
    """Start the local control plane, create demo workloads, and run the controller."""
    if needs_build():
        out.print("Building the local control plane (first time only: a few minutes)...")
        ensure_binary()
    cp = start(directory)
    out.print(f"Control plane ready at {cp.server}")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    run(_demo(cp.kubeconfig.resolve()))


async def _demo(kubeconfig: Path) -> None:
    client = connecting.client_for(kubeconfig)
    try:
        created = await seed(client, netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE)
        out.print(f"Demo objects created: {created} (namespaces shop, payments, monitoring).")
        out.print(
            "\nIn another terminal:\n"
            f"  export KUBECONFIG={kubeconfig}\n"
            "  .venv/bin/netfence status\n"
            "  .venv/bin/netfence enable payments --dry-run\n"
            "  .venv/bin/netfence attach deployment/api https -n shop\n"
            "\nRunning the controller; Ctrl-C stops it "
            "(the control plane keeps running: `netfence controlplane down`).\n"
        )
        with contextlib.suppress(asyncio.CancelledError):
            await run_controller(client, ControllerSettings())
    finally:
        await client.close()
