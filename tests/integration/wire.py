"""Real connections between the dataplane's pods, for the tests that check on the wire
what netfence promises (tests/integration/test_wire*.py).

A probe is one fresh connection from inside a source pod to a destination pod's address:
``connected`` or ``refused`` (nothing listens there) means the network let it through,
``dropped`` (nothing came back within the timeout) means a NetworkPolicy stopped it, and
``unreachable`` means the probe was wrong (no pod has that address). Probes run in
parallel, a bounded number at once. Traffic from the node itself is special (always
allowed upstream), so every probe starts inside a pod.

UDP probes use a source port of their own each time: a datagram whose five-tuple the node's
conntrack still remembers from an earlier allowed exchange (30 s for UDP) would pass as an
established flow without meeting the enforcer, and look allowed whatever the policies say.

LOST_PACKETS: a connection the network lets through can still look dropped. In
iptables-nfqueue mode, kube-network-policies v0.8.0 retries loading its nftables table
(which this kernel cannot load) after every change it watches; packets queued at the
moment of a failed attempt lose their verdict (its log says "Could not receive message"
error="netlink receive: no such file or directory", florianl/go-nfqueue#58). A TCP
connection then gets through with its SYN retransmitted a second later; a UDP datagram
is lost. A dropped probe is therefore looked at again before it counts against a
prediction, while a connection let through is proof.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import itertools
import socket
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, AsyncClient, codecs
from lightkube.models.core_v1 import Container, ContainerPort, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Pod

from netfence.core import naming
from netfence.core.endpoints import Endpoint
from netfence.core.manifests import Inventory
from netfence.kube.reading import LiveReader
from netfence.localcluster import netns
from netfence.localcluster.dataplane import Dataplane
from netfence.localcluster.netns import ProbeResult
from netfence.usecases import connectivity
from tests.integration.netfence_fixtures import NETFENCE_NS

# A denied connection shows as silence: the pods are one veth hop apart, so an answer
# takes well under a millisecond, even with other builds running beside.
DROP_TIMEOUT = 0.5
PARALLEL = 64
# How long a change may take to reach the wire before a test gives up on it.
SETTLE_SECONDS = 15.0

_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH}
# Source ports for UDP probes, one per probe, far from every port a pod declares.
_udp_source_ports = itertools.cycle(range(40000, 60000))

PortSpec = tuple[str, int, str | None]  # protocol, number, name


@dataclass(frozen=True, order=True)
class Probe:
    """One connection to try: from pod ``source`` to pod ``destination`` (``ns/name``)."""

    source: str
    destination: str
    port: int
    protocol: str = "TCP"

    @property
    def is_self(self) -> bool:
        return self.source == self.destination

    def __str__(self) -> str:
        return f"{self.source} → {self.destination} {self.port}/{self.protocol}"


def allowed(result: ProbeResult) -> bool:
    """Whether the network let the connection through (refused: nothing listens there)."""
    return result.outcome in ("connected", "refused")


def differences(expected: Mapping[Probe, bool], seen: Mapping[Probe, bool]) -> list[str]:
    word = {True: "allowed", False: "denied"}
    return [
        f"{probe}: expected {word[want]}, the wire {word[seen[probe]]} it"
        for probe, want in sorted(expected.items())
        if seen.get(probe) != want
    ]


class Wire:
    """Probes between the pods of one dataplane, by pod name."""

    def __init__(self, node: Dataplane, *, parallel: int = PARALLEL) -> None:
        self.node = node
        self.ips: dict[str, str] = {}
        self._netns: dict[str, str] = {}
        self._limit = asyncio.Semaphore(parallel)
        self.probes = 0

    def add(self, namespace: str, ips: Mapping[str, str]) -> None:
        for name, ip in ips.items():
            self.ips[f"{namespace}/{name}"] = ip

    def forget(self, namespace: str) -> None:
        for key in [k for k in self.ips if k.startswith(namespace + "/")]:
            del self.ips[key]
            self._netns.pop(key, None)

    def _netns_of(self, pod: str) -> str:
        if pod not in self._netns:
            self._netns[pod] = self.node.pod_netns(pod)
        return self._netns[pod]

    async def connect(
        self, source: str, address: str, port: int, protocol: str, timeout: float
    ) -> ProbeResult:
        """One fresh connection from inside pod ``source``, unbounded by the limit."""
        self.probes += 1
        if protocol == "UDP":
            attempt = _udp_probe(self._netns_of(source), address, port, timeout)
        else:
            attempt = self.node.probe(source, address, port, protocol, timeout)
        # Each step has its own timeout; this bounds what has none (a socket made in a
        # namespace by a helper thread), so a stuck probe fails by name instead of hanging.
        try:
            return await asyncio.wait_for(attempt, timeout + _PROBE_GRACE)
        except TimeoutError:
            raise AssertionError(
                f"probe {source} -> {address}:{port}/{protocol} did not end within "
                f"{timeout + _PROBE_GRACE:g}s"
            ) from None

    async def probe(self, probe: Probe, timeout: float = DROP_TIMEOUT) -> ProbeResult:
        address = self.ips[probe.destination]
        async with self._limit:
            result = await self.connect(probe.source, address, probe.port, probe.protocol, timeout)
        if result.outcome == "unreachable":
            raise AssertionError(f"{probe}: unreachable, no pod answers at {address}")
        return result

    async def observe(
        self, probes: Iterable[Probe], timeout: float = DROP_TIMEOUT
    ) -> dict[Probe, bool]:
        """Every probe at once (at most ``parallel`` in flight): allowed or not."""
        wanted = list(probes)
        results = await asyncio.gather(*(self.probe(p, timeout) for p in wanted))
        return {p: allowed(r) for p, r in zip(wanted, results, strict=True)}

    async def settle(
        self, expected: Mapping[Probe, bool], *, timeout: float = SETTLE_SECONDS
    ) -> float:
        """Probe everything again and again until the wire shows ``expected``; how long
        that took. Fails with the differences still seen after ``timeout``."""
        started = time.monotonic()
        while True:
            seen = await self.observe(expected)
            if seen == expected:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                lines = differences(expected, seen)
                raise AssertionError(
                    f"after {timeout:g}s the wire still disagrees on {len(lines)} of "
                    f"{len(expected)} connections:\n  " + "\n  ".join(lines)
                )

    async def first(
        self,
        probe: Probe,
        want: bool,
        *,
        timeout: float = SETTLE_SECONDS,
        every: float = 0.005,
        drop_timeout: float = 0.3,
        confirm: int = 5,
    ) -> float:
        """Start a fresh connection every ``every`` seconds until the wire shows ``want``
        (allowed or not); when (time.monotonic()) the first connection began that met it.

        A connection let through is proof; a dropped one is not (see LOST_PACKETS), so for
        ``want=False`` it is the first of a run of at least ``confirm`` dropped ones that
        nothing let through interrupts. Connections still in flight when this returns
        finish in the background (within ``drop_timeout``), never cancelled halfway
        through making a socket; :func:`drain` waits for them."""
        address = self.ips[probe.destination]
        done: list[tuple[float, bool]] = []
        in_flight: set[float] = set()
        changed = asyncio.Event()
        failures: list[BaseException] = []

        async def one(began: float) -> None:
            try:
                result = await self.connect(
                    probe.source, address, probe.port, probe.protocol, drop_timeout
                )
                if result.outcome == "unreachable":
                    raise AssertionError(f"{probe}: unreachable")
                done.append((began, allowed(result)))
            except Exception as e:  # noqa: BLE001 - raised by the loop below
                failures.append(e)
            finally:
                in_flight.discard(began)
                changed.set()

        def answer() -> float | None:
            if want:
                return min((began for began, through in done if through), default=None)
            # Only what began before every connection still in flight is settled.
            horizon = min(in_flight, default=float("inf"))
            settled = sorted(sample for sample in done if sample[0] < horizon)
            run = list(itertools.takewhile(lambda sample: not sample[1], reversed(settled)))
            return run[-1][0] if len(run) >= confirm else None

        started = time.monotonic()
        while (found := answer()) is None:
            if failures:
                raise failures[0]
            if time.monotonic() - started > timeout:
                raise AssertionError(
                    f"{probe} still not {'allowed' if want else 'denied'} after {timeout:g}s"
                )
            began = time.monotonic()
            in_flight.add(began)
            task = asyncio.create_task(one(began))
            _background.add(task)
            task.add_done_callback(_background.discard)
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), every)
        return found


class Sampler:
    """Fresh connections of one probe started every ``every`` seconds in the background,
    each recorded as (when it began, whether it got through): what a client retrying all
    the time would have met while something changed."""

    def __init__(
        self, wire: Wire, probe: Probe, *, every: float = 0.005, drop_timeout: float = 0.3
    ) -> None:
        self.wire, self.probe, self.every, self.drop_timeout = wire, probe, every, drop_timeout
        self.samples: list[tuple[float, bool]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._loop: asyncio.Task[None] | None = None

    async def _one(self, began: float) -> None:
        address = self.wire.ips[self.probe.destination]
        probe = self.probe
        result = await self.wire.connect(
            probe.source, address, probe.port, probe.protocol, self.drop_timeout
        )
        assert result.outcome != "unreachable", f"{probe}: unreachable"
        self.samples.append((began, allowed(result)))

    async def _launch(self) -> None:
        while self._running:
            task = asyncio.create_task(self._one(time.monotonic()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(self.every)  # the sampling rate, not a wait for a condition

    async def __aenter__(self) -> Sampler:
        self._running = True
        self._loop = asyncio.create_task(self._launch())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._running = False
        if self._loop is not None:
            await self._loop
        await asyncio.gather(*list(self._tasks))


# Probe tasks of Wire.first that outlive it; kept referenced until they end.
_PROBE_GRACE = 20.0
_background: set[asyncio.Task[None]] = set()


async def drain(*, timeout: float = 10.0) -> None:
    """Wait for the probes Wire.first left running (their answers were not needed), then
    cancel what is still running: a probe whose pod was deleted under it may never end,
    and must not hold a module's teardown forever."""
    left = [task for task in _background if not task.done()]
    if left:
        _, pending = await asyncio.wait(left, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    _background.clear()


async def _udp_probe(pod_netns: str, address: str, port: int, timeout: float) -> ProbeResult:
    started = time.monotonic()
    made: socket.socket | OSError = OSError("no socket")
    for _ in range(3):  # a source port may be in use by a listener of that pod
        spec = netns.SocketSpec("UDP", port=next(_udp_source_ports))  # bound, not listening
        [made] = await netns.shared_sockets().acreate(pod_netns, [spec])
        if not isinstance(made, OSError):
            break
    if isinstance(made, OSError):
        raise made
    sock = made
    loop = asyncio.get_running_loop()
    try:
        sock.connect((address, port))
        await loop.sock_sendall(sock, netns.PROBE_PAYLOAD)
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
    except TimeoutError:
        return ProbeResult("dropped", None, time.monotonic() - started)
    except ConnectionRefusedError:
        return ProbeResult("refused", None, time.monotonic() - started)
    except OSError as e:
        if e.errno in _UNREACHABLE:
            return ProbeResult("unreachable", None, time.monotonic() - started)
        raise
    finally:
        sock.close()
    answer = data.decode(errors="replace").strip() or None
    return ProbeResult("connected", answer, time.monotonic() - started)


# --- what the evaluator predicts ----------------------------------------------------------


async def read_inventory(admin: AsyncClient) -> Inventory:
    """The live cluster as `netfence connectivity` reads it."""
    return await LiveReader(admin, netfence_namespace=NETFENCE_NS).inventory()


def predicted(inventory: Inventory, pods: Iterable[str]) -> dict[Probe, bool]:
    """The evaluator's verdict for every ordered pair of ``pods`` (``ns/name``, a pod with
    itself included) and every port the destination declares."""
    wanted = set(pods)
    namespaces = sorted({p.split("/", 1)[0] for p in wanted})
    result = connectivity.connectivity(inventory, workloads=False, namespaces=namespaces)
    endpoints = result.matrix.endpoints
    verdicts: dict[Probe, bool] = {}
    for s, d, (port, protocol), verdict in result.matrix.verdicts():
        source, destination = endpoints[s].key, endpoints[d].key
        if source in wanted and destination in wanted:
            verdicts[Probe(source, destination, port, protocol)] = verdict
    missing = wanted - {p.source for p in verdicts} - {p.destination for p in verdicts}
    assert not missing, f"the evaluator does not know {sorted(missing)}"
    return verdicts


def as_kube_network_policies(
    inventory: Inventory, sidecar_ports: Mapping[str, set[tuple[int, str]]]
) -> Inventory:
    """The inventory as kube-network-policies v0.8.0 reads it: it resolves a named port
    on the ports of ``spec.containers`` only (``evaluatePorts``), so a name a sidecar
    declares (``pod key -> {(port, protocol)}``) matches nothing there. The Kubernetes API
    counts sidecars' ports as the pod's (a Service's named targetPort finds them), and so
    does netfence; this is the enforcer's gap, used to tell it from the evaluator's."""

    def unnamed(endpoint: Endpoint) -> Endpoint:
        mine = sidecar_ports.get(endpoint.key, set())
        ports = tuple(
            dataclasses.replace(p, name=None) if (p.port, p.protocol) in mine else p
            for p in endpoint.ports
        )
        return dataclasses.replace(endpoint, ports=ports)

    return dataclasses.replace(inventory, pods=tuple(unnamed(e) for e in inventory.pods))


def explanation(inventory: Inventory, probe: Probe) -> list[str]:
    """What `netfence explain` says about one connection."""
    verdict = connectivity.explain(
        inventory, probe.source, probe.destination, port=str(probe.port), protocol=probe.protocol
    )
    return [verdict.headline(), *verdict.reasons()]


# --- objects ------------------------------------------------------------------------------


def pod(
    namespace: str,
    name: str,
    node: str,
    labels: Mapping[str, str],
    ports: Sequence[PortSpec] = (("TCP", 8080, None),),
    *,
    sidecar: Sequence[PortSpec] = (),
) -> Pod:
    """A pod bound to ``node`` (no scheduler needed) that listens on ``ports``.

    ``sidecar`` ports are declared by a sidecar (an init container with restartPolicy
    Always): they are the pod's ports, but the node agent opens listeners only for the
    ports of ``containers``, so a connection to one is refused when it is let through."""
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=dict(labels)),
        spec=PodSpec(
            nodeName=node,
            containers=[
                Container(name="main", image=f"example.org/{name}:1.0", ports=_ports(ports))
            ],
            initContainers=[
                Container(
                    name="sidecar",
                    image="example.org/sidecar:1.0",
                    restartPolicy="Always",
                    ports=_ports(sidecar),
                )
            ]
            if sidecar
            else None,
        ),
    )


