"""A local control plane for demos and tests: etcd and kube-apiserver, kube-controller-manager
and kube-scheduler, each a process of one cached Go binary, on 127.0.0.1 only.

A development tool: the product does not depend on it (see the import-linter contracts).
"""

from netfence.localcluster.building import BuildError, ensure_binary, needs_build
from netfence.localcluster.running import (
    COMPONENTS,
    ControlPlane,
    ControlPlaneError,
    is_running,
    kubeconfig_for_user,
    load,
    running_pids,
    spawn,
    start,
    stop,
)

__all__ = [
    "COMPONENTS",
    "BuildError",
    "ControlPlane",
    "ControlPlaneError",
    "ensure_binary",
    "is_running",
    "kubeconfig_for_user",
    "load",
    "needs_build",
    "running_pids",
    "spawn",
    "start",
    "stop",
]
