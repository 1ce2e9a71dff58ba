"""Connectivity benchmark: the full matrix, explain latency, and what compiling buys.

Generates a synthetic cluster shaped like a real one (`connectivity_cluster`: teams of
namespaces, controllers with replicas, netfence's baseline policies, attachments from the
default templates, some hand-written policies with namespace selectors, named ports and
ipBlocks), then measures in process (`connectivity_e2e_bench.py` times the whole command):

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
from typing import TypeVar

import connectivity_cluster

from netfence.core import manifests
from netfence.core import policies as rendering
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation import impacts, matrices, reference
from netfence.core.evaluation.evaluators import Evaluator, implied_namespaces, namespace_labels
from netfence.core.objects import Namespace, Policy

T = TypeVar("T")


def _cluster(
    *, namespaces: int, controllers_per_namespace: int, pods_per_namespace: int, seed: int
) -> tuple[list[Namespace], list[Endpoint], list[Endpoint], list[Policy]]:
    """(namespaces, pods, controllers, policies) of the generated cluster, read from its
    manifests as `--from-files` reads them (five policies per namespace)."""
    documents = connectivity_cluster.manifests(
        namespaces=namespaces,
        controllers_per_namespace=controllers_per_namespace,
        pods_per_namespace=pods_per_namespace,
        seed=seed,
    )
    inventory = manifests.read((str(i), d) for i, d in enumerate(documents))
    return (
        list(inventory.namespaces),
        list(inventory.pods),
        list(inventory.controllers),
        list(inventory.policies),
    )


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
        f"  walking every verdict one by one (Matrix.verdicts; -o json no longer does): "
        f"{walk_s:.2f} s for {walked:,}"
    )
    _impact_figures(namespaces, controllers, policies)
    print(f"\nprocess peak RSS: {_peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