def _ports(ports: Sequence[PortSpec]) -> list[ContainerPort]:
    return [
        ContainerPort(containerPort=number, protocol=protocol, name=port_name)
        for protocol, number, port_name in ports
    ]


def deployment(
    namespace: str,
    name: str,
    labels: Mapping[str, str],
    *,
    ports: Sequence[PortSpec] = (("TCP", 8080, None),),
    templates: Sequence[str] = (),
) -> dict[str, Any]:
    """A Deployment with 0 replicas whose pods carry ``labels``: the test makes its pods
    itself (with those labels, bound to its node; pods without a pod-template-hash label
    are never adopted by the Deployment's ReplicaSet); netfence selects them by this
    Deployment's selector all the same."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {naming.template_label_key(t): "true" for t in templates},
        },
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": f"example.org/{name}:1.0",
                            "ports": [
                                {"containerPort": n, "protocol": p, **({"name": m} if m else {})}
                                for p, n, m in ports
                            ],
                        }
                    ]
                },
            },
        },
    }


async def create(client: AsyncClient, manifest: dict[str, Any]) -> None:
    await client.create(codecs.from_dict(manifest))


async def ensure_namespace(client: AsyncClient, name: str) -> bool:
    """A namespace of a fixed name (``monitoring``, ``ingress-nginx``: templates name
    them), made if absent; whether this call made it (then its maker removes it)."""
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=name)))
    except ApiError as e:
        if e.status.code != 409:
            raise
        return False
    return True


# --- figures ------------------------------------------------------------------------------


def summary(seconds: Sequence[float]) -> str:
    """median / p95 / worst in milliseconds."""
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
        f"worst {ordered[-1] * 1000:.0f} ms (n={len(ordered)})"
    )


def expect(probes: Iterable[Probe], rule: Callable[[Probe], bool]) -> dict[Probe, bool]:
    return {p: rule(p) for p in probes}


@dataclass(frozen=True)
class Agreement:
    """How the evaluator's matrix compared with the wire."""

    compared: int  # ordered pairs of pods (a pod with itself included), per declared port
    allowed: int  # of those, allowed
    self_pairs: int  # of those, a pod to itself (always allowed)


