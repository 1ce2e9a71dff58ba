"""The console at cluster scale: a real `netfence serve` on a large cluster; prints figures,
asserts nothing.

    .venv/bin/python benchmarks/console_scale_bench.py [--namespaces 1000]
        [--controllers 5] [--pods 20] [--clients 100] [--seconds 60]

The cluster: its own local control plane (the API server alone, no scheduler and no
dataplane: pods are written directly and stay Pending, which the views read like any other) holding `--namespaces` namespaces, each
with `--controllers` Deployments (`replicas: 0`), `--pods` Pods labelled like them and two
NetworkPolicies. `netfence serve --no-controller` (local mode) reads it through its shared
watch cache and is driven over real HTTP on 127.0.0.1:

1. Start-up: seconds from start until /readyz (the cache holds the whole cluster), and the
   server's memory.
2. Views, one client: the cluster view (the console's first page of 200 rows, and all
   rows at once), one namespace's view and its connectivity matrix, `--requests`
   sequential requests each: median and p95.
3. Views, `--clients` concurrent clients for `--seconds` seconds each: requests, errors,
   throughput, median and p95.
4. Change to page: a Deployment is created in a namespace while a stream
   (/api/v1/stream) is open, as the page has it; the time until the stream announces it
   and until the namespace view, fetched then, shows it: `--changes` times, median, p95.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bench_cluster import create_all, deployment, memory_mb, namespace, netfence_process
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from web_bench import free_port, percentile

from netfence.kube import connecting
from netfence.localcluster import start, stop


def target(namespaces: int) -> str:
    """The namespace whose views are measured: one in the middle of the list."""
    return f"scale-{min(42, namespaces - 1):04d}"


def pod(ns: str, name: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": app, "tier": "backend"}},
        "spec": {
            "containers": [
                {"name": "app", "image": "example/app:1", "ports": [{"containerPort": 8080}]}
            ]
        },
    }


def policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def objects(namespaces: int, controllers: int, pods: int) -> list[list[dict[str, Any]]]:
    """The cluster in waves: namespaces first, then what lives in them."""
    names = [f"scale-{n:04d}" for n in range(namespaces)]
    inside: list[dict[str, Any]] = []
    for ns in names:
        inside += [deployment(ns, f"svc-{i}") for i in range(controllers)]
        inside += [
            pod(ns, f"svc-{p % controllers}-{p}", f"svc-{p % controllers}") for p in range(pods)
        ]
        inside.append(policy(ns, "deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}))
        inside.append(
            policy(
                ns,
                "allow-frontend",
                {
                    "podSelector": {"matchLabels": {"app": "svc-0"}},
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": {"app": "svc-1"}}}],
                            "ports": [{"port": 8080}],
                        }
                    ],
                },
            )
        )
    return [[namespace(ns, managed=False) for ns in names], inside]


async def populate(client: AsyncClient, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    for wave in objects(args.namespaces, args.controllers, args.pods):
        await create_all(client, wave, parallel=64)
    return time.perf_counter() - started


async def _seeded(client: AsyncClient, namespaces: int) -> bool:
    from lightkube.resources.core_v1 import Namespace

    last = f"scale-{namespaces - 1:04d}"
    names = {ns.metadata.name async for ns in client.list(Namespace) if ns.metadata}
    return last in names


async def until_ready(base: str, timeout: float = 600) -> float:
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > timeout:
                raise TimeoutError("netfence serve was not ready")
            await asyncio.sleep(0.2)


def _summary(latencies: list[float]) -> str:
    return (
        f"median {statistics.median(latencies) * 1000:7.1f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:7.1f} ms"
    )


async def one_client(http: httpx.AsyncClient, path: str, requests: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = await http.get(path)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        size = len(response.content)
    return latencies, size


async def many_clients(base: str, path: str, clients: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await http.get(path)
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                except httpx.HTTPError as e:
                    errors.append(type(e).__name__)
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    took = time.perf_counter() - started
    return {"requests": len(latencies), "errors": errors, "seconds": took, "latencies": latencies}


async def change_to_page(
    base: str, client: AsyncClient, changes: int, where: str
) -> tuple[list[float], list[float], list[float]]:
    """(change -> stream event, change -> namespace view showing it, the connectivity
    matrix read right after: computed anew, since the cluster changed), in seconds."""
    to_stream: list[float] = []
    to_view: list[float] = []
    matrix: list[float] = []
    timeout = httpx.Timeout(60, read=None)  # the stream is quiet between changes
    async with (
        httpx.AsyncClient(base_url=base, timeout=timeout) as http,
        http.stream("GET", "/api/v1/stream") as response,
    ):
        lines = response.aiter_lines()

        async def next_change(namespace: str) -> None:
            kind = ""
            async for line in lines:
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif (
                    line.startswith("data:")
                    and kind == "change"
                    and namespace in json.loads(line.partition(":")[2])["namespaces"]
                ):
                    return

        for n in range(changes):
            name = f"change-{n}-{os.getpid()}"
            started = time.perf_counter()
            await client.create(_deployment(where, name))
            # The first event may still be the previous change's deletion: the page
            # reloads on each, and the one that shows the new Deployment counts.
            while True:
                await asyncio.wait_for(next_change(where), 30)
                announced = time.perf_counter() - started
                view = (await http.get(f"/api/v1/namespaces/{where}")).json()
                if name in {c["name"] for c in view["controllers"]}:
                    break
            to_stream.append(announced)
            to_view.append(time.perf_counter() - started)
            asked = time.perf_counter()
            (await http.get(f"/api/v1/namespaces/{where}/connectivity")).raise_for_status()
            matrix.append(time.perf_counter() - asked)
            await client.delete(Deployment, name, namespace=where)
            await asyncio.sleep(0.3)
    return to_stream, to_view, matrix


def _deployment(ns: str, name: str) -> Any:
    from lightkube import codecs

    return codecs.from_dict(deployment(ns, name))


async def measure(args: argparse.Namespace, directory: Path) -> None:
    # The API server alone: a scheduler would spend a core trying to place 20,000 pods on
    # no node, and nothing here needs the controller manager (replicas: 0).
    cp = start(directory, components=())
    client = connecting.client_for(cp.kubeconfig)
    try:
        total = args.namespaces * (1 + args.controllers + args.pods + 2)
        print(
            f"cluster: {args.namespaces} namespaces, {args.namespaces * args.controllers} "
            f"controllers, {args.namespaces * args.pods} pods, {args.namespaces * 2} policies "
            f"({total} objects)"
        )
        if await _seeded(client, args.namespaces):
            print("  already there (--dir of an earlier run)")
        else:
            seeded = await populate(client, args)
            print(f"  written in {seeded:.0f} s ({total / seeded:.0f} objects/s)")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = directory / "serve.log"
        serve = ["serve", "--port", str(port), "--no-controller", "--log-level", "WARNING"]
        with netfence_process(cp, serve, log) as process:
            ready = await until_ready(base)
            memory = memory_mb(process.pid)
            print(
                f"\n1. start-up: ready (cache synced) after {ready:.1f} s; "
                f"RSS {memory['VmRSS']:.0f} MB"
            )
            where = target(args.namespaces)
            views = {
                # What the console asks for: the first page of ordinary namespaces ...
                "cluster view": "/api/v1/namespaces?system=false&limit=200",
                # ... and what a script listing them all gets.
                "all namespaces": "/api/v1/namespaces",
                "namespace view": f"/api/v1/namespaces/{where}",
                "connectivity": f"/api/v1/namespaces/{where}/connectivity",
            }
            print(f"\n2. one client, {args.requests} requests each")
            async with httpx.AsyncClient(base_url=base, timeout=60) as http:
                for label, path in views.items():
                    latencies, size = await one_client(http, path, args.requests)
                    print(f"  {label:<16} {_summary(latencies)}  ({size / 1024:.0f} KiB)")
            print(f"\n3. {args.clients} concurrent clients, {args.seconds:.0f} s each")
            for label, path in views.items():
                found = await many_clients(base, path, args.clients, args.seconds)
                latencies = found["latencies"]
                print(
                    f"  {label:<16} {found['requests']:6d} requests, "
                    f"{len(found['errors'])} errors, "
                    f"{found['requests'] / found['seconds']:6.1f}/s, {_summary(latencies)}"
                )
                if found["errors"]:
                    print(f"    errors: {sorted(set(found['errors']))}")
            memory = memory_mb(process.pid)
            print(
                f"  server RSS after load {memory['VmRSS']:.0f} MB (peak {memory['VmHWM']:.0f} MB)"
            )
            to_stream, to_view, matrix = await change_to_page(base, client, args.changes, where)
            print(f"\n4. change -> page, {args.changes} changes (a Deployment created)")
            print(f"  change -> stream event   {_summary(to_stream)}")
            print(f"  change -> view shows it  {_summary(to_view)}")
            print(f"  connectivity, first read after the change  {_summary(matrix)}")
    finally:
        await client.close()
        if not args.keep:
            stop(directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--controllers", type=int, default=5)
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument(
        "--dir", type=Path, help="control plane directory (default: a temporary one)"
    )
    parser.add_argument("--keep", action="store_true", help="leave the control plane running")
    args = parser.parse_args()
    print(
        f"netfence console scale benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} "
        f"UTC, {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    if args.dir is not None:
        asyncio.run(measure(args, args.dir))
        return
    with tempfile.TemporaryDirectory(prefix="netfence-scale-") as tmp:
        asyncio.run(measure(args, Path(tmp)))


if __name__ == "__main__":
    main()
