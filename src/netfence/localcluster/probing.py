"""Probes for `netfence probe` on the local cluster: the node agent's own probe, run
inside the source pod's network namespace on whichever of the cluster's dataplanes runs
that pod.

It serves the use cases' `Prober` port by its shape (this package imports no use case:
see the import-linter contracts); the composition root wires it for a kubeconfig of the
local control plane.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netfence.core import errors
from netfence.core.probes import Observation
from netfence.localcluster import netns, node_agent


class NodeAgentProber:
    """Fresh connections from inside the pods of the dataplanes run from `directories`."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self.directories = tuple(directories)

    async def probe(
        self, source: str, address: str, port: int, protocol: str, timeout: float
    ) -> Observation:
        record = self._record(source)
        try:
            result = await netns.probe_netns(record.netns, address, port, protocol, timeout)
        except PermissionError as e:
            raise errors.Unavailable(
                f"probing from inside pods needs root here (entering their network namespaces): {e}"
            ) from e
        return Observation(result.outcome, result.answer, result.seconds)

    def _record(self, pod: str) -> node_agent.PodRecord:
        for directory in self.directories:
            try:
                return node_agent.find_record(directory, pod)
            except LookupError:
                continue
        raise errors.NotFound(
            f"pod {pod} runs on no node of the local dataplane (no network namespace for it): "
            "pods bound to other nodes, or still starting, cannot be probed from"
        )
