"""A local control plane (kube-apiserver + embedded etcd) for demos and tests.

A development tool: the product does not depend on it (see the import-linter contracts).
"""

from netfence.localcluster.building import BuildError, ensure_binary, needs_build
from netfence.localcluster.running import (
    ControlPlane,
    ControlPlaneError,
    is_running,
    kubeconfig_for_user,
    load,
    start,
    stop,
)

__all__ = [
    "BuildError",
    "ControlPlane",
    "ControlPlaneError",
    "ensure_binary",
    "is_running",
    "kubeconfig_for_user",
    "load",
    "needs_build",
    "start",
    "stop",
]
