"""Connectivity benchmark: the full matrix, explain latency, and what compiling buys.

Generates a synthetic cluster shaped like a real one (teams of namespaces, controllers with
replicas, netfence's baseline policies, attachments from the default templates, some
hand-written policies with namespace selectors, named ports and ipBlocks), then measures:

* the pod-level matrix for 5,000 pods in 200 namespaces under 1,000 policies: compiling
  (evaluator construction) plus every row, and the memory it takes;
* the controller-level matrix for 2,000 controllers under the same kind of policies;
* `explain` for random connections;
* a straightforward pair-by-pair evaluation (`evaluation.reference`) on a random sample of
  the same connections, extrapolated to the whole matrix, and whether it agrees.

Prints the figures; asserts nothing. Run with `make bench-connectivity`.
"""

from __future__ import annotations

import gc
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

from netfence.core import policies as rendering
from netfence.core.endpoints import ContainerPort, Endpoint
from netfence.core.evaluation import impacts, matrices, reference
from netfence.core.evaluation.evaluators import Evaluator, implied_namespaces, namespace_labels
from netfence.core.objects import Namespace, Policy

T = TypeVar("T")

# app -> (container ports, replicas)
_APPS: dict[str, tuple[tuple[ContainerPort, ...], int]] = {
    "web": ((ContainerPort(8080, "TCP", "http"), ContainerPort(9100, "TCP", "metrics")), 6),
    "api": ((ContainerPort(8443, "TCP", "https"), ContainerPort(9100, "TCP", "metrics")), 6),
    "db": ((ContainerPort(5432, "TCP", "pg"),), 3),
    "cache": ((ContainerPort(6379, "TCP", "redis"),), 3),
    "worker": ((ContainerPort(9100, "TCP", "metrics"),), 4),
    "dns": ((ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp")), 3),
}
_ENVS = ("prod", "staging", "dev")


def _cluster(
    *, namespaces: int, controllers_per_namespace: int, pods_per_namespace: int, seed: int
) -> tuple[list[Namespace], list[Endpoint], list[Endpoint], list[Policy]]:
    """(namespaces, pods, controllers, policies) with five policies per namespace."""
    rng = random.Random(seed)
    spaces = [
        Namespace(f"team{i % 40}-svc{i}", {"team": f"team{i % 40}", "env": _ENVS[i % 3]})
        for i in range(namespaces - 2)
    ]
    spaces.append(Namespace("kube-system", {}))
    spaces.append(Namespace("monitoring", {"purpose": "monitoring"}))
    pods: list[Endpoint] = []
    controllers: list[Endpoint] = []
    address = 0
    for space in spaces:
        apps = ["web", "api", "db", "cache", "worker"]
        if space.name == "kube-system":
            apps = ["dns"]
        elif space.name == "monitoring":
            apps = ["worker"]
        owned: list[tuple[Endpoint, int]] = []
        for number in range(controllers_per_namespace):
            app = apps[number % len(apps)]
            ports, replicas = _APPS[app]
            labels = {"app": app, "version": f"v{rng.randint(1, 3)}"}
            labels["tier"] = "front" if app == "web" else "back"
            if app == "dns":
                labels["k8s-app"] = "kube-dns"
            controller = Endpoint(space.name, f"{app}-{number}", "Deployment", labels, (), ports)
            controllers.append(controller)
            owned.append((controller, replicas))
        made = 0
        while made < pods_per_namespace:
            for controller, replicas in owned:
                for replica in range(replicas):
                    if made >= pods_per_namespace:
                        break
                    ip = f"10.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"
                    address += 1
                    pods.append(
                        Endpoint(
                            space.name,
                            f"{controller.name}-{made}-{replica}",
                            "Pod",
                            {**controller.labels, "pod-template-hash": f"{controller.name}-h"},
                            (ip,),
                            controller.ports,
                        )
                    )
                    made += 1
    policies: list[Policy] = []
    for number, space in enumerate(spaces):
        pool = _policies_for(space, number, rng)
        # The baseline pair everywhere, then three of the other kinds, rotating.
        chosen = pool[:2] + [pool[2 + (number + k) % (len(pool) - 2)] for k in range(3)]
        policies.extend(Policy(space.name, name, spec=spec) for spec, name in chosen)
    return spaces, pods, controllers, policies


def _policies_for(
    space: Namespace, number: int, rng: random.Random
) -> list[tuple[dict[str, Any], str]]:
    team = space.labels.get("team", "none")
    neighbour = f"team{(number + 1) % 40}"
    dns_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return [
        ({"podSelector": {}, "policyTypes": ["Ingress"]}, "deny-all-ingress"),
        (
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
            },
            "allow-namespace-communication",
        ),
        (
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"team": team}}},
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "team", "operator": "In", "values": [neighbour]}
                                    ]
                                },
                                "podSelector": {"matchLabels": {"tier": "front"}},
                            },
                        ],
                        "ports": [{"port": "http"}, {"port": 8000, "endPort": 8100}],
                    }
                ],
            },
            "web-from-team",
        ),
        (
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [dns_peer], "ports": dns_ports},
                    {
                        "to": [{"podSelector": {"matchLabels": {"app": "db"}}}],
                        "ports": [{"port": "pg"}],
                    },
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": f"10.{rng.randint(0, 1)}.0.0/16",
                                    "except": ["10.0.3.0/24"],
                                }
                            }
                        ]
                    },
                ],
            },
            "api-egress",
        ),
        (
            {
                "podSelector": {
                    "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]
                },
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}],
                        "ports": [{"port": "metrics"}],
                    }
                ],
            },
            "allow-monitoring",
        ),
        (
            # The default `https` template attached to the api: open to every namespace.
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8443}]}],
            },
            "deploy-api-https",
        ),
        (
            # Everything but the dev environments may reach the cache.
            {
                "podSelector": {"matchLabels": {"app": "cache"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "env", "operator": "NotIn", "values": ["dev"]}
                                    ]
                                }
                            }
                        ],
                        "ports": [{"port": 6379}],
                    }
                ],
            },
            "cache-from-non-dev",
        ),
        (
            # Workers only talk to the database and DNS.
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "egress": [
                    {"to": [dns_peer], "ports": dns_ports},
                    {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]},
                ],
            },
            "worker-egress",
        ),
    ]


