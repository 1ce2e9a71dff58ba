"""REST API benchmarks against a real `netfence serve`; prints figures, asserts nothing.

    .venv/bin/python benchmarks/web_bench.py [--namespaces 100] [--big 500] [--clients 50]

The cluster: its own local control plane holding `--namespaces` namespaces (half of them
managed, each with a few controllers and a policy of its own) plus one managed namespace
with `--big` controllers, each with a template attached (so as many NetworkPolicies).
`netfence serve` (API, console and controller in one process, local mode) listens on
127.0.0.1 and is driven over real HTTP:

1. Cluster view (GET /api/v1/namespaces) and namespace view of the big namespace
   (GET /api/v1/namespaces/{big}): `--requests` sequential requests each, median and p95.
2. Connectivity: the matrix, findings, explain and impact previews the console asks for,
   on the big namespace and a small one, over HTTP; then, in this process, where the
   matrix's time goes (reading the cluster, evaluating, building the response).
3. Load: `--clients` concurrent clients, each with its own session cookie, issuing a mix
   of GETs for `--seconds` seconds: request count, errors, latency percentiles
   (`--no-load` skips it).

With `--demo` the cluster is the demo's (`netfence demo`: shop, payments, monitoring)
instead, and only the connectivity figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import random
import socket
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_cluster import (
    count_policies,
    create_all,
    deployment,
    memory_mb,
    namespace,
    netfence_process,
)
from lightkube import AsyncClient

from netfence.core import naming
from netfence.kube import connecting
from netfence.kube.reading import LiveReader
from netfence.localcluster import demo, start, stop
from netfence.usecases import connectivity as analysis
from netfence.web import connectivity_views

NETFENCE_NS = naming.DEFAULT_NETFENCE_NAMESPACE
BIG = "bench-big"
# The console, API and controller in one process, as `netfence serve` runs them.
SERVE_ARGS = ["serve", "--host", "127.0.0.1"]


def own_policy(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "svc-0"}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080}]}],
        },
    }


async def populate(client: AsyncClient, namespaces: int, big: int) -> dict[str, int]:
    """The cluster of the benchmark; returns how many policies each managed namespace gets."""
    await create_all(
        client,
        [namespace(NETFENCE_NS, managed=False)]
        + [namespace(f"bench-{n}", managed=n % 2 == 0) for n in range(namespaces - 1)]
        + [namespace(BIG, managed=True)],
    )
    small: list[dict[str, Any]] = []
    expected: dict[str, int] = {}
    for n in range(namespaces - 1):
        ns = f"bench-{n}"
        small += [deployment(ns, f"svc-{i}", ("http",) if i % 2 else ()) for i in range(5)]
        small.append(own_policy(ns, "legacy"))
        # Managed: legacy is backed up and replaced by 2 defaults + 2 attachments.
        expected[ns] = 4 if n % 2 == 0 else 1
    await create_all(client, small)
    templates = ("http", "https", "dns")
    await create_all(
        client,
        [deployment(BIG, f"svc-{i:03d}", (templates[i % len(templates)],)) for i in range(big)],
    )
    expected[BIG] = big + 2
    return expected


async def until_converged(client: AsyncClient, expected: dict[str, int], timeout: float) -> float:
    start_at = time.perf_counter()
    deadline = start_at + timeout
    pending = dict(expected)
    while pending:
        counts = await asyncio.gather(*(count_policies(client, ns) for ns in pending))
        pending = {ns: n for (ns, n), c in zip(pending.items(), counts, strict=True) if c != n}
        if time.perf_counter() > deadline:
            raise TimeoutError(f"not converged: {sorted(pending)[:5]} ...")
        if pending:
            await asyncio.sleep(0.5)
    return time.perf_counter() - start_at


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until_serving(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base) as http:
        while True:
            try:
                if (await http.get("/api/v1/session")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("netfence serve did not answer")
            await asyncio.sleep(0.2)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def browser(base: str) -> httpx.AsyncClient:
    """A client with a session cookie, as the console has (permission answers are cached
    per session)."""
    http = httpx.AsyncClient(base_url=base, timeout=60)
    (await http.get("/api/v1/session")).raise_for_status()
    return http


async def sequential(http: httpx.AsyncClient, path: str, requests: int) -> dict[str, float]:
    (await http.get(path)).raise_for_status()  # warm-up
    times = []
    size = 0
    for _ in range(requests):
        start_at = time.perf_counter()
        response = await http.get(path)
        times.append((time.perf_counter() - start_at) * 1000)
        response.raise_for_status()
        size = len(response.content)
    return {
        "median_ms": statistics.median(times),
        "p95_ms": percentile(times, 95),
        "max_ms": max(times),
        "kb": size / 1024,
    }


@dataclass
class Load:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + len(self.errors)


async def load(base: str, paths: list[str], clients: int, seconds: float) -> Load:
    result = Load()
    stop_at = time.perf_counter() + seconds
    rng = random.Random(7)

    async def one_client() -> None:
        http = await browser(base)
        try:
            while time.perf_counter() < stop_at:
                path = rng.choice(paths)
                key = path.replace(BIG, "{big}")
                start_at = time.perf_counter()
                try:
                    response = await http.get(path)
                except httpx.HTTPError as e:
                    result.errors.append(f"{key}: {type(e).__name__}: {e}")
                    continue
                elapsed = (time.perf_counter() - start_at) * 1000
                if response.status_code != 200:
                    result.errors.append(
                        f"{key}: HTTP {response.status_code} {response.text[:200]}"
                    )
                    continue
                result.latencies.setdefault(key, []).append(elapsed)
        finally:
            await http.aclose()

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return result


def describe(figures: dict[str, float]) -> str:
    return (
        f"median {figures['median_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
        f"max {figures['max_ms']:.0f} ms ({figures['kb']:.0f} KiB)"
    )


async def connectivity(http: httpx.AsyncClient, ns: str, other: str, requests: int) -> None:
    """What the console asks about connectivity, one request at a time."""
    matrix = (await http.get(f"/api/v1/namespaces/{ns}/connectivity")).json()
    endpoints = matrix["endpoints"]
    controllers = [e for e in endpoints if e["kind"] != "Pod"]
    source, destination = controllers[0], controllers[-1]
    kind, name = destination["kind"].lower(), destination["name"]
    port = destination["ports"][0]["port"] if destination["ports"] else 80
    paths = {
        f"matrix of {ns} ({len(endpoints)} controllers)": f"/api/v1/namespaces/{ns}/connectivity",
        f"findings of {ns}": f"/api/v1/namespaces/{ns}/findings",
        "explain one connection": (
            f"/api/v1/connectivity/explain?source={source['id']}"
            f"&destination={destination['id']}&port={port}"
        ),
        f"attach preview in {ns}": (
            f"/api/v1/namespaces/{ns}/controllers/{kind}/{name}/templates/https/preview"
            "?action=attach"
        ),
        f"enable preview of {other} (with impact)": f"/api/v1/namespaces/{other}/enable-preview",
    }
    for label, path in paths.items():
        print(f"  {label}, {requests} requests: {describe(await sequential(http, path, requests))}")


async def matrix_breakdown(client: AsyncClient, ns: str, rounds: int = 5) -> None:
    """Where the matrix's time goes, measured in this process with the same functions."""
    survey, compute, view = [], [], []
    size = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        inventory = await LiveReader(client, netfence_namespace=NETFENCE_NS).inventory()
        t1 = time.perf_counter()
        result = analysis.namespace_matrix(inventory, ns)
        t2 = time.perf_counter()
        body = connectivity_views.matrix_json(result, complete=True, notes=())
        t3 = time.perf_counter()
        survey.append((t1 - t0) * 1000)
        compute.append((t2 - t1) * 1000)
        view.append((t3 - t2) * 1000)
        size = len(body)
    print(
        f"  in process, {ns}: reading the cluster {statistics.median(survey):.0f} ms "
        f"({len(inventory.controllers)} controllers, {len(inventory.policies)} policies), "
        f"evaluating {statistics.median(compute):.0f} ms, response "
        f"{statistics.median(view):.0f} ms ({size / 1024:.0f} KiB)"
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory(prefix="netfence-webbench-") as tmp:
        directory = Path(tmp)
        cp = start(directory / "cp")
        client = connecting.client_for(cp.kubeconfig)
        try:
            if args.demo:
                await demo.seed(client, netfence_namespace=NETFENCE_NS)
                expected = {"shop": 10}
            else:
                expected = await populate(client, args.namespaces, args.big)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            with netfence_process(
                cp, [*SERVE_ARGS, "--port", str(port)], directory / "serve.log"
            ) as process:
                await until_serving(base)
                converged = await until_converged(client, expected, timeout=600)
                if args.demo:
                    print(f"cluster: the demo's; converged {converged:.1f} s after serving")
                    http = await browser(base)
                    try:
                        print("connectivity:")
                        await connectivity(http, "shop", "payments", args.requests)
                    finally:
                        await http.aclose()
                    await matrix_breakdown(client, "shop")
                    return
                print(
                    f"cluster: {args.namespaces} namespaces, {args.big} controllers and "
                    f"{expected[BIG]} policies in {BIG}; converged {converged:.1f} s after "
                    f"`netfence serve` answered"
                )
                http = await browser(base)
                try:
                    cluster = await sequential(http, "/api/v1/namespaces", args.requests)
                    print(f"cluster view, {args.requests} requests: {describe(cluster)}")
                    big = await sequential(http, f"/api/v1/namespaces/{BIG}", args.requests)
                    print(f"namespace view of {BIG}, {args.requests} requests: {describe(big)}")
                    print("connectivity:")
                    rounds = max(5, args.requests // 5)
                    await connectivity(http, BIG, "bench-1", rounds)
                    await connectivity(http, "bench-0", "bench-3", rounds)
                finally:
                    await http.aclose()
                await matrix_breakdown(client, BIG)
                if args.no_load:
                    return
                paths = [
                    "/api/v1/session",
                    "/api/v1/namespaces",
                    f"/api/v1/namespaces/{BIG}",
                    "/api/v1/namespaces/bench-0",
                    "/api/v1/namespaces/bench-0/events",
                    "/api/v1/namespaces/bench-0/controllers/deployment/svc-1",
                    "/api/v1/templates",
                    "/api/v1/templates/http",
                ]
                result = await load(base, paths, args.clients, args.seconds)
                every = [t for v in result.latencies.values() for t in v]
                print(
                    f"load: {args.clients} clients for {args.seconds:.0f} s: "
                    f"{result.count} requests ({result.count / args.seconds:.1f}/s), "
                    f"{len(result.errors)} errors; latency median "
                    f"{statistics.median(every):.0f} ms, p95 {percentile(every, 95):.0f} ms, "
                    f"p99 {percentile(every, 99):.0f} ms, max {max(every):.0f} ms"
                )
                for key, times in sorted(result.latencies.items()):
                    print(
                        f"  {key}: {len(times)} requests, median {statistics.median(times):.0f}"
                        f" ms, p95 {percentile(times, 95):.0f} ms"
                    )
                for error in result.errors[:10]:
                    print(f"  error: {error}")
                mem = memory_mb(process.pid)
                print(
                    f"netfence serve memory: rss {mem['VmRSS']:.0f} MB, peak {mem['VmHWM']:.0f} MB"
                )
        finally:
            await client.close()
            stop(directory / "cp")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--big", type=int, default=500)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-load", action="store_true", help="skip the concurrent load")
    parser.add_argument("--demo", action="store_true", help="the demo cluster instead")
    asyncio.run(main(parser.parse_args()))