async def assert_agrees(
    admin: AsyncClient, wire: Wire, pods: Iterable[str], *, timeout: float = SETTLE_SECONDS
) -> Agreement:
    """The evaluator's matrix over ``pods`` (read from the live cluster now) is what the
    wire shows, for every ordered pair of pods (a pod with itself included) and every
    declared port; probing until it is (bounded), so that changes just made have reached
    the enforcer. Fails with each disagreement and what `netfence explain` says about it."""
    inventory = await read_inventory(admin)
    expected = predicted(inventory, pods)
    try:
        await wire.settle(expected, timeout=timeout)
    except AssertionError:
        seen = await wire.observe(expected, timeout=2.0)
        lines = []
        for probe in sorted(p for p in expected if seen[p] != expected[p]):
            lines.append(f"the wire {'allowed' if seen[probe] else 'denied'} {probe}")
            lines.extend(f"    {line}" for line in explanation(inventory, probe))
        if not lines:
            raise
        raise AssertionError("the evaluator and the wire disagree:\n" + "\n".join(lines)) from None
    selves = [p for p in expected if p.is_self]
    assert all(expected[p] for p in selves), "the evaluator: a pod always reaches itself"
    return Agreement(compared=len(expected), allowed=sum(expected.values()), self_pairs=len(selves))
