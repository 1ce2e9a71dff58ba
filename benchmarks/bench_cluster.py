"""Objects and helpers the benchmarks share: they build the same kind of cluster."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming
from netfence.localcluster import ControlPlane


def namespace(name: str, *, managed: bool) -> dict[str, Any]:
    labels = {naming.MANAGED_NAMESPACE_LABEL: "true"} if managed else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(ns: str, name: str, templates: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {naming.template_label_key(t): "true" for t in templates},
        },
        "spec": {
            # No pods: the benchmarks measure netfence on controllers, and the local
            # control plane's controller manager would otherwise make one per Deployment.
            "replicas": 0,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "backend"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "example/app:1",
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


async def create_all(
    client: AsyncClient, manifests: list[dict[str, Any]], parallel: int = 32
) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(manifest: dict[str, Any]) -> None:
        async with gate:
            await client.create(codecs.from_dict(manifest))

    await asyncio.gather(*(one(m) for m in manifests))


async def count_policies(client: AsyncClient, ns: str) -> int:
    return len([p async for p in client.list(NetworkPolicy, namespace=ns)])


@contextlib.contextmanager
def netfence_process(
    cp: ControlPlane, args: list[str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """`netfence --kubeconfig CP <args>` as its own process (as in a pod), stopped at the end."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "netfence", "--kubeconfig", str(cp.kubeconfig), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields
