"""The node agent: the one part of the local cluster that stands in for a kubelet.

It registers one Node (Ready, a pod CIDR, room for thousands of pods), renews the node's
Lease in kube-node-lease and keeps its Ready condition fresh, so a node lifecycle
controller keeps it Ready. For every Pod bound to that node (``spec.nodeName``) it makes
what a container runtime and a CNI plugin would, minus the containers:

- a network namespace for the pod, joined to the node's namespace by a routed veth pair
  (a /32 per pod as the CNI ptp plugin does: no bridge; in the node namespace a route to
  each pod's /32 through its veth, in the pod a default route through the node side);
- the next free address of the pod CIDR;
- a listener on every containerPort (TCP, UDP, and SCTP where the kernel has it) that
  answers with the pod's ``namespace/name``: TCP writes it and closes, UDP replies to every
  datagram. Every socket is created inside the pod's namespace by one thread (see
  :mod:`netfence.localcluster.netns`) and served by this process's one event loop, so a
  single process carries a thousand pods and more;
- the Pod's status through the status subresource: Running, Ready, podIP(s), hostIP,
  running and ready containers.

A deleted Pod loses all of it. A Pod being deleted gracefully (deletionTimestamp set) is
torn down and then deleted with grace period 0, as a kubelet does, so that it disappears.

Everything stays inside namespaces the agent makes: the node namespace has no link to the
host's interfaces, no NAT and no route out. The agent runs in the host's namespace (it
talks to the API server on 127.0.0.1) and only reaches into the others.

What it made is kept in DIR (one JSON file per pod under DIR/pods), so a restarted agent
adopts the namespaces of pods that still exist (same address, listeners opened again),
removes those of pods that are gone, and sets up the rest.

Run it as ``python -m netfence.localcluster.node_agent --kubeconfig K --dir D`` or with
:func:`run_agent`; :mod:`netfence.localcluster.dataplane` starts it with the enforcer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import ipaddress
import json
import logging
import os
import platform
import resource
import signal
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.core_v1 import NodeSpec
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Node, NodeStatus, Pod, PodStatus
from lightkube.types import PatchType

from netfence.localcluster import netns
from netfence.localcluster.netns import ProbeResult, SocketSpec

logger = logging.getLogger("netfence.node_agent")

DEFAULT_NODE_NAME = "netfence-node"
DEFAULT_POD_CIDR = "10.244.0.0/16"
FIELD_MANAGER = "netfence-node-agent"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
STATUS_SECONDS = 30.0
CAPACITY = {"pods": "2000", "cpu": "1000", "memory": "2000Gi", "ephemeral-storage": "2000Gi"}
AGENT_VERSION = "v0.0.0-netfence"
READY_FILE = "agent.ready"
PID_FILE = "agent.pid"
LOG_FILE = "agent.log"
PODS_DIR = "pods"
IPAM_FILE = "ipam.json"
POD_INTERFACE = "eth0"
VETH_PREFIX = "nfp"
_MAX_NETNS_NAME = 200


# --- names ------------------------------------------------------------------------------


def dataplane_id(directory: Path) -> str:
    """A short id for the namespaces made from ``directory``: two dataplanes on one machine
    (two checkouts, two test sessions) never share a name."""
    return hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:8]


def node_netns_name(directory: Path) -> str:
    return f"netfence-node-{dataplane_id(directory)}"


def pod_netns_prefix(directory: Path) -> str:
    return f"netfence-{dataplane_id(directory)}-"


def pod_netns_name(prefix: str, namespace: str, name: str) -> str:
    """``<prefix><namespace>.<name>``, readable in `ip netns list`; hashed when too long."""
    readable = f"{prefix}{namespace}.{name}"
    if len(readable) <= _MAX_NETNS_NAME:
        return readable
    digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()[:16]
    return f"{prefix}{namespace[:40]}.{name[:60]}.{digest}"


def _record_file(namespace: str, name: str) -> str:
    # Neither a namespace (a DNS label) nor a pod name (a DNS subdomain) holds "_".
    return f"{namespace}_{name}.json"


# --- what the agent made, on disk ---------------------------------------------------------


@dataclass
class PodRecord:
    """The namespace, link and address made for one pod (DIR/pods/<ns>_<name>.json)."""

    namespace: str
    name: str
    uid: str
    netns: str
    veth: str
    ip: str
    ports: list[tuple[str, int]] = field(default_factory=list)
    complete: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def save(self, directory: Path) -> None:
        pods = directory / PODS_DIR
        pods.mkdir(parents=True, exist_ok=True)
        target = pods / _record_file(self.namespace, self.name)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(target)

    def remove(self, directory: Path) -> None:
        (directory / PODS_DIR / _record_file(self.namespace, self.name)).unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> PodRecord:
        data = json.loads(path.read_text())
        data["ports"] = [(str(p), int(n)) for p, n in data.get("ports", [])]
        return cls(**data)


def load_records(directory: Path) -> dict[str, PodRecord]:
    records: dict[str, PodRecord] = {}
    for path in sorted((directory / PODS_DIR).glob("*.json")):
        try:
            record = PodRecord.load(path)
        except (OSError, ValueError, TypeError, KeyError):
            logger.warning("ignoring unreadable pod record %s", path)
            path.unlink(missing_ok=True)
            continue
        records[record.key] = record
    return records


def find_record(directory: Path, pod: str) -> PodRecord:
    """The record of pod ``namespace/name`` on the node run from ``directory``."""
    namespace, sep, name = pod.partition("/")
    if not sep or not namespace or not name:
        raise ValueError(f"a pod is named namespace/name, not {pod!r}")
    path = directory / PODS_DIR / _record_file(namespace, name)
    try:
        record = PodRecord.load(path)
    except FileNotFoundError:
        raise LookupError(
            f"pod {pod} has no network namespace on the node of {directory}"
        ) from None
    if not record.complete:
        raise LookupError(f"pod {pod} is still being set up on the node of {directory}")
    return record


class Ipam:
    """Hands out the pod CIDR's addresses in turn (as host-local IPAM does), so a freed
    address is not given again at once; .1 is the node's (the pods' gateway)."""

    def __init__(self, cidr: str, directory: Path, used: Iterable[str]) -> None:
        self.network = ipaddress.IPv4Network(cidr)
        if self.network.num_addresses < 4:
            raise ValueError(f"pod CIDR {cidr} is too small")
        self.gateway = self.network.network_address + 1
        self._file = directory / IPAM_FILE
        self._used = {
            int(ipaddress.IPv4Address(a)) - int(self.network.network_address) for a in used
        }
        self._last = 1
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            self._last = int(json.loads(self._file.read_text())["last"])

    def allocate(self, preferred: str | None = None) -> str:
        size = self.network.num_addresses
        first, last = 2, size - 2  # not the network, the gateway or the broadcast address
        if preferred:
            with contextlib.suppress(ValueError):
                offset = self.offset(preferred)
                if first <= offset <= last and offset not in self._used:
                    self._used.add(offset)
                    return preferred
        span = last - first + 1
        for step in range(1, span + 1):
            offset = first + (self._last - first + step) % span
            if offset not in self._used:
                self._used.add(offset)
                self._last = offset
                self._file.write_text(json.dumps({"last": offset}))
                return str(self.network.network_address + offset)
        raise RuntimeError(f"pod CIDR {self.network} is full")

    def offset(self, address: str) -> int:
        return int(ipaddress.IPv4Address(address)) - int(self.network.network_address)

    def release(self, address: str) -> None:
        self._used.discard(self.offset(address))


# --- listeners ----------------------------------------------------------------------------


class _AnswerStream(asyncio.Protocol):
    def __init__(self, answer: bytes) -> None:
        self._answer = answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.WriteTransport, transport)
        stream.write(self._answer)
        stream.close()  # after the buffer is written


class _AnswerDatagram(asyncio.DatagramProtocol):
    def __init__(self, answer: bytes) -> None:
        self._answer = answer
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (Python 3.11's selector transport for datagrams does not subclass DatagramTransport.)
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(self._answer, addr)


def declared_ports(pod: Pod) -> list[tuple[str, int]]:
    """(protocol, port) of every containerPort the pod's containers declare, in order."""
    ports: list[tuple[str, int]] = []
    spec = pod.spec
    for container in spec.containers if spec else []:
        for port in container.ports or []:
            entry = ((port.protocol or "TCP").upper(), int(port.containerPort))
            if entry not in ports:
                ports.append(entry)
    return ports


