"""The controller's Prometheus metrics, in one registry per controller.

Counters are bumped where things happen: the worker (reconciles and their duration), the
reconcile use case through the `ReconcileRecorder` port (writes, refusals) and the
informers (watch restarts). Gauges are read from the controller's own state at scrape
time (queue depth, leadership, what is managed), so they can never drift from it.

Names follow Prometheus conventions (`_total` for counters, base units) under the
`netfence_` prefix; docs/operations.md lists them with example queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# What a reconcile ended with: everything planned was written, something failed or was
# skipped (retried with backoff), or the pass raised.
RECONCILE_RESULTS = ("success", "retry", "error")
# A reconcile of one namespace takes milliseconds from the cache; writes add round trips.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_WRITES = (
    ("create", "networkpolicies"),
    ("update", "networkpolicies"),
    ("delete", "networkpolicies"),
    ("apply", "configmaps"),
)


@dataclass(frozen=True, slots=True)
class Gauges:
    """Where the scrape-time gauges read from: the controller hands in its own state."""

    queue_depth: Callable[[], int]
    leading: Callable[[], bool]
    synced: Callable[[], bool]
    # Managed namespaces, and the policies netfence made by role (baseline, attachment).
    managed: Callable[[], tuple[int, Mapping[str, int]]]
    # Objects in each informer's cache, by resource.
    cached: Callable[[], Mapping[str, int]]


class ControllerMetrics:
    """Implements `usecases.ports.ReconcileRecorder`; `registry` is what /metrics serves."""

    def __init__(self, *, process: bool = True) -> None:
        # No `_created` series: they double the exposition and no dashboard reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream
        self.registry = CollectorRegistry(auto_describe=True)
        if process:
            # Resident memory, CPU seconds, open files, Python GC: the usual process view.
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        self.reconciles = Counter(
            "netfence_reconcile",
            "Reconciles of one namespace, by result (success, retry, error).",
            ["result"],
            registry=self.registry,
        )
        self.reconcile_seconds = Histogram(
            "netfence_reconcile_duration_seconds",
            "How long one reconcile of a namespace took, by result.",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.writes = Counter(
            "netfence_writes",
            "Writes to the API server by verb, resource and result "
            "(success, conflict, refused, error).",
            ["verb", "resource", "result"],
            registry=self.registry,
        )
        self.refusals = Counter(
            "netfence_refusals",
            "Refusals newly reported as Events, by reason (RefusedNamespace, "
            "UnknownTemplate, PolicyNameTaken, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.watch_restarts = Counter(
            "netfence_watch_restarts",
            "Watches that ended with an error and were relisted, by resource.",
            ["resource"],
            registry=self.registry,
        )
        # Series that exist from the start read 0 instead of being absent, so rate() and
        # alerts work before the first event of their kind.
        for result in RECONCILE_RESULTS:
            self.reconciles.labels(result)
            self.reconcile_seconds.labels(result)
        for verb, resource in _WRITES:
            self.writes.labels(verb, resource, "success")

    def observe(self, gauges: Gauges) -> None:
        """Serve the gauges read from the controller's state at each scrape."""
        self.registry.register(_StateCollector(gauges))

    # --- the ReconcileRecorder port -----------------------------------------------------

    def wrote(self, verb: str, resource: str, result: str) -> None:
        self.writes.labels(verb, resource, result).inc()

    def refused(self, reason: str) -> None:
        self.refusals.labels(reason).inc()

    # --- the controller's own events -------------------------------------------------------

    def reconciled(self, result: str, seconds: float) -> None:
        self.reconciles.labels(result).inc()
        self.reconcile_seconds.labels(result).observe(seconds)

    def watch_restarted(self, resource: str) -> None:
        self.watch_restarts.labels(resource).inc()


class _StateCollector(Collector):
    def __init__(self, gauges: Gauges) -> None:
        self._gauges = gauges

    def describe(self) -> list[Metric]:
        # Described as nothing: the registry then calls collect() only at scrape time.
        return []

    def collect(self) -> Iterator[Metric]:
        g = self._gauges
        yield _gauge(
            "netfence_workqueue_depth", "Namespaces waiting to be reconciled.", g.queue_depth()
        )
        yield _gauge(
            "netfence_leader",
            "1 while this replica holds the Lease and may write, else 0.",
            1 if g.leading() else 0,
        )
        yield _gauge(
            "netfence_cache_synced",
            "1 once every informer cache has listed its objects, else 0.",
            1 if g.synced() else 0,
        )
        namespaces, policies = g.managed()
        yield _gauge(
            "netfence_managed_namespaces",
            "Namespaces labelled netfence.io/managed=true.",
            namespaces,
        )
        by_role = GaugeMetricFamily(
            "netfence_managed_policies",
            "NetworkPolicies netfence made, by role (baseline, attachment).",
            labels=["role"],
        )
        for role in sorted({"baseline", "attachment", *policies}):
            by_role.add_metric([role], policies.get(role, 0))
        yield by_role
        cached = GaugeMetricFamily(
            "netfence_cache_objects",
            "Objects held in the controller's informer caches, by resource.",
            labels=["resource"],
        )
        for resource, count in sorted(g.cached().items()):
            cached.add_metric([resource], count)
        yield cached


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
