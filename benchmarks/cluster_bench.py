"""The local cluster itself: how long it takes to be ready, what each process holds, and
how long a Deployment waits for a Running pod with an address.

    .venv/bin/python benchmarks/cluster_bench.py [--deployments 30] [--burst 100]

It starts a cluster of its own in a temporary directory (cached binaries; a first run
builds them, which is reported separately) and removes it at the end. Figures are
printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.resources.core_v1 import Pod

from netfence.kube import connecting
from netfence.localcluster import building, cluster, enforcer, processes


def _deployment(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
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


def _ready(pod: Pod) -> bool:
    return bool(pod.status and pod.status.phase == "Running" and pod.status.podIP)


async def _until_running(client: AsyncClient, namespace: str, apps: set[str]) -> None:
    """Until every app of ``apps`` has a Running pod with an address (a watch, no polling)."""
    waiting = set(apps)
    async for _, pod in client.watch(Pod, namespace=namespace):
        app = (pod.metadata.labels or {}).get("app") if pod.metadata else None
        if app in waiting and _ready(pod):
            waiting.discard(app)
            if not waiting:
                return


async def _deployment_latencies(client: AsyncClient, namespace: str, count: int) -> list[float]:
    """One Deployment at a time: from the create call to its pod Running with an IP."""
    latencies = []
    for number in range(count):
        name = f"one-{number}"
        began = time.perf_counter()
        await client.create(codecs.from_dict(_deployment(namespace, name)))
        await asyncio.wait_for(_until_running(client, namespace, {name}), timeout=60)
        latencies.append(time.perf_counter() - began)
    return latencies


async def _burst(client: AsyncClient, namespace: str, count: int) -> float:
    """``count`` Deployments created at once: seconds until every pod is Running."""
    names = {f"burst-{n}" for n in range(count)}
    began = time.perf_counter()
    watching = asyncio.create_task(_until_running(client, namespace, names))
    await asyncio.gather(
        *(client.create(codecs.from_dict(_deployment(namespace, n))) for n in sorted(names))
    )
    await asyncio.wait_for(watching, timeout=600)
    return time.perf_counter() - began


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def _mib(size: int | None) -> str:
    return "gone" if size is None else f"{size / 2**20:.0f} MiB"


async def _measure(local: cluster.LocalCluster, args: argparse.Namespace) -> None:
    client = connecting.client_for(local.control_plane.kubeconfig)
    try:
        namespace = f"bench-pods-{os.getpid()}"
        await client.create(
            codecs.from_dict(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
            )
        )
        await asyncio.sleep(1.0)  # the default ServiceAccount, which pods need
        latencies = await _deployment_latencies(client, namespace, args.deployments)
        print(
            f"Deployment created -> pod Running with its IP, one at a time ({len(latencies)}): "
            f"median {statistics.median(latencies) * 1000:.0f} ms, "
            f"p95 {_p95(latencies) * 1000:.0f} ms, worst {max(latencies) * 1000:.0f} ms"
        )
        if args.burst:
            seconds = await _burst(client, namespace, args.burst)
            print(
                f"{args.burst} Deployments created at once -> all pods Running: {seconds:.1f} s "
                f"({args.burst / seconds:.0f} pods/s)"
            )
        print("resident memory, with these pods running:")
        for name, pid in local.control_plane.pids.items():
            print(f"  {name:<20} {_mib(processes.rss_bytes(pid))}")
        if local.dataplane is not None:
            for name, size in local.dataplane.memory().items():
                print(f"  {name:<20} {_mib(size)}")
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deployments", type=int, default=30)
    parser.add_argument("--burst", type=int, default=100)
    args = parser.parse_args()
    print(
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, kube-network-policies {enforcer.VERSION}"
    )
    for what, needs, build in (
        ("control plane binary", building.needs_build, building.ensure_binary),
        ("enforcer binary", enforcer.needs_build, enforcer.ensure_binary),
    ):
        was_cached = not needs()
        began = time.perf_counter()
        build()
        state = "cached, checked" if was_cached else "built"
        print(f"{what}: {state} in {time.perf_counter() - began:.2f} s")
    with tempfile.TemporaryDirectory(prefix="netfence-clusterbench-") as tmp:
        directory = Path(tmp) / "cp"
        began = time.perf_counter()
        local = cluster.up(directory)
        whole = time.perf_counter() - began
        try:
            plane = local.dataplane
            if plane is None:
                print(f"no dataplane: {local.without_dataplane}")
            else:
                seconds = plane.seconds
                print(
                    f"cluster up from nothing running: {whole:.1f} s (dataplane "
                    f"{seconds.get('total', 0):.2f} s of it: enforcer {seconds.get('enforcer', 0):.2f} s, "
                    f"agent {seconds.get('agent', 0):.2f} s; enforcer mode {plane.enforcer_mode})"
                )
            asyncio.run(_measure(local, args))
        finally:
            began = time.perf_counter()
            cluster.down(directory)
            print(f"cluster down: {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