# --- the agent ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentConfig:
    directory: Path
    node_name: str = DEFAULT_NODE_NAME
    pod_cidr: str = DEFAULT_POD_CIDR
    node_netns: str | None = None  # default: netfence-node-<id of directory>
    concurrency: int = 8


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeAgent:
    """Serves one node: its Node and Lease, and every Pod bound to it."""

    def __init__(self, client: AsyncClient, config: AgentConfig) -> None:
        self.client = client
        self.config = config
        self.directory = config.directory.resolve()
        self.node_name = config.node_name
        self.node_netns = config.node_netns or node_netns_name(self.directory)
        self.prefix = pod_netns_prefix(self.directory)
        self.records: dict[str, PodRecord] = {}
        self.ipam = Ipam(config.pod_cidr, self.directory, [])
        self.node_ip = str(self.ipam.gateway)
        self.sockets = netns.NamespacedSockets()
        self.answer_sctp = netns.sctp_supported()
        self._listeners: dict[str, list[asyncio.AbstractServer | asyncio.BaseTransport]] = {}
        self._pending: dict[str, Pod | None] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._limit = asyncio.Semaphore(config.concurrency)
        self._idle = asyncio.Event()
        self._idle.set()
        self._ready_since = _now()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- running ---

    async def run(self) -> None:
        """Register the node, reconcile what exists, then follow the API until cancelled."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / READY_FILE).unlink(missing_ok=True)
        await asyncio.to_thread(netns.create_node_netns, self.node_netns, self.node_ip)
        while True:  # the API server may be (re)starting
            try:
                await self._register_node()
                break
            except Exception as e:  # noqa: BLE001 - said, and tried again
                logger.warning("cannot register node %s yet: %s", self.node_name, e)
                await asyncio.sleep(1.0)
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            await self._adopt_existing()
            first = True
            while True:
                try:
                    version = await self._resync()
                    if first:
                        await self._idle.wait()
                        (self.directory / READY_FILE).write_text(_now() + "\n")
                        logger.info("ready: %d pods on node %s", len(self.records), self.node_name)
                        first = False
                    await self._watch(version)
                except Exception as e:  # noqa: BLE001 - keep serving; say what went wrong
                    logger.warning("pod watch ended (%s: %s); listing again", type(e).__name__, e)
                    await asyncio.sleep(1.0)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def close(self) -> None:
        """Stop serving: close every listener (namespaces and links stay, like a kubelet's
        pods stay when it stops; a restarted agent adopts them)."""
        for task in list(self._workers.values()) + list(self._tasks):
            task.cancel()
        for key in list(self._listeners):
            self._close_listeners(key)
        self.sockets.close()

    # --- the node ---

    def _node_status(self) -> dict[str, Any]:
        now = _now()

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
            return {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": self._ready_since,
            }

        uname = platform.uname()
        return {
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "enough memory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "enough disk"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "enough PIDs"),
                condition("Ready", "True", "KubeletReady", "netfence node agent is serving pods"),
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.node_ip},
                {"type": "Hostname", "address": self.node_name},
            ],
            "capacity": CAPACITY,
            "allocatable": CAPACITY,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {
                "machineID": dataplane_id(self.directory),
                "systemUUID": dataplane_id(self.directory),
                "bootID": self._ready_since,
                "kernelVersion": uname.release,
                "osImage": "netfence node agent (network namespaces, no containers)",
                "containerRuntimeVersion": f"netfence://{AGENT_VERSION}",
                "kubeletVersion": AGENT_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": _go_arch(uname.machine),
            },
        }

    async def _register_node(self) -> None:
        labels = {
            "kubernetes.io/hostname": self.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _go_arch(platform.machine()),
            "netfence.io/node-agent": "true",
        }
        node = Node(
            metadata=ObjectMeta(name=self.node_name, labels=labels),
            spec=NodeSpec(podCIDR=self.config.pod_cidr, podCIDRs=[self.config.pod_cidr]),
        )
        try:
            await self.client.create(node)
            logger.info("registered node %s (pod CIDR %s)", self.node_name, self.config.pod_cidr)
        except ApiError as e:
            if e.status.code != 409:
                raise
            existing = await self.client.get(Node, self.node_name)
            cidr = existing.spec.podCIDR if existing.spec else None
            if cidr and cidr != self.config.pod_cidr:
                logger.warning("node %s keeps its pod CIDR %s", self.node_name, cidr)
            patch: dict[str, Any] = {"metadata": {"labels": labels}}
            if existing.spec and existing.spec.unschedulable:
                patch["spec"] = {"unschedulable": False}
            await self.client.patch(Node, self.node_name, patch, patch_type=PatchType.MERGE)
        await self._post_status()
        await self._renew_lease()

    async def _post_status(self) -> None:
        await self.client.patch(
            NodeStatus,
            self.node_name,
            {"status": self._node_status()},
            patch_type=PatchType.STRATEGIC,
        )

    async def _renew_lease(self) -> None:
        spec = {
            "holderIdentity": self.node_name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": _micro_now(),
        }
        try:
            await self.client.patch(
                Lease,
                self.node_name,
                {"spec": spec},
                namespace=LEASE_NAMESPACE,
                patch_type=PatchType.MERGE,
            )
            return
        except ApiError as e:
            if e.status.code != 404:
                raise
        node = await self.client.get(Node, self.node_name)
        owner = OwnerReference(
            apiVersion="v1",
            kind="Node",
            name=self.node_name,
            uid=(node.metadata.uid if node.metadata else None) or "",
        )
        # Made without renewTime (MicroTime wants exactly six decimals), then renewed below.
        lease = Lease(
            metadata=ObjectMeta(
                name=self.node_name, namespace=LEASE_NAMESPACE, ownerReferences=[owner]
            ),
            spec=LeaseSpec(holderIdentity=self.node_name, leaseDurationSeconds=LEASE_SECONDS),
        )
        try:
            await self.client.create(lease)
        except ApiError as e:
            if e.status.code == 404:  # no kube-node-lease namespace yet
                with contextlib.suppress(ApiError):
                    await self.client.create(Namespace(metadata=ObjectMeta(name=LEASE_NAMESPACE)))
                await self.client.create(lease)
            elif e.status.code != 409:
                raise
        await self.client.patch(
            Lease,
            self.node_name,
            {"spec": spec},
            namespace=LEASE_NAMESPACE,
            patch_type=PatchType.MERGE,
        )

    async def _heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        next_status = loop.time() + STATUS_SECONDS
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self._renew_lease()
                if loop.time() >= next_status:
                    await self._post_status()
                    next_status = loop.time() + STATUS_SECONDS
            except Exception as e:  # noqa: BLE001 - the next beat tries again
                logger.warning("heartbeat failed: %s", e)

    # --- reconciling ---

    async def _adopt_existing(self) -> None:
        """Reopen what an earlier run made and is still whole; remove what is not."""
        records = load_records(self.directory)
        existing = set(netns.list_netns())
        links = set(await asyncio.to_thread(netns.link_names, self.node_netns))
        self.ipam = Ipam(self.config.pod_cidr, self.directory, [r.ip for r in records.values()])
        for record in records.values():
            if record.complete and record.netns in existing and record.veth in links:
                self.records[record.key] = record
                await self._open_listeners(record)
            else:
                await self._teardown(record)
        known = {r.netns for r in self.records.values()}
        for name in existing:
            if name.startswith(self.prefix) and name not in known:
                logger.info("removing leftover namespace %s", name)
                await netns.ip_async("netns", "del", name, ignore=netns.GONE_MESSAGES)
        veths = {r.veth for r in self.records.values()}
        stray = [f"link del {n}" for n in links if n.startswith(VETH_PREFIX) and n not in veths]
        if stray:
            await netns.ip_async(netns=self.node_netns, batch=stray, ignore=netns.GONE_MESSAGES)
        if self.records:
            logger.info("adopted %d pods from an earlier run", len(self.records))

    async def _resync(self) -> str:
        """List the node's pods, queue every change against what we hold; the list's version."""
        listing = self.client.list(Pod, namespace="*", fields={"spec.nodeName": self.node_name})
        seen: set[str] = set()
        async for pod in listing:
            key = _key(pod)
            seen.add(key)
            self._enqueue(key, pod)
        for key in list(self.records):
            if key not in seen:
                self._enqueue(key, None)
        return listing.resourceVersion

    async def _watch(self, version: str) -> None:
        stream = self.client.watch(
            Pod,
            namespace="*",
            fields={"spec.nodeName": self.node_name},
            resource_version=version,
        )
        async for event, pod in stream:
            self._enqueue(_key(pod), None if event == "DELETED" else pod)

    def _enqueue(self, key: str, pod: Pod | None) -> None:
        self._pending[key] = pod
        if key not in self._workers:
            self._idle.clear()
            self._workers[key] = asyncio.create_task(self._work(key))

    async def _work(self, key: str) -> None:
        try:
            while key in self._pending:
                pod = self._pending.pop(key)
                async with self._limit:
                    try:
                        await self._sync(key, pod)
                    except asyncio.CancelledError:
                        raise
                    except Exception as e:  # noqa: BLE001 - retried below
                        logger.warning("pod %s: %s; trying again", key, e)
                        self._retry_later(key, pod)
        finally:
            self._workers.pop(key, None)
            if not self._workers:
                self._idle.set()

    def _retry_later(self, key: str, pod: Pod | None) -> None:
        async def again() -> None:
            await asyncio.sleep(2.0)
            current: Pod | None = None
            if pod is not None and pod.metadata is not None:
                try:  # the pod as it is now, not as it was when this failed
                    current = await self.client.get(
                        Pod, pod.metadata.name or "", namespace=pod.metadata.namespace
                    )
                except ApiError as e:
                    if e.status.code != 404:
                        self._retry_later(key, pod)
                        return
            if key not in self._pending:
                self._enqueue(key, current)

        task = asyncio.create_task(again())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sync(self, key: str, pod: Pod | None) -> None:
        record = self.records.get(key)
        meta = pod.metadata if pod else None
        phase = pod.status.phase if pod and pod.status else None
        if pod is None or meta is None or phase in ("Succeeded", "Failed"):
            if record:
                await self._teardown(record)
            return
        if record and record.uid != meta.uid:
            await self._teardown(record)
            record = None
        if meta.deletionTimestamp is not None:
            if record:
                await self._teardown(record)
            await self._finish_deletion(pod)
            return
        if record is None:
            record = await self._setup(pod)
        await self._report(pod, record)

    # --- one pod ---

    async def _setup(self, pod: Pod) -> PodRecord:
        assert pod.metadata is not None
        namespace, name = pod.metadata.namespace or "default", pod.metadata.name or ""
        # The address the API already shows, if it is free: a restart on an empty DIR keeps
        # the pods' addresses, and no two pods ever show the same one.
        address = self.ipam.allocate(pod.status.podIP if pod.status else None)
        record = PodRecord(
            namespace=namespace,
            name=name,
            uid=pod.metadata.uid or "",
            netns=pod_netns_name(self.prefix, namespace, name),
            veth=f"{VETH_PREFIX}{self.ipam.offset(address):x}",
            ip=address,
            ports=declared_ports(pod),
        )
        record.save(self.directory)  # first, so that a crash leaves something to clean
        self.records[record.key] = record
        try:
            await self._plumb(record)
            await self.sockets.asysctl(record.netns, netns.POD_SYSCTLS)
            await self._open_listeners(record)
        except BaseException:
            await self._teardown(record)
            raise
        record.complete = True
        record.save(self.directory)
        logger.info("pod %s: %s in %s", record.key, record.ip, record.netns)
        return record

    async def _plumb(self, record: PodRecord) -> None:
        gateway = self.node_ip
        if netns.netns_exists(record.netns):  # left by a run that died half-way
            await netns.ip_async("netns", "del", record.netns, ignore=netns.GONE_MESSAGES)
        await netns.ip_async(
            netns=self.node_netns, batch=[f"link del {record.veth}"], ignore=netns.GONE_MESSAGES
        )
        await netns.ip_async(
            batch=[
                f"netns add {record.netns}",
                f"link add {record.veth} netns {self.node_netns} type veth"
                f" peer name {POD_INTERFACE} netns {record.netns}",
            ]
        )
        await netns.ip_async(
            netns=self.node_netns,
            batch=[
                f"link set {record.veth} up",
                f"route replace {record.ip}/32 dev {record.veth} scope link src {gateway}",
            ],
        )
        await netns.ip_async(
            netns=record.netns,
            batch=[
                "link set lo up",
                f"link set {POD_INTERFACE} up",
                f"address add {record.ip}/32 dev {POD_INTERFACE}",
                f"route add {gateway} dev {POD_INTERFACE} scope link",
                f"route add default via {gateway} dev {POD_INTERFACE} src {record.ip}",
            ],
        )

    async def _open_listeners(self, record: PodRecord) -> None:
        self._close_listeners(record.key)
        ports = [(p, n) for p, n in record.ports if p != "SCTP" or self.answer_sctp]
        skipped = [n for p, n in record.ports if p == "SCTP" and not self.answer_sctp]
        if skipped:
            logger.warning(
                "pod %s: no SCTP in this kernel, ports %s not served", record.key, skipped
            )
        specs = [SocketSpec(p, n) for p, n in ports]  # type: ignore[arg-type]
        made = await self.sockets.acreate(record.netns, specs) if specs else []
        answer = f"{record.namespace}/{record.name}\n".encode()
        loop = asyncio.get_running_loop()
        opened: list[asyncio.AbstractServer | asyncio.BaseTransport] = []
        self._listeners[record.key] = opened
        for (protocol, port), sock in zip(ports, made, strict=True):
            if isinstance(sock, OSError):
                logger.warning(
                    "pod %s: cannot listen on %s/%d: %s", record.key, protocol, port, sock
                )
                continue
            if protocol == "UDP":
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _AnswerDatagram(answer), sock=sock
                )
                opened.append(transport)
            else:
                opened.append(await loop.create_server(lambda: _AnswerStream(answer), sock=sock))

    def _close_listeners(self, key: str) -> None:
        for listener in self._listeners.pop(key, []):
            listener.close()

    async def _teardown(self, record: PodRecord) -> None:
        self._close_listeners(record.key)
        # The veth first: deleting it takes both ends at once, while a namespace's links
        # go only when the kernel gets round to freeing the namespace.
        await netns.ip_async(
            netns=self.node_netns, batch=[f"link del {record.veth}"], ignore=netns.GONE_MESSAGES
        )
        if netns.netns_exists(record.netns):
            await netns.ip_async("netns", "del", record.netns, ignore=netns.GONE_MESSAGES)
        record.remove(self.directory)
        if self.records.get(record.key) is record:
            del self.records[record.key]
        self.ipam.release(record.ip)
        logger.info("pod %s: removed", record.key)

    async def _finish_deletion(self, pod: Pod) -> None:
        """What a kubelet does once a pod's containers are gone: delete it for good."""
        assert pod.metadata is not None
        name, namespace = pod.metadata.name or "", pod.metadata.namespace
        try:
            current = await self.client.get(Pod, name, namespace=namespace)
            if current.metadata is None or current.metadata.uid != pod.metadata.uid:
                return  # already gone and made again: not ours to delete
            await self.client.delete(Pod, name, namespace=namespace, grace_period=0)
        except ApiError as e:
            if e.status.code != 404:
                raise

    async def _report(self, pod: Pod, record: PodRecord) -> None:
        """Post Running/Ready with the pod's address, unless the status already says so."""
        status = pod.status
        conditions = {c.type: c.status for c in (status.conditions or [])} if status else {}
        if (
            status is not None
            and status.phase == "Running"
            and status.podIP == record.ip
            and status.hostIP == self.node_ip
            and conditions.get("Ready") == "True"
        ):
            return
        now = _now()
        started = (
            status.startTime.strftime("%Y-%m-%dT%H:%M:%SZ")
            if status is not None and status.startTime is not None
            else now
        )
        spec = pod.spec
        assert spec is not None and pod.metadata is not None

        def container_status(container: Any, *, init: bool) -> dict[str, Any]:
            state: dict[str, Any] = (
                {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": started,
                        "finishedAt": started,
                    }
                }
                if init
                else {"running": {"startedAt": started}}
            )
            return {
                "name": container.name,
                "image": container.image or "",
                "imageID": container.image or "",
                "containerID": f"netfence://{record.uid}/{container.name}",
                "ready": not init,
                "started": not init,
                "restartCount": 0,
                "state": state,
            }

        def condition(kind: str) -> dict[str, str]:
            return {"type": kind, "status": "True", "lastTransitionTime": now}

        kinds = ["PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready"]
        if conditions.get("PodScheduled") != "True":
            kinds.append("PodScheduled")
        body: dict[str, Any] = {
            "status": {
                "phase": "Running",
                "conditions": [condition(kind) for kind in kinds],
                "hostIP": self.node_ip,
                "hostIPs": [{"ip": self.node_ip}],
                "podIP": record.ip,
                "podIPs": [{"ip": record.ip}],
                "startTime": started,
                "containerStatuses": [container_status(c, init=False) for c in spec.containers],
            }
        }
        if spec.initContainers:
            body["status"]["initContainerStatuses"] = [
                container_status(c, init=True) for c in spec.initContainers
            ]
        try:
            await self.client.patch(
                PodStatus,
                pod.metadata.name or "",
                body,
                namespace=pod.metadata.namespace,
                patch_type=PatchType.STRATEGIC,
            )
        except ApiError as e:
            if e.status.code != 404:  # deleted meanwhile: the watch says so next
                raise


