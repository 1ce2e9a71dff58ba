"""`netfence controlplane up|down`: the local cluster (control plane and dataplane) for
demos and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from netfence.localcluster import BuildError, ControlPlaneError, cluster, is_running
from netfence.localcluster.dataplane import ENFORCER_LOG, DataplaneError
from netfence.localcluster.enforcer import VERSION as ENFORCER_VERSION
from netfence.localcluster.node_agent import LOG_FILE as AGENT_LOG
from netfence.localcluster.running import log_file, recorded_server

app = typer.Typer(
    help=(
        "Run a local cluster for demos and tests: a control plane (etcd, kube-apiserver, "
        "kube-controller-manager, kube-scheduler) and a dataplane (one node whose pods are "
        "network namespaces, NetworkPolicy enforced by kube-network-policies)."
    )
)

DEFAULT_DIR = Path(".netfence/controlplane")
DirOption = Annotated[
    Path,
    typer.Option("--dir", help="Data directory of the control plane (certificates, tokens, etcd)."),
]

_out = Console(soft_wrap=True)
_err = Console(stderr=True, soft_wrap=True)


def _directory(directory: Path) -> Path:
    if directory.exists() and not directory.is_dir():
        raise _fail(f"--dir {directory} is a file; name the control plane's data directory")
    return directory


def _fail(message: str) -> typer.Exit:
    _err.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=1)


@app.command()
def up(
    directory: DirOption = DEFAULT_DIR,
    dataplane: Annotated[
        bool,
        typer.Option(
            "--dataplane/--no-dataplane",
            help="Also run the node agent and the enforcer, so pods run and NetworkPolicy "
            "drops packets (needs root, network namespaces and NFQUEUE).",
        ),
    ] = True,
) -> None:
    """Build what is missing, start the local cluster (or reuse what runs) and wait until
    it is ready."""
    directory = _directory(directory)
    already = is_running(directory)
    before = None if already else recorded_server(directory)
    try:
        with _out.status("starting the local cluster ..."):
            local = cluster.up(directory, with_dataplane=dataplane, progress=_out.print)
    except (BuildError, ControlPlaneError, DataplaneError, OSError) as e:
        if not isinstance(e, DataplaneError):
            raise _fail(str(e)) from e
        raise _fail(
            f"{e}\nThe control plane runs without it; `netfence controlplane up "
            "--no-dataplane` starts it so on purpose, `netfence controlplane down` stops it."
        ) from e
    cp = local.control_plane
    state = "already running" if already else "started"
    pids = ", ".join(f"{name} {pid}" for name, pid in cp.pids.items())
    _out.print(f"[green]Control plane {state}[/] at {escape(cp.server)} (PIDs: {escape(pids)})")
    if before is not None and before != cp.server:
        _out.print(
            f"[yellow]The address it had, {escape(before)}, is taken by another process:[/] "
            "clients that loaded the kubeconfig before (a running controller, say) must "
            "load it again."
        )
    plane = local.dataplane
    if plane is not None:
        enforcing = (
            f"kube-network-policies {ENFORCER_VERSION} ({plane.enforcer_mode})"
            if "enforcer" in plane.pids
            else "nothing"
        )
        dataplane_pids = ", ".join(f"{name} {pid}" for name, pid in plane.pids.items())
        _out.print(
            f"[green]Dataplane running[/]: node {escape(plane.node_name)}, pods in "
            f"{escape(plane.pod_cidr)}, NetworkPolicy enforced by {escape(enforcing)} "
            f"(PIDs: {escape(dataplane_pids)})"
        )
    elif local.without_dataplane is not None:
        _out.print(
            f"[yellow]Started without the dataplane[/] ({escape(local.without_dataplane)}): "
            "pods stay Pending and nothing enforces NetworkPolicy."
        )
    else:
        _out.print("No dataplane (--no-dataplane): pods stay Pending, nothing enforces policy.")
    _out.print(f"  kubeconfig (admin): {escape(str(cp.kubeconfig))}")
    _out.print(f"  tokens:             {escape(str(cp.dir / 'tokens.json'))}")
    _out.print(f"  users:              {escape(', '.join(sorted(cp.tokens)))}")
    logs = [log_file(cp.dir, name) for name in cp.pids]
    if plane is not None:
        logs += [plane.dir / AGENT_LOG, plane.dir / ENFORCER_LOG]
    for number, path in enumerate(logs):
        label = "logs:" if number == 0 else ""
        _out.print(f"  {label:<20}{escape(str(path))}")
    _out.print(f"\n  export KUBECONFIG={escape(str(cp.kubeconfig))}")


@app.command()
def down(directory: DirOption = DEFAULT_DIR) -> None:
    """Stop every process of the local cluster running from the data directory and remove
    the dataplane's namespaces, links and rules (the data and logs are kept)."""
    directory = _directory(directory)
    try:
        peers = cluster.running_peers(directory)
        stopped_control_plane, stopped_dataplane = cluster.down(directory)
    except (ControlPlaneError, DataplaneError, OSError) as e:
        raise _fail(str(e)) from e
    for name in peers:
        where = cluster.peer_directory(directory, name)
        _out.print(f"[green]Cluster {escape(name)} stopped[/] ({escape(str(where))}; data kept)")
    if stopped_dataplane:
        _out.print("[green]Dataplane stopped[/] (pods' namespaces, links and rules removed)")
    if stopped_control_plane:
        _out.print(f"[green]Control plane stopped[/] ({escape(str(directory))}; data kept)")
    if not (stopped_control_plane or stopped_dataplane or peers):
        _out.print(f"No local cluster is running from {escape(str(directory))}")
