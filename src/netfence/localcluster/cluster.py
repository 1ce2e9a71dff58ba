"""The whole local cluster as `netfence controlplane up` and `netfence demo` run it: the
control plane, then (by default) the dataplane beside it, from one data directory.

The dataplane is optional in one precise way: where the machine cannot run it (not root,
no network namespaces, no NFQUEUE, no socat...) the cluster starts without it and says
what was missing; any other failure of the dataplane is an error, because a cluster that
silently enforces nothing is what this tool exists to avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from netfence.localcluster import building, dataplane, enforcer, running
from netfence.localcluster.dataplane import Dataplane, DataplaneUnavailable
from netfence.localcluster.running import ControlPlane

DATAPLANE_DIR = "dataplane"


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


def down(directory: Path) -> tuple[bool, bool]:
    """Stop the dataplane, then the control plane, of ``directory`` (the dataplane first,
    while the API server still answers its last calls). Whether each was running."""
    stopped_dataplane = dataplane.stop(dataplane_directory(directory))
    stopped_control_plane = running.stop(directory)
    return stopped_control_plane, stopped_dataplane


__all__ = [
    "DATAPLANE_DIR",
    "LocalCluster",
    "dataplane_directory",
    "dataplane_running",
    "down",
    "up",
]
