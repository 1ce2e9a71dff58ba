"""What watching the controller costs: /metrics scrape time and size, memory with and without.

Starts a local control plane, fills it with managed namespaces and attached controllers,
then runs `netfence controller` twice on the converged cluster: once serving nothing
(`--metrics-bind-address 0`) and once serving /metrics, /healthz and /readyz, and prints
the resident memory of each and the scrape figures. Run with `make bench-operations`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

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

from netfence.kube import connecting
from netfence.localcluster import ControlPlane, start, stop

NETFENCE_NS = "netfence-system"
PORT = 19391


async def until_converged(client: AsyncClient, namespaces: int, expected: int) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        counts = await asyncio.gather(
            *(count_policies(client, f"bench-ops-{n}") for n in range(namespaces))
        )
        if all(c == expected for c in counts):
            return
        await asyncio.sleep(1)
    raise TimeoutError("the controller did not converge within 600 s")


async def until_ready(url: str) -> None:
    async with httpx.AsyncClient(timeout=2) as web:
        for _ in range(600):
            try:
                if (await web.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("/readyz did not answer 200 within 60 s")


async def settled_rss(pid: int, seconds: float = 5.0) -> float:
    """Resident memory once the controller has listed everything and gone quiet."""
    await asyncio.sleep(seconds)
    return memory_mb(pid)["VmRSS"]


async def run_once(
    cp: ControlPlane, directory: Path, *, metrics: bool, scrapes: int
) -> dict[str, float]:
    address = f"127.0.0.1:{PORT}" if metrics else "0"
    args = ["controller", "--log-level", "WARNING", "--metrics-bind-address", address]
    figures: dict[str, float] = {}
    with netfence_process(cp, args, directory / f"controller-{metrics}.log") as process:
        if metrics:
            url = f"http://127.0.0.1:{PORT}"
            await until_ready(url)
        else:
            await asyncio.sleep(5)
        figures["rss_mb"] = await settled_rss(process.pid)
        if metrics:
            async with httpx.AsyncClient(timeout=10) as web:
                times = []
                size = 0
                for _ in range(scrapes):
                    started = time.perf_counter()
                    response = await web.get(f"{url}/metrics")
                    times.append(time.perf_counter() - started)
                    size = len(response.content)
                ready_times = []
                for _ in range(scrapes):
                    started = time.perf_counter()
                    await web.get(f"{url}/readyz")
                    ready_times.append(time.perf_counter() - started)
            times.sort()
            figures["scrape_median_ms"] = statistics.median(times) * 1000
            figures["scrape_p95_ms"] = times[int(len(times) * 0.95) - 1] * 1000
            figures["scrape_bytes"] = size
            figures["readyz_median_ms"] = statistics.median(ready_times) * 1000
            figures["rss_after_scrapes_mb"] = memory_mb(process.pid)["VmRSS"]
    return figures


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="netfence-bench-ops-") as tmp:
        directory = Path(tmp)
        cp = start(directory / "cp")
        client = connecting.client_for(cp.kubeconfig)
        try:
            await create_all(client, [namespace(NETFENCE_NS, managed=False)])
            await create_all(
                client,
                [namespace(f"bench-ops-{n}", managed=True) for n in range(args.namespaces)],
            )
            await create_all(
                client,
                [
                    deployment(f"bench-ops-{n}", f"svc-{i}", ("http",))
                    for n in range(args.namespaces)
                    for i in range(args.per_namespace)
                ],
            )
            expected = args.per_namespace + 2
            # Converge once (the first controller writes everything), then measure two
            # controllers on the same converged cluster.
            with netfence_process(
                cp, ["controller", "--metrics-bind-address", "0"], directory / "seed.log"
            ):
                await until_converged(client, args.namespaces, expected)
            policies = args.namespaces * expected
            plain = await run_once(cp, directory, metrics=False, scrapes=args.scrapes)
            served = await run_once(cp, directory, metrics=True, scrapes=args.scrapes)
            print(
                f"cluster: {args.namespaces} managed namespaces, "
                f"{args.namespaces * args.per_namespace} controllers, {policies} policies"
            )
            print(f"controller rss without probes: {plain['rss_mb']:.0f} MB")
            print(
                f"controller rss with /metrics, /healthz, /readyz: {served['rss_mb']:.0f} MB "
                f"(+{served['rss_mb'] - plain['rss_mb']:.0f} MB); after {args.scrapes} "
                f"scrapes {served['rss_after_scrapes_mb']:.0f} MB"
            )
            print(
                f"/metrics over {args.scrapes} scrapes: median {served['scrape_median_ms']:.1f} ms, "
                f"p95 {served['scrape_p95_ms']:.1f} ms, {served['scrape_bytes'] / 1024:.1f} KiB; "
                f"/readyz median {served['readyz_median_ms']:.1f} ms"
            )
        finally:
            await client.close()
            stop(directory / "cp")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--scrapes", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
