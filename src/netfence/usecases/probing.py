"""`netfence probe`: real connections beside the evaluator's prediction.

From every pod in scope to every port each destination pod declares (TCP, UDP, SCTP),
one fresh connection each, through the `Prober` port, at most `parallel` at once. Each
result is set beside the matrix `netfence connectivity` computes; a disagreement carries
the evaluator's explanation of its prediction. A dropped connection predicted allowed is
tried again (`retries` times, with at least `RETRY_TIMEOUT`) before it counts, since an
enforcer may lose a packet's verdict while it reloads (`core.probes.worth_another_look`);
one let through against a denying prediction is proof at once.

With `workloads`, one running pod per controller (the first by name) stands for it, and
bare pods stand for themselves: fewer probes, the same rules; a controller's connections
with itself (between two of its pods) are not probed. Probing needs a prober,
which only the local cluster has today: elsewhere `Unavailable` says so.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netfence.core import errors, selectors
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation.verdicts import Verdict
from netfence.core.manifests import Inventory
from netfence.core.probes import OUTCOMES, Observation, agrees, worth_another_look
from netfence.usecases import connectivity
from netfence.usecases.ports import Cluster, Prober

DEFAULT_TIMEOUT = 1.0
DEFAULT_PARALLEL = 64
DEFAULT_RETRIES = 2
RETRY_TIMEOUT = 2.0  # a lost SYN is sent again after a second

UNAVAILABLE = (
    "probing is not available on this cluster: netfence probes only the local cluster "
    "for now (netfence controlplane up, with its dataplane), whose node agent opens each "
    "connection inside the source pod's network namespace; docs/probe.md describes the "
    "in-cluster runner (ephemeral containers) that would probe any cluster"
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which pods probe and are probed: those of `namespaces` (every namespace when
    empty), or with `workloads` one pod per controller; `port` (a number or a declared
    port name) keeps only that port."""

    namespaces: tuple[str, ...] = ()
    workloads: bool = False
    port: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One connection to try, with the evaluator's prediction."""

    source: Endpoint
    destination: Endpoint
    address: str
    port: int
    protocol: str
    predicted: bool
    # With `Scope.workloads`: the controllers (or bare pods) the two pods stand for.
    source_unit: str
    destination_unit: str


@dataclass(frozen=True, slots=True)
class Probed:
    case: Case
    observed: Observation
    attempts: int
    # The evaluator's explanation of its prediction, for a disagreement.
    explanation: Verdict | None = None

    @property
    def agrees(self) -> bool:
        return agrees(self.case.predicted, self.observed)


@dataclass(frozen=True, slots=True)
class NotProbed:
    endpoint: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    cases: tuple[Case, ...]
    not_probed: tuple[NotProbed, ...]
    namespaces: tuple[str, ...]
    # The matrix the predictions come from, and its evaluator for explanations.
    prediction: connectivity.Connectivity | None = None


@dataclass(frozen=True, slots=True)
class ProbeReport:
    started: datetime.datetime
    seconds: float  # all of it, second looks included
    first_pass_seconds: float
    timeout: float
    parallel: int
    scope: Scope
    namespaces: tuple[str, ...]  # the namespaces whose pods were probed
    results: tuple[Probed, ...]
    not_probed: tuple[NotProbed, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def disagreements(self) -> tuple[Probed, ...]:
        return tuple(r for r in self.results if not r.agrees)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result.observed.outcome] += 1
        return counts

    @property
    def rate(self) -> float:
        """Connections per second on the first pass."""
        return len(self.results) / self.first_pass_seconds if self.first_pass_seconds else 0.0


async def probe(
    cluster: Cluster,
    scope: Scope,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    retries: int = DEFAULT_RETRIES,
) -> ProbeReport:
    """Probe the pods in scope of the cluster the caller reads, as far as they may read it."""
    if cluster.prober is None:
        raise errors.Unavailable(UNAVAILABLE)
    _check_numbers(timeout, parallel, retries)
    if scope.namespaces:
        found = await connectivity.scoped(cluster.reader, scope.namespaces)
        inventory, notes = found.inventory, found.notes
    else:
        inventory, notes = await cluster.reader.inventory(), ()
    if "pods" in inventory.unreadable:
        raise errors.AccessDenied("probing needs to list pods; you may not list them here")
    report = await run(
        inventory, cluster.prober, scope, timeout=timeout, parallel=parallel, retries=retries
    )
    return report if not notes else _with_notes(report, notes)


