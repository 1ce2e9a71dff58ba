"""`netfence controlplane up|down`: the local control plane for demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from netfence.localcluster import (
    BuildError,
    ControlPlaneError,
    ensure_binary,
    is_running,
    needs_build,
    start,
    stop,
)
from netfence.localcluster.running import log_file, recorded_server

app = typer.Typer(
    help=(
        "Run a local control plane (etcd, kube-apiserver, kube-controller-manager, "
        "kube-scheduler) for demos and tests."
    )
)

DEFAULT_DIR = Path(".netfence/controlplane")
DirOption = Annotated[
    Path,
    typer.Option("--dir", help="Data directory of the control plane (certificates, tokens, etcd)."),
]

_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=1)


@app.command()
def up(directory: DirOption = DEFAULT_DIR) -> None:
    """Build the control plane if needed, start it (or reuse a running one) and wait until ready."""
    try:
        already = is_running(directory)
        before = None if already else recorded_server(directory)
        if not already and needs_build():
            _out.print(
                "Building the control plane (etcd, kube-apiserver, kube-controller-manager, "
                "kube-scheduler) with Go; the first build takes several minutes and about "
                "2.2 GiB of memory..."
            )
            with _out.status("go build ..."):
                ensure_binary()
        with _out.status(
            "starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler ..."
        ):
            cp = start(directory)
    except (BuildError, ControlPlaneError, OSError) as e:
        raise _fail(str(e)) from e
    state = "already running" if already else "started"
    pids = ", ".join(f"{name} {pid}" for name, pid in cp.pids.items())
    _out.print(f"[green]Control plane {state}[/] at {escape(cp.server)} (PIDs: {escape(pids)})")
    if before is not None and before != cp.server:
        _out.print(
            f"[yellow]The address it had, {escape(before)}, is taken by another process:[/] "
            "clients that loaded the kubeconfig before (a running controller, say) must "
            "load it again."
        )
    _out.print(f"  kubeconfig (admin): {escape(str(cp.kubeconfig))}")
    _out.print(f"  tokens:             {escape(str(cp.dir / 'tokens.json'))}")
    _out.print(f"  users:              {escape(', '.join(sorted(cp.tokens)))}")
    for number, name in enumerate(cp.pids):
        label = "logs:" if number == 0 else ""
        _out.print(f"  {label:<20}{escape(str(log_file(cp.dir, name)))}")
    _out.print(f"\n  export KUBECONFIG={escape(str(cp.kubeconfig))}")


@app.command()
def down(directory: DirOption = DEFAULT_DIR) -> None:
    """Stop every process of the control plane running from the data directory (its data is
    kept)."""
    try:
        stopped = stop(directory)
    except (ControlPlaneError, OSError) as e:
        raise _fail(str(e)) from e
    if stopped:
        _out.print(f"[green]Control plane stopped[/] ({escape(str(directory))}; data kept)")
    else:
        _out.print(f"No control plane is running from {escape(str(directory))}")