def _key(pod: Pod) -> str:
    meta = pod.metadata
    assert meta is not None
    return f"{meta.namespace}/{meta.name}"


def _go_arch(machine: str) -> str:
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


# --- probing ------------------------------------------------------------------------------


async def probe(
    directory: Path,
    source_pod: str,
    address: str,
    port: int,
    protocol: str = "TCP",
    timeout: float = 2.0,
) -> ProbeResult:
    """One fresh connection from inside pod ``namespace/name`` of the node run from
    ``directory`` to ``address:port`` over ``protocol`` (TCP, UDP, SCTP), through the node
    and the enforcer like any pod's traffic: connected (``answer`` says who), refused,
    dropped (nothing came back in ``timeout`` seconds) or unreachable."""
    record = find_record(directory, source_pod)
    return await netns.probe_netns(record.netns, address, port, protocol, timeout)


# --- the process --------------------------------------------------------------------------


def _raise_open_file_limit() -> None:
    """Two sockets a pod, a thousand pods: ask for as many descriptors as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def run_agent(kubeconfig: Path, config: AgentConfig) -> None:
    """Run the agent in this event loop until cancelled (or SIGTERM when run as main)."""
    _raise_open_file_limit()
    client = AsyncClient(KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    agent = NodeAgent(client, config)
    try:
        await agent.run()
    finally:
        await agent.close()
        await client.close()


async def _main(args: argparse.Namespace, directory: Path) -> None:
    config = AgentConfig(
        directory=directory,
        node_name=args.node_name,
        pod_cidr=args.pod_cidr,
        node_netns=args.node_netns,
        concurrency=args.concurrency,
    )
    task = asyncio.create_task(run_agent(Path(args.kubeconfig), config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
    logger.info("stopped; the pods' namespaces stay for the next run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m netfence.localcluster.node_agent",
        description="Stand in for a kubelet: pods as network namespaces with listeners.",
    )
    parser.add_argument("--kubeconfig", required=True, help="kubeconfig of the API server")
    parser.add_argument("--dir", required=True, help="where the agent keeps what it made")
    parser.add_argument("--node-name", default=DEFAULT_NODE_NAME)
    parser.add_argument("--pod-cidr", default=DEFAULT_POD_CIDR)
    parser.add_argument("--node-netns", default=None, help="default: netfence-node-<id of DIR>")
    parser.add_argument("--concurrency", type=int, default=8, help="pods set up at once")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx2").setLevel(logging.WARNING)  # a line per request otherwise
    if os.geteuid() != 0:
        logger.error("the node agent must run as root (it creates network namespaces)")
        return 2
    directory = Path(args.dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PID_FILE).write_text(f"{os.getpid()}\n")
    asyncio.run(_main(args, directory))
    return 0


if __name__ == "__main__":
    sys.exit(main())

__all__ = [
    "DEFAULT_NODE_NAME",
    "DEFAULT_POD_CIDR",
    "AgentConfig",
    "NodeAgent",
    "PodRecord",
    "ProbeResult",
    "find_record",
    "node_netns_name",
    "pod_netns_prefix",
    "probe",
    "run_agent",
]
