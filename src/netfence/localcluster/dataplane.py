"""The local dataplane: one node whose pods are network namespaces, and an enforcer that
drops real packets, beside the local control plane.

:func:`start` makes, in this order, and records each piece in DIR/dataplane.json as soon as
it exists (so that :func:`stop`, or a failed start, removes exactly that):

1. the node's network namespace ``netfence-node-<id>`` (loopback, forwarding on, the
   node's address; no link to the host, no NAT, no route out);
2. where the kernel's nftables lacks the ``queue`` expression, iptables-nft NFQUEUE rules
   in that namespace (see :mod:`netfence.localcluster.enforcer`);
3. a bridge to the API server, which listens on 127.0.0.1 of the host namespace and so
   cannot be reached from the node's: socat listens on 127.0.0.1:6443 inside the node
   namespace and forwards to a Unix socket DIR/api.sock, where a second socat on the host
   connects to the API server's port (its certificate is valid for 127.0.0.1);
4. the enforcer (kube-network-policies) in the node namespace, as ServiceAccount
   ``kube-system/kube-network-policies`` with a least-privilege ClusterRole;
5. the node agent (:mod:`netfence.localcluster.node_agent`) on the host, which registers
   the Node and makes a namespace per pod.

:func:`stop` ends those processes, deletes the pods' namespaces, the rules and the node
namespace, and leaves the logs. API objects (the Node, its Lease, pods, the enforcer's
RBAC) stay, as a stopped kubelet leaves its Node: the next start serves them again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from netfence.localcluster import enforcer, netns, node_agent, processes
from netfence.localcluster.building import BuildError
from netfence.localcluster.netns import ProbeResult

RECORD_FILE = "dataplane.json"
# In the control plane's directory: one file per dataplane started for it, holding the
# dataplane's directory, so that tools (netfence probe) find every node of the cluster.
REGISTRY_DIR = "dataplanes"
API_SOCKET = "api.sock"
BRIDGE_PORT = 6443  # inside the node namespace, which is ours alone
ENFORCER_LOG = "enforcer.log"
BRIDGE_LOG = "bridge.log"
TOKEN_FILE = "enforcer.token"  # noqa: S105 - a file name
_POLL_SECONDS = 0.05

# What each recorded process must show in its command line before stop() signals it.
_MARKERS = {
    "agent": "netfence.localcluster.node_agent",
    "enforcer": "--nfqueue-id=",
    "bridge-host": API_SOCKET,
    "bridge-node": API_SOCKET,
}
_STOP_ORDER = ("agent", "enforcer", "bridge-node", "bridge-host")


class DataplaneError(RuntimeError):
    """The dataplane did not start or stop as asked."""


class DataplaneUnavailable(DataplaneError):
    """This machine cannot run the dataplane; the message says what is missing."""


class ControlPlaneLike(Protocol):
    """What start() needs of a running control plane (netfence.localcluster.ControlPlane)."""

    @property
    def dir(self) -> Path: ...
    @property
    def server(self) -> str: ...
    @property
    def kubeconfig(self) -> Path: ...
    @property
    def ca_file(self) -> Path: ...


@dataclass(frozen=True)
class Dataplane:
    """A running dataplane: where its pieces are and how long they took to start."""

    dir: Path
    node_name: str
    node_netns: str
    pod_cidr: str
    node_ip: str
    enforcer_mode: str  # "nftables" (its own table), "iptables-nfqueue" or "off"
    pids: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def pod_netns_prefix(self) -> str:
        return node_agent.pod_netns_prefix(self.dir)

    async def probe(
        self, source_pod: str, address: str, port: int, protocol: str = "TCP", timeout: float = 2.0
    ) -> ProbeResult:
        """A fresh connection from inside pod ``namespace/name`` (see :func:`probe`)."""
        return await probe(self.dir, source_pod, address, port, protocol, timeout)

    def pod(self, pod: str) -> node_agent.PodRecord:
        """What the agent made for pod ``namespace/name``: its namespace, veth and address
        (LookupError if it has none)."""
        return node_agent.find_record(self.dir, pod)

    def pod_netns(self, pod: str) -> str:
        """The network namespace of pod ``namespace/name`` (LookupError if it has none)."""
        return self.pod(pod).netns

    def current_pids(self) -> dict[str, int]:
        """The PIDs recorded now (the agent's changes when it is started again)."""
        record = _load(self.dir)
        return {n: int(p) for n, p in record["pids"].items()} if record else dict(self.pids)

    def memory(self) -> dict[str, int]:
        """Resident memory in bytes of each process that is still running."""
        sizes = {name: processes.rss_bytes(pid) for name, pid in self.current_pids().items()}
        return {name: size for name, size in sizes.items() if size is not None}


# One fresh connection from inside a pod of the dataplane: the node agent's own probe.
probe = node_agent.probe


# --- what the machine must have -----------------------------------------------------------


def missing_requirements(*, enforce: bool = True) -> list[str]:
    """What this machine lacks to run the dataplane ([] when nothing): each entry names the
    missing piece and, where it helps, how to get it."""
    missing: list[str] = []
    if os.uname().sysname != "Linux":
        return [f"Linux (this is {os.uname().sysname})"]
    if os.geteuid() != 0:
        missing.append("root: network namespaces, links and netfilter rules need euid 0")
    tools = {"ip": "iproute2", "unshare": "util-linux", "mount": "mount"}
    if enforce:
        tools |= {"socat": "socat", "iptables": "iptables", "iptables-restore": "iptables"}
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            missing.append(f"`{tool}` (apt package {package})")
    if enforce and not _binary_or_go():
        missing.append("the kube-network-policies binary, or `go` on PATH to build it")
    if missing:
        return missing
    scratch = f"netfence-check-{os.getpid()}"
    try:
        netns.ip("netns", "add", scratch)
    except netns.NetnsError as e:
        return [f"network namespaces (`ip netns add` failed: {e})"]
    try:
        if enforce and not enforcer.nft_queue_supported(scratch):
            works, error = enforcer.nfqueue_probe_works(scratch)
            if not works:
                missing.append(
                    "NFQUEUE: nftables has no `queue` expression and the xtables NFQUEUE "
                    f"target does not load ({error}); the kernel needs CONFIG_NFT_QUEUE or "
                    "CONFIG_NETFILTER_XT_TARGET_NFQUEUE"
                )
    finally:
        netns.delete_netns(scratch)
    return missing


def _binary_or_go() -> bool:
    return not enforcer.needs_build() or shutil.which("go") is not None


# --- start and stop -----------------------------------------------------------------------


def default_directory(control_plane: ControlPlaneLike) -> Path:
    return control_plane.dir / "dataplane"


def start(
    control_plane: ControlPlaneLike,
    directory: Path | None = None,
    *,
    node_name: str = node_agent.DEFAULT_NODE_NAME,
    pod_cidr: str = node_agent.DEFAULT_POD_CIDR,
    enforce: bool = True,
    timeout: float = 60.0,
) -> Dataplane:
    """Start the node namespace, the enforcer (unless ``enforce`` is False) and the node
    agent, or return the dataplane already running from ``directory``
    (default: CONTROL_PLANE_DIR/dataplane).

    Builds the enforcer first if needed (minutes, not part of ``timeout``). Raises
    :class:`DataplaneUnavailable` saying what is missing where the machine cannot run it.
    """
    directory = (directory or default_directory(control_plane)).resolve()
    missing = missing_requirements(enforce=enforce)
    if missing:
        raise DataplaneUnavailable("cannot run the local dataplane: missing " + "; ".join(missing))
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        running = _running(directory)
        recorded = _load(directory) or {}
        if running is not None and recorded.get("server") == control_plane.server:
            return running
        # Whatever a dead earlier run left, or a dataplane whose bridge leads to the port
        # of an API server that is gone (the control plane came back on another port).
        _cleanup(directory)
        try:
            binary = enforcer.ensure_binary() if enforce else None
        except BuildError as e:
            raise DataplaneUnavailable(f"cannot run the local dataplane: {e}") from e
        record: dict[str, Any] = {
            "node_name": node_name,
            "node_netns": node_agent.node_netns_name(directory),
            "pod_netns_prefix": node_agent.pod_netns_prefix(directory),
            "pod_cidr": pod_cidr,
            "kubeconfig": str(control_plane.kubeconfig),
            "server": control_plane.server,
            "enforcer_mode": "off",
            "netns": [],
            "rules": [],
            "pids": {},
            "seconds": {},
            "controlplane_dir": str(control_plane.dir.resolve()),
        }
        try:
            _register(control_plane.dir, directory)
            _start(control_plane, directory, record, binary, timeout)
        except BaseException:
            _cleanup(directory)
            raise
        return _describe(directory, record)


def _start(
    control_plane: ControlPlaneLike,
    directory: Path,
    record: dict[str, Any],
    binary: Path | None,
    timeout: float,
) -> None:
    began = time.monotonic()
    node_ns: str = record["node_netns"]
    node_ip = str(node_agent.Ipam(record["pod_cidr"], directory, []).gateway)
    record["netns"].append(node_ns)
    _save(directory, record)
    netns.create_node_netns(node_ns, node_ip)
    if binary is not None:
        began_enforcer = time.monotonic()
        if enforcer.nft_queue_supported(node_ns):
            record["enforcer_mode"] = "nftables"
        else:
            record["enforcer_mode"] = "iptables-nfqueue"
            record["rules"] = [
                {"netns": node_ns, "table": "filter", "rules": enforcer.nfqueue_rules()}
            ]
            _save(directory, record)
            enforcer.install_nfqueue_rules(node_ns)
        _start_bridge(control_plane, directory, record, timeout)
        token = enforcer.ensure_identity(control_plane.kubeconfig)
        token_file = directory / TOKEN_FILE
        token_file.touch(mode=0o600)
        token_file.write_text(token)
        command = enforcer.launch_command(
            binary, node_ns, record["node_name"], token_file, control_plane.ca_file
        )
        environment = enforcer.launch_environment("127.0.0.1", BRIDGE_PORT)
        _spawn(directory, record, "enforcer", command, ENFORCER_LOG, environment)
        _wait(
            lambda: enforcer.queue_bound(record["pids"]["enforcer"]),
            directory, record, "enforcer", ENFORCER_LOG, timeout,
            "bind NFQUEUE 100",
        )  # fmt: skip
        if record["enforcer_mode"] == "nftables":
            _wait(
                lambda: enforcer.table_loaded(node_ns),
                directory, record, "enforcer", ENFORCER_LOG, timeout,
                "load its nftables table",
            )  # fmt: skip
        record["seconds"]["enforcer"] = round(time.monotonic() - began_enforcer, 3)
        record["registered"] = enforcer.register(control_plane.kubeconfig, record["node_name"])
        _save(directory, record)
    began_agent = time.monotonic()
    (directory / node_agent.READY_FILE).unlink(missing_ok=True)
    _spawn(directory, record, "agent", _agent_command(directory, record), node_agent.LOG_FILE)
    _wait(
        lambda: (directory / node_agent.READY_FILE).is_file(),
        directory, record, "agent", node_agent.LOG_FILE, timeout,
        "register its node",
    )  # fmt: skip
    record["seconds"]["agent"] = round(time.monotonic() - began_agent, 3)
    record["seconds"]["total"] = round(time.monotonic() - began, 3)
    _save(directory, record)


def _agent_command(directory: Path, record: dict[str, Any]) -> list[str]:
    return [
        sys.executable, "-m", "netfence.localcluster.node_agent",
        "--kubeconfig", record["kubeconfig"],
        "--dir", str(directory),
        "--node-name", record["node_name"],
        "--pod-cidr", record["pod_cidr"],
        "--node-netns", record["node_netns"],
    ]  # fmt: skip


def stop_agent(directory: Path) -> bool:
    """Stop only the node agent of the dataplane in ``directory`` (SIGTERM): its pods'
    namespaces and links stay, as a stopped kubelet's containers do. False if none ran."""
    directory = directory.resolve()
    with _locked(directory):
        record = _load(directory)
        pid = record["pids"].get("agent") if record else None
        if not pid or not processes.is_ours(int(pid), _MARKERS["agent"]):
            return False
        if not processes.terminate(int(pid)):
            raise DataplaneError(f"the node agent (PID {pid}) did not exit after SIGKILL")
        return True


def start_agent(directory: Path, *, timeout: float = 60.0) -> int:
    """Start the node agent of the dataplane in ``directory`` again (if it is not running);
    its PID. It adopts the namespaces of pods that still exist, removes those of pods that
    are gone and sets up the pods that are new."""
    directory = directory.resolve()
    with _locked(directory):
        record = _load(directory)
        if record is None:
            raise DataplaneError(f"no dataplane was started from {directory}")
        pid = record["pids"].get("agent")
        if pid and processes.is_ours(int(pid), _MARKERS["agent"]):
            return int(pid)
        (directory / node_agent.READY_FILE).unlink(missing_ok=True)
        _spawn(directory, record, "agent", _agent_command(directory, record), node_agent.LOG_FILE)
        _wait(
            lambda: (directory / node_agent.READY_FILE).is_file(),
            directory, record, "agent", node_agent.LOG_FILE, timeout, "reconcile its pods",
        )  # fmt: skip
        return int(record["pids"]["agent"])


def stop(directory: Path) -> bool:
    """Stop the dataplane of ``directory`` and remove every process, namespace, link and
    rule it made (the logs stay). False if nothing was running or left."""
    directory = directory.resolve()
    if not directory.is_dir():  # removed under us: its namespaces still carry its id
        return _cleanup(directory)
    with _locked(directory):
        return _cleanup(directory)


def load(directory: Path) -> Dataplane:
    """The dataplane running from ``directory`` (DataplaneError if none is)."""
    directory = directory.resolve()
    running = _running(directory)
    if running is None:
        raise DataplaneError(f"no dataplane is running from {directory}")
    return running


def is_running(directory: Path) -> bool:
    return _running(directory.resolve()) is not None


# --- pieces -------------------------------------------------------------------------------


def _start_bridge(
    control_plane: ControlPlaneLike, directory: Path, record: dict[str, Any], timeout: float
) -> None:
    url = urllib.parse.urlsplit(control_plane.server)
    host, port = url.hostname or "127.0.0.1", url.port or 443
    (directory / API_SOCKET).unlink(missing_ok=True)
    host_side = [
        "socat", f"UNIX-LISTEN:{API_SOCKET},fork,mode=600,unlink-early", f"TCP:{host}:{port}",
    ]  # fmt: skip
    _spawn(directory, record, "bridge-host", host_side, BRIDGE_LOG)
    _wait(
        lambda: (directory / API_SOCKET).is_socket(),
        directory, record, "bridge-host", BRIDGE_LOG, timeout, "listen on " + API_SOCKET,
    )  # fmt: skip
    node_side = [
        netns.ip_binary(), "netns", "exec", record["node_netns"],
        "socat", f"TCP-LISTEN:{BRIDGE_PORT},bind=127.0.0.1,fork,reuseaddr",
        f"UNIX-CONNECT:{API_SOCKET}",
    ]  # fmt: skip
    _spawn(directory, record, "bridge-node", node_side, BRIDGE_LOG)
    _wait(
        lambda: _listening(record["pids"]["bridge-node"], BRIDGE_PORT),
        directory, record, "bridge-node", BRIDGE_LOG, timeout, f"listen on {BRIDGE_PORT}",
    )  # fmt: skip


def _listening(pid: int, port: int) -> bool:
    """Whether a TCP socket listens on ``port`` in the network namespace of ``pid``."""
    try:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    wanted = f":{port:04X}"
    return any(line.split()[1].endswith(wanted) and line.split()[3] == "0A" for line in lines)


def _spawn(
    directory: Path,
    record: dict[str, Any],
    name: str,
    command: list[str],
    log: str,
    env: dict[str, str] | None = None,
) -> None:
    pid = processes.spawn(command, log=directory / log, cwd=directory, env=env)
    record["pids"][name] = pid
    _save(directory, record)


def _wait(
    ready: Any,
    directory: Path,
    record: dict[str, Any],
    name: str,
    log: str,
    timeout: float,
    what: str,
) -> None:
    pid = record["pids"][name]
    deadline = time.monotonic() + timeout
    while not ready():
        if not processes.alive(pid):
            raise DataplaneError(
                f"{name} (PID {pid}) exited before it could {what}; "
                f"tail of {directory / log}:\n{processes.tail(directory / log)}"
            )
        if time.monotonic() > deadline:
            raise DataplaneError(
                f"{name} (PID {pid}) did not {what} within {timeout:g}s; "
                f"tail of {directory / log}:\n{processes.tail(directory / log)}"
            )
        time.sleep(_POLL_SECONDS)


def _cleanup(directory: Path) -> bool:
    """Remove everything the record (and the naming scheme) says is ours; True if any was."""
    record = _load(directory)
    found = False
    pids = record.get("pids", {}) if record else {}
    if record and record.get("registered"):
        # The enforcer stops: so goes what tells the cluster it enforces NetworkPolicy.
        with contextlib.suppress(Exception):
            enforcer.unregister(Path(record["kubeconfig"]), record["node_name"])
    for name in _STOP_ORDER:
        pid = pids.get(name)
        if pid and processes.is_ours(int(pid), _MARKERS[name]):
            found = True
            if not processes.terminate(int(pid)):
                raise DataplaneError(f"{name} (PID {pid}) did not exit after SIGKILL")
    node_ns = (record or {}).get("node_netns") or node_agent.node_netns_name(directory)
    prefix = (record or {}).get("pod_netns_prefix") or node_agent.pod_netns_prefix(directory)
    if netns.netns_exists(node_ns):
        found = True
        if record and record.get("rules"):
            enforcer.remove_nfqueue_rules(node_ns)
    for name in netns.list_netns():
        if name.startswith(prefix):
            found = True
            netns.delete_netns(name)  # its end of the veth pair goes with it
    netns.delete_netns(node_ns)  # and the other ends, the routes and the rules with this
    for record_file in (directory / node_agent.PODS_DIR).glob("*.json"):
        record_file.unlink(missing_ok=True)
    for leftover in (
        API_SOCKET, TOKEN_FILE, node_agent.READY_FILE, node_agent.PID_FILE, node_agent.IPAM_FILE,
    ):  # fmt: skip
        (directory / leftover).unlink(missing_ok=True)
    if record is not None:
        if record.get("controlplane_dir"):
            _registration(Path(record["controlplane_dir"]), directory).unlink(missing_ok=True)
        (directory / RECORD_FILE).unlink(missing_ok=True)
    return found


def _registration(control_plane_dir: Path, directory: Path) -> Path:
    return control_plane_dir / REGISTRY_DIR / node_agent.dataplane_id(directory)


def _register(control_plane_dir: Path, directory: Path) -> None:
    path = _registration(control_plane_dir, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(directory.resolve()) + "\n")


def running_for(control_plane_dir: Path) -> list[Path]:
    """The directories of the dataplanes running for the control plane of
    ``control_plane_dir``: its default one and every one registered there."""
    candidates = [control_plane_dir / "dataplane"]
    for entry in sorted((control_plane_dir / REGISTRY_DIR).glob("*")):
        with contextlib.suppress(OSError):
            candidates.append(Path(entry.read_text().strip()))
    found = dict.fromkeys(c.resolve() for c in candidates)
    return [d for d in found if d.is_dir() and _running(d) is not None]


def _running(directory: Path) -> Dataplane | None:
    record = _load(directory)
    if record is None or "total" not in record.get("seconds", {}):
        return None
    for name, pid in record.get("pids", {}).items():
        if not processes.is_ours(int(pid), _MARKERS[name]):
            return None
    if not netns.netns_exists(record["node_netns"]):
        return None
    return _describe(directory, record)


def _describe(directory: Path, record: dict[str, Any]) -> Dataplane:
    return Dataplane(
        dir=directory,
        node_name=record["node_name"],
        node_netns=record["node_netns"],
        pod_cidr=record["pod_cidr"],
        node_ip=str(node_agent.Ipam(record["pod_cidr"], directory, []).gateway),
        enforcer_mode=record["enforcer_mode"],
        pids={name: int(pid) for name, pid in record["pids"].items()},
        seconds=dict(record["seconds"]),
    )


def _load(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _save(directory: Path, record: dict[str, Any]) -> None:
    tmp = directory / (RECORD_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(directory / RECORD_FILE)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / ".dataplane.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


__all__ = [
    "Dataplane",
    "DataplaneError",
    "DataplaneUnavailable",
    "default_directory",
    "is_running",
    "load",
    "missing_requirements",
    "probe",
    "running_for",
    "start",
    "start_agent",
    "stop",
    "stop_agent",
]
