"""The whole local cluster as `netfence controlplane up` and `netfence demo` run it: the
control plane, then (by default) the dataplane beside it, from one data directory.

The dataplane is optional in one precise way: where the machine cannot run it (not root,
no network namespaces, no NFQUEUE, no socat...) the cluster starts without it and says
what was missing; any other failure of the dataplane is an error, because a cluster that
silently enforces nothing is what this tool exists to avoid.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from netfence.localcluster import building, dataplane, enforcer, running
from netfence.localcluster.dataplane import Dataplane, DataplaneUnavailable
from netfence.localcluster.running import ControlPlane

DATAPLANE_DIR = "dataplane"
# Further clusters beside the first (the demo's prod), each a control plane of its own in
# DIR/clusters/<name>, so `down --dir DIR` stops them with the first.
CLUSTERS_DIR = "clusters"
# The kubeconfig naming every cluster of DIR, one context each (DIR/clusters/kubeconfig).
CLUSTERS_KUBECONFIG = "kubeconfig"


@dataclass(frozen=True)
class LocalCluster:
    """A running local cluster. ``dataplane`` is None when it was not asked for, or could
    not run here; ``without_dataplane`` then says why in the second case."""

    control_plane: ControlPlane
    dataplane: Dataplane | None
    without_dataplane: str | None = None


def dataplane_directory(control_plane_dir: Path) -> Path:
    return control_plane_dir.resolve() / DATAPLANE_DIR


def dataplane_running(control_plane_dir: Path) -> bool:
    return dataplane.is_running(dataplane_directory(control_plane_dir))


def up(
    directory: Path,
    *,
    with_dataplane: bool = True,
    progress: Callable[[str], None] = lambda _message: None,
) -> LocalCluster:
    """Start the control plane of ``directory`` and its dataplane, or reuse what runs.

    ``progress`` hears a sentence before each step that can take minutes (the builds).
    Raises ControlPlaneError, BuildError or DataplaneError; DataplaneUnavailable (the
    machine lacks something) is not raised but reported in ``without_dataplane``.
    """
    if building.needs_build():
        progress(
            "Building the control plane (etcd, kube-apiserver, kube-controller-manager, "
            "kube-scheduler) with Go; the first build takes several minutes and about "
            "2.2 GiB of memory..."
        )
        building.ensure_binary()
    control_plane = running.start(directory)
    if not with_dataplane:
        return LocalCluster(control_plane, None)
    missing = dataplane.missing_requirements()
    if missing:
        reason = "cannot run the local dataplane: missing " + "; ".join(missing)
        return LocalCluster(control_plane, None, reason)
    if enforcer.needs_build():
        progress(
            f"Building the enforcer, kube-network-policies {enforcer.VERSION}, with Go "
            "(first time only: about 3.5 minutes)..."
        )
    try:
        plane = dataplane.start(control_plane, dataplane_directory(directory))
    except DataplaneUnavailable as e:
        return LocalCluster(control_plane, None, str(e))
    return LocalCluster(control_plane, plane)


def peer_directory(directory: Path, name: str) -> Path:
    return directory.resolve() / CLUSTERS_DIR / name


def up_peer(directory: Path, name: str) -> ControlPlane:
    """Start (or reuse) a further cluster of ``directory``: a control plane only, without
    a scheduler or a node (pods stay Pending), about 300 MB beside the first cluster.
    The controller-manager stays: namespaces finish terminating and ReplicaSets appear."""
    return running.start(peer_directory(directory, name), components=(running.CONTROLLER_MANAGER,))


def running_peers(directory: Path) -> list[str]:
    """The further clusters of ``directory`` that run, by name."""
    root = directory.resolve() / CLUSTERS_DIR
    if not root.is_dir():
        return []
    # Without a scheduler, so not `is_running` (which asks for the whole control plane).
    return sorted(p.name for p in root.iterdir() if p.is_dir() and running.running_pids(p))


def write_clusters_kubeconfig(directory: Path, clusters: Mapping[str, ControlPlane]) -> Path:
    """DIR/clusters/kubeconfig: one context per cluster, named as given (the first is the
    current context), each with that cluster's admin user as `admin@<name>`. Written
    afresh at every start: a restarted control plane may listen on another port."""
    clusters_out, contexts, users = [], [], []
    for name, cp in clusters.items():
        own = yaml.safe_load(cp.kubeconfig.read_text())
        clusters_out.append({"name": name, "cluster": own["clusters"][0]["cluster"]})
        users.append({"name": f"admin@{name}", "user": own["users"][0]["user"]})
        contexts.append({"name": name, "context": {"cluster": name, "user": f"admin@{name}"}})
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters_out,
        "contexts": contexts,
        "users": users,
        "current-context": next(iter(clusters)),
    }
    path = directory.resolve() / CLUSTERS_DIR / CLUSTERS_KUBECONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    # It holds the admin tokens: readable by its owner only, like the clusters' own.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(document, out, sort_keys=False)
    return path


def down(directory: Path) -> tuple[bool, bool]:
    """Stop the further clusters, the dataplane, then the control plane, of ``directory``
    (the dataplane before its control plane, while the API server still answers its
    last calls). Whether the first cluster's control plane and dataplane were running."""
    root = directory.resolve() / CLUSTERS_DIR
    if root.is_dir():
        for peer in sorted(p for p in root.iterdir() if p.is_dir()):
            running.stop(peer)
    stopped_dataplane = dataplane.stop(dataplane_directory(directory))
    stopped_control_plane = running.stop(directory)
    return stopped_control_plane, stopped_dataplane


__all__ = [
    "CLUSTERS_DIR",
    "CLUSTERS_KUBECONFIG",
    "DATAPLANE_DIR",
    "LocalCluster",
    "dataplane_directory",
    "dataplane_running",
    "down",
    "peer_directory",
    "running_peers",
    "up",
    "up_peer",
    "write_clusters_kubeconfig",
]