def _with_notes(report: ProbeReport, notes: Sequence[str]) -> ProbeReport:
    return ProbeReport(
        report.started, report.seconds, report.first_pass_seconds, report.timeout,
        report.parallel, report.scope, report.namespaces, report.results,
        report.not_probed, (*notes, *report.notes),
    )  # fmt: skip


def _check_numbers(timeout: float, parallel: int, retries: int) -> None:
    if not 0 < timeout <= 60:
        raise ValueError(f"timeout {timeout:g}s is out of range: use more than 0 and at most 60")
    if not 1 <= parallel <= 1024:
        raise ValueError(f"parallel {parallel} is out of range: use 1 to 1024")
    if not 0 <= retries <= 10:
        raise ValueError(f"retries {retries} is out of range: use 0 to 10")


async def run(
    inventory: Inventory,
    prober: Prober,
    scope: Scope,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    parallel: int = DEFAULT_PARALLEL,
    retries: int = DEFAULT_RETRIES,
) -> ProbeReport:
    """Plan, probe, look again at what may be a lost packet, explain each disagreement."""
    _check_numbers(timeout, parallel, retries)
    plan = plan_probes(inventory, scope)
    started = datetime.datetime.now(datetime.UTC)
    began = time.monotonic()
    limit = asyncio.Semaphore(parallel)
    unusable: dict[str, str] = {}

    async def one(case: Case, wait: float) -> Observation | None:
        if case.source.key in unusable:
            return None
        async with limit:
            try:
                return await prober.probe(
                    case.source.key, case.address, case.port, case.protocol, wait
                )
            except errors.NotFound as e:
                unusable.setdefault(case.source.key, str(e))
                return None

    first = await asyncio.gather(*(one(c, timeout) for c in plan.cases))
    first_pass = time.monotonic() - began
    observed: dict[int, tuple[Observation, int]] = {
        i: (o, 1) for i, o in enumerate(first) if o is not None
    }
    for _ in range(retries):
        again = [
            i for i, (o, _) in observed.items() if worth_another_look(plan.cases[i].predicted, o)
        ]
        if not again:
            break
        looks = await asyncio.gather(
            *(one(plan.cases[i], max(timeout, RETRY_TIMEOUT)) for i in again)
        )
        for i, look in zip(again, looks, strict=True):
            if look is not None:
                observed[i] = (look, observed[i][1] + 1)
    results = []
    for i, (observation, attempts) in sorted(observed.items()):
        case = plan.cases[i]
        explanation = None
        if not agrees(case.predicted, observation) and plan.prediction is not None:
            explanation = _explain(plan.prediction, case)
        results.append(Probed(case, observation, attempts, explanation))
    not_probed = list(plan.not_probed)
    not_probed += [NotProbed(pod, why) for pod, why in sorted(unusable.items())]
    return ProbeReport(
        started=started,
        seconds=time.monotonic() - began,
        first_pass_seconds=first_pass,
        timeout=timeout,
        parallel=parallel,
        scope=scope,
        namespaces=plan.namespaces,
        results=tuple(results),
        not_probed=tuple(not_probed),
    )


def _explain(found: connectivity.Connectivity, case: Case) -> Verdict:
    evaluator = found.evaluator
    source, destination = evaluator.find(case.source.key), evaluator.find(case.destination.key)
    assert source is not None and destination is not None
    return evaluator.explain(source, destination, case.port, case.protocol)


# --- what to probe (pure) -----------------------------------------------------------------


def plan_probes(inventory: Inventory, scope: Scope) -> Plan:
    """Every connection to try for the scope, each with its prediction; the pods left out
    and why. Purely computational."""
    wanted = set(scope.namespaces)
    pods = [p for p in inventory.pods if not wanted or p.namespace in wanted]
    missing = sorted(wanted - {ns.name for ns in inventory.namespaces})
    if missing:
        raise errors.NotFound(f"namespace {missing[0]} does not exist")
    not_probed: list[NotProbed] = []
    units = {p.key: p.key for p in pods}
    if scope.workloads:
        pods, units, left = _representatives(inventory, pods)
        not_probed += left
    usable = []
    for pod in pods:
        if _address(pod) is None:
            not_probed.append(NotProbed(pod.key, "has no IP yet (not running)"))
        else:
            usable.append(pod)
    namespaces = tuple(sorted({p.namespace for p in usable}))
    if not usable:
        return Plan((), tuple(not_probed), namespaces)
    found = connectivity.connectivity(
        inventory, workloads=False, namespaces=scope.namespaces or namespaces
    )
    keep = {p.key for p in usable}
    endpoints = found.matrix.endpoints
    cases = []
    for s, d, (port, protocol), allowed in found.matrix.verdicts():
        source, destination = endpoints[s], endpoints[d]
        if source.key not in keep or destination.key not in keep:
            continue
        if scope.port is not None and not _port_wanted(destination, port, protocol, scope.port):
            continue
        if scope.workloads and s == d and units[source.key] != source.key:
            # A controller's cell with itself is two of its pods; its one stand-in pod
            # would only reach itself, which is always allowed: nothing to learn.
            continue
        address = _address(destination)
        assert address is not None
        cases.append(
            Case(
                source,
                destination,
                address,
                port,
                protocol,
                allowed,
                units[source.key],
                units[destination.key],
            )
        )
    return Plan(tuple(cases), tuple(not_probed), namespaces, found)


