"""`netfence demo`: the product on the embedded default, one command on a fresh machine."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from netfence.cli.context import out, run
from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ensure_binary, needs_build, start
from netfence.localcluster.demo import seed
from netfence.web.serving import serve
from netfence.web.settings import LOOPBACK_HOSTS, WebSettings


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="Control plane data directory.")] = Path(
        ".netfence/controlplane"
    ),
    port: Annotated[int, typer.Option(help="Port of the console.")] = 8080,
) -> None:
    """Start the local control plane with demo workloads, the controller and the console."""
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
    run(_demo(cp.kubeconfig.resolve(), port))


async def _demo(kubeconfig: Path, port: int) -> None:
    client = connecting.client_for(kubeconfig)
    try:
        created = await seed(client, netfence_namespace=naming.DEFAULT_NETFENCE_NAMESPACE)
    finally:
        await client.close()
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
    web = WebSettings(cluster=connecting.load_config(kubeconfig), allowed_hosts=LOOPBACK_HOSTS)
    await serve(web, host="127.0.0.1", port=port, controller=True)