def _timed(action: Callable[[], T]) -> tuple[T, float]:
    gc.collect()
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _matrix_figures(
    label: str, namespaces: list[Namespace], endpoints: list[Endpoint], policies: list[Policy]
) -> tuple[Evaluator, matrices.Matrix]:
    evaluator, compile_s = _timed(
        lambda: Evaluator(namespaces=namespaces, endpoints=endpoints, policies=policies)
    )
    matrix, rows_s = _timed(lambda: matrices.compute(evaluator))
    allowed, total = matrix.counts()
    print(
        f"\n{label}: {len(endpoints):,} endpoints, {len(namespaces)} namespaces, {len(policies):,} policies"
    )
    print(f"  ports declared: {len(matrix.keys)} ({', '.join(f'{p}/{q}' for p, q in matrix.keys)})")
    print(f"  connections covered: {total:,} ({allowed:,} allowed)")
    print(
        f"  compile: {compile_s * 1000:.0f} ms, rows: {rows_s * 1000:.0f} ms, total: {(compile_s + rows_s):.2f} s"
    )
    distinct = len({id(r) for rows in matrix.rows.values() for r in rows})
    print(f"  distinct rows: {distinct:,} of {len(endpoints) * len(matrix.keys):,}")

    tracemalloc.start()
    evaluator_again = Evaluator(namespaces=namespaces, endpoints=endpoints, policies=policies)
    matrices.compute(evaluator_again)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del evaluator_again
    print(f"  Python heap peak while compiling and computing (tracemalloc): {peak / 2**20:.0f} MB")
    print(f"  process peak RSS so far: {_peak_rss_mb():.0f} MB")
    return evaluator, matrix


