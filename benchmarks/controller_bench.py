"""Controller benchmarks on a real local kube-apiserver; prints figures, asserts nothing.

    .venv/bin/python benchmarks/controller_bench.py [--attaches 200] [--namespaces 100]

1. Attach latency: time from setting a template label on a Deployment to the controller's
   NetworkPolicy being visible in a watch, over N sequential attaches (median, p95, max).
2. Opt-in: a namespace holding 200 controllers (each with a template label) and 50
   pre-existing policies; time from the namespace label to the backup marked adopted with
   every policy in place.
3. Memory: the controller's resident set (VmRSS, VmHWM) while watching 100 namespaces
   holding 2,000 controllers, after it has converged.

The controller runs as its own process (`netfence controller`), exactly as in a pod.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench_cluster import (
    count_policies,
    create_all,
    deployment,
    memory_mb,
    namespace,
    netfence_process,
)
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import start, stop

NETFENCE_NS = naming.DEFAULT_NETFENCE_NAMESPACE


def legacy_policy(ns: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": name}},
            "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 8080}]}],
        },
    }


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def bench_attach(client: AsyncClient, attaches: int) -> dict[str, float]:
    ns = "bench-attach"
    await create_all(client, [namespace(ns, managed=True)])
    await create_all(client, [deployment(ns, f"svc-{i}") for i in range(attaches)])
    await until(lambda: _has(client, ns, 2))
    seen: dict[str, float] = {}
    arrived = asyncio.Event()

    async def watch() -> None:
        async for kind, obj in client.watch(NetworkPolicy, namespace=ns):
            if kind == "ADDED" and obj.metadata and obj.metadata.name:
                seen[obj.metadata.name] = time.perf_counter()
                arrived.set()

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0.5)
    latencies = []
    for i in range(attaches):
        name = f"deploy-svc-{i}-http"
        start_at = time.perf_counter()
        await client.patch(
            Deployment,
            f"svc-{i}",
            {"metadata": {"labels": {naming.template_label_key("http"): "true"}}},
            namespace=ns,
        )
        while name not in seen:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), timeout=30)
        latencies.append((seen[name] - start_at) * 1000)
    watcher.cancel()
    latencies.sort()
    return {
        "attaches": attaches,
        "median_ms": statistics.median(latencies),
        "p95_ms": statistics.quantiles(latencies, n=20, method="inclusive")[18],
        "max_ms": latencies[-1],
    }


async def _has(client: AsyncClient, ns: str, count: int) -> bool:
    return await count_policies(client, ns) >= count


async def bench_opt_in(client: AsyncClient, controllers: int, policies: int) -> dict[str, float]:
    ns = "bench-optin"
    await create_all(client, [namespace(ns, managed=False)])
    await create_all(
        client,
        [deployment(ns, f"svc-{i}", ("http",)) for i in range(controllers)]
        + [legacy_policy(ns, f"legacy-{i}") for i in range(policies)],
    )
    expected = controllers + 2
    start_at = time.perf_counter()
    await client.patch(
        Namespace, ns, {"metadata": {"labels": {naming.MANAGED_NAMESPACE_LABEL: "true"}}}
    )

    async def adopted() -> bool:
        try:
            backup = await client.get(
                ConfigMap, naming.backup_configmap_name(ns), namespace=NETFENCE_NS
            )
        except Exception:  # noqa: BLE001 - not written yet
            return False
        phase = (
            (backup.metadata.annotations or {}).get(naming.PHASE_ANNOTATION)
            if backup.metadata
            else None
        )
        return phase == "adopted" and await count_policies(client, ns) == expected

    await until(adopted)
    elapsed = time.perf_counter() - start_at
    backup = await client.get(ConfigMap, naming.backup_configmap_name(ns), namespace=NETFENCE_NS)
    return {
        "controllers": controllers,
        "pre_existing_policies": policies,
        "backed_up": len(backup.data or {}),
        "policies_after": expected,
        "seconds": elapsed,
    }


async def bench_memory(
    client: AsyncClient, pid: int, namespaces: int, per_namespace: int
) -> dict[str, float]:
    manifests: list[dict[str, Any]] = [
        namespace(f"bench-mem-{n}", managed=True) for n in range(namespaces)
    ]
    await create_all(client, manifests)
    workloads = [
        deployment(f"bench-mem-{n}", f"svc-{i}", ("http", "dns") if i % 2 else ())
        for n in range(namespaces)
        for i in range(per_namespace)
    ]
    start_at = time.perf_counter()
    await create_all(client, workloads)
    expected = per_namespace // 2 * 2 + 2

    async def converged() -> bool:
        counts = await asyncio.gather(
            *(count_policies(client, f"bench-mem-{n}") for n in range(namespaces))
        )
        return all(c == expected for c in counts)

    await until(converged, timeout=600)
    converge_s = time.perf_counter() - start_at
    await asyncio.sleep(2)
    figures = memory_mb(pid)
    return {
        "namespaces": namespaces,
        "controllers": len(workloads),
        "policies": namespaces * expected,
        "converge_seconds": converge_s,
        "rss_mb": figures["VmRSS"],
        "peak_rss_mb": figures["VmHWM"],
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="netfence-bench-") as tmp:
        directory = Path(tmp)
        cp = start(directory / "cp")
        client = connecting.client_for(cp.kubeconfig)
        try:
            await create_all(
                client,
                [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NETFENCE_NS}}],
            )
            with netfence_process(
                cp, ["controller", "--log-level", "WARNING"], directory / "controller.log"
            ) as process:
                await until(lambda: _catalog(client))
                baseline = memory_mb(process.pid)
                print(f"controller idle: rss {baseline['VmRSS']:.0f} MB")
                attach = await bench_attach(client, args.attaches)
                print(
                    f"attach latency over {attach['attaches']} attaches: "
                    f"median {attach['median_ms']:.1f} ms, p95 {attach['p95_ms']:.1f} ms, "
                    f"max {attach['max_ms']:.1f} ms"
                )
                opt_in = await bench_opt_in(client, args.opt_in_controllers, args.opt_in_policies)
                print(
                    f"opt-in of a namespace with {opt_in['controllers']} controllers and "
                    f"{opt_in['pre_existing_policies']} policies: {opt_in['seconds']:.2f} s "
                    f"({opt_in['backed_up']} backed up, {opt_in['policies_after']} policies after)"
                )
                mem = await bench_memory(client, process.pid, args.namespaces, args.per_namespace)
                print(
                    f"memory watching {mem['namespaces']} namespaces, {mem['controllers']} "
                    f"controllers, {mem['policies']} policies: rss {mem['rss_mb']:.0f} MB, "
                    f"peak {mem['peak_rss_mb']:.0f} MB (converged in "
                    f"{mem['converge_seconds']:.1f} s)"
                )
        finally:
            await client.close()
            stop(directory / "cp")


async def _catalog(client: AsyncClient) -> bool:
    try:
        await client.get(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
        return True
    except Exception:  # noqa: BLE001 - not created yet
        return False


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--attaches", type=int, default=200)
    parser.add_argument("--opt-in-controllers", type=int, default=200)
    parser.add_argument("--opt-in-policies", type=int, default=50)
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--per-namespace", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