def _representatives(
    inventory: Inventory, pods: Sequence[Endpoint]
) -> tuple[list[Endpoint], dict[str, str], list[NotProbed]]:
    """One running pod per controller (the first by name), and every bare pod."""
    chosen: list[Endpoint] = []
    units: dict[str, str] = {}
    taken: set[str] = set()
    left: list[NotProbed] = []
    by_namespace = {p.namespace for p in pods}
    for workload in inventory.workloads:
        if workload.namespace not in by_namespace or workload.pod_selector is None:
            continue
        selector = selectors.parse(workload.pod_selector)
        mine = [p for p in pods if p.namespace == workload.namespace and selector.matches(p.labels)]
        taken.update(p.key for p in mine)
        unit = f"{workload.namespace}/{workload.kind.value}/{workload.name}"
        running = [p for p in mine if _address(p) is not None]
        if not running:
            left.append(NotProbed(unit, "runs no pod with an IP"))
            continue
        chosen.append(running[0])
        units[running[0].key] = unit
    for pod in pods:
        if pod.key not in taken:
            chosen.append(pod)
            units[pod.key] = pod.key
    return sorted(chosen, key=lambda p: p.key), units, left


def _address(pod: Endpoint) -> str | None:
    """The address to probe: the first IPv4 one, else the first."""
    for text in pod.ips:
        try:
            if ipaddress.ip_address(text).version == 4:
                return text
        except ValueError:
            continue
    return pod.ips[0] if pod.ips else None


def _port_wanted(destination: Endpoint, port: int, protocol: str, wanted: str) -> bool:
    if wanted.isdigit():
        return port == int(wanted)
    return destination.named_port(wanted, protocol) == port


# --- the document `probe -o json` prints (docs/probe.md) ----------------------------------


def as_json(report: ProbeReport) -> dict[str, Any]:
    """The report as a plain document, the same for the CLI and the console."""
    outcomes = report.outcomes()
    agreeing = len(report.results) - len(report.disagreements)
    return {
        "probedAt": report.started.isoformat().replace("+00:00", "Z"),
        "seconds": round(report.seconds, 3),
        "timeoutSeconds": report.timeout,
        "parallel": report.parallel,
        "scope": {
            "namespaces": list(report.scope.namespaces) or None,
            "workloads": report.scope.workloads,
            "port": report.scope.port,
        },
        "namespaces": list(report.namespaces),
        "summary": {
            "probed": len(report.results),
            "agree": agreeing,
            "disagree": len(report.disagreements),
            **outcomes,
            "connectionsPerSecond": round(report.rate, 1),
        },
        "results": [_result_json(r) for r in report.results],
        "notProbed": [{"endpoint": n.endpoint, "reason": n.reason} for n in report.not_probed],
        "notes": list(report.notes),
    }


def _result_json(result: Probed) -> dict[str, Any]:
    case = result.case
    document: dict[str, Any] = {
        "source": case.source.key,
        "destination": case.destination.key,
        "address": case.address,
        "port": case.port,
        "protocol": case.protocol,
        "predicted": "allowed" if case.predicted else "denied",
        "observed": result.observed.outcome,
        "answer": result.observed.answer,
        "attempts": result.attempts,
        "seconds": round(result.observed.seconds, 4),
        "agrees": result.agrees,
    }
    if case.source_unit != case.source.key or case.destination_unit != case.destination.key:
        document["sourceUnit"] = case.source_unit
        document["destinationUnit"] = case.destination_unit
    if result.explanation is not None:
        document["explanation"] = result.explanation.as_json()
    return document