def _explain_figures(evaluator: Evaluator, matrix: matrices.Matrix, rng: random.Random) -> None:
    samples = []
    for _ in range(2000):
        source = rng.randrange(evaluator.size)
        destination = rng.randrange(evaluator.size)
        port, protocol = rng.choice(matrix.keys)
        start = time.perf_counter()
        evaluator.explain(source, destination, port, protocol).reasons()
        samples.append(time.perf_counter() - start)
    samples.sort()
    print(
        f"  explain (verdict + reasons in words), 2,000 random connections: median "
        f"{statistics.median(samples) * 1000:.3f} ms, p95 {samples[int(len(samples) * 0.95)] * 1000:.3f} ms, "
        f"worst {samples[-1] * 1000:.3f} ms"
    )


def _reference_figures(
    evaluator: Evaluator,
    matrix: matrices.Matrix,
    namespaces: list[Namespace],
    policies: list[Policy],
    rng: random.Random,
) -> None:
    labels = {
        ns.name: namespace_labels(ns)
        for ns in implied_namespaces(namespaces, evaluator.endpoints, policies)
    }
    endpoints = evaluator.endpoints
    sample: list[tuple[int, int, tuple[int, str]]] = []
    while len(sample) < 1000:
        source = rng.randrange(evaluator.size)
        destination = rng.randrange(evaluator.size)
        declared = endpoints[destination].declared()
        if declared:
            sample.append((source, destination, rng.choice(declared)))
    agree = 0
    start = time.perf_counter()
    for source, destination, (port, protocol) in sample:
        verdict = reference.allowed(
            endpoints[source],
            endpoints[destination],
            port,
            protocol,
            policies=policies,
            namespace_labels=labels,
        )
        agree += verdict == matrix.allowed(source, destination, (port, protocol))
    elapsed = time.perf_counter() - start
    _, total = matrix.counts()
    per = elapsed / len(sample)
    print(
        f"  pair-by-pair reference: {per * 1000:.2f} ms per connection "
        f"({len(sample):,} sampled), so {per * total / 3600:.1f} hours for the "
        f"{total:,} connections of the matrix; agrees on {agree:,} of {len(sample):,}"
    )


def _impact_figures(
    namespaces: list[Namespace], endpoints: list[Endpoint], policies: list[Policy]
) -> None:
    """Enabling one more namespace: its policies replaced by netfence's baseline."""
    target = namespaces[0].name
    kept = [p for p in policies if p.namespace != target]
    baseline = [
        Policy(target, m["metadata"]["name"], spec=m["spec"])
        for m in rendering.baseline_policies(target)
    ]
    report, seconds = _timed(
        lambda: impacts.impact(policies, kept + baseline, endpoints, namespaces)
    )
    print(
        f"  impact preview of re-enabling one namespace (two matrices and their difference): "
        f"{seconds * 1000:.0f} ms, {len(report.newly_denied):,} newly denied, "
        f"{len(report.newly_allowed):,} newly allowed"
    )


def main() -> None:
    rng = random.Random(7)
    print(
        f"connectivity benchmark: Python {platform.python_version()}, {platform.machine()}, {sys.platform}"
    )

    namespaces, pods, _, policies = _cluster(
        namespaces=200, controllers_per_namespace=6, pods_per_namespace=25, seed=1
    )
    evaluator, matrix = _matrix_figures("pod-level matrix", namespaces, pods, policies)
    _explain_figures(evaluator, matrix, rng)
    _reference_figures(evaluator, matrix, namespaces, policies, rng)
    del evaluator, matrix

    namespaces, _, controllers, policies = _cluster(
        namespaces=200, controllers_per_namespace=10, pods_per_namespace=0, seed=2
    )
    evaluator, matrix = _matrix_figures(
        "controller-level matrix", namespaces, controllers, policies
    )
    _explain_figures(evaluator, matrix, rng)
    walked, walk_s = _timed(lambda: sum(1 for _ in matrix.verdicts()))
    print(
        f"  walking every verdict one by one (what -o json does before printing): "
        f"{walk_s:.2f} s for {walked:,}"
    )
    _impact_figures(namespaces, controllers, policies)
    print(f"\nprocess peak RSS: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
