"""Linux network namespaces for the local dataplane: iproute2, and sockets made inside one.

Links, addresses and routes are set with `ip` (iproute2), one `ip -batch` per namespace and
step, which keeps a pod's set-up at three short processes.

Python 3.11 has no ``os.setns``. A socket belongs to the network namespace it was created
in, whichever thread uses it later, so :class:`NamespacedSockets` keeps one thread for
nothing but this: it enters the namespace with ``setns(fd, CLONE_NEWNET)`` (libc through
ctypes), creates and binds the sockets, goes back to its own namespace and hands them to
the event loop, which serves them like any other. No process per pod, and no other code
ever runs in a foreign namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar, cast

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
# `ip` says these when what it should remove is already gone.
GONE_MESSAGES = ("Cannot find device", "No such file or directory", "Cannot open network namespace")

# Forwarding on; ICMP errors not rate-limited, so that a probe that meets an unreachable
# address or a closed UDP port is told so every time, not once a second.
NODE_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.icmp_ratelimit": "0"}
POD_SYSCTLS = {"net.ipv4.icmp_ratelimit": "0"}

T = TypeVar("T")
Protocol = Literal["TCP", "UDP", "SCTP"]
PROTOCOLS: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")


class NetnsError(RuntimeError):
    """An `ip` command failed, or a namespace could not be entered."""


def ip_binary() -> str:
    found = shutil.which("ip")
    if found is None:
        raise NetnsError("`ip` (iproute2) is not on PATH")
    return found


def _ip_command(netns: str | None, args: Sequence[str]) -> list[str]:
    return [ip_binary(), *(["-n", netns] if netns else []), *args]


def _check(
    command: Sequence[str], returncode: int, stderr: str, ignore: Iterable[str], stdin: str
) -> None:
    if returncode == 0:
        return
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    ignored = tuple(ignore)
    # `ip -batch -force` goes on after an error; what matters is whether any is not ignored.
    real = [
        line
        for line in lines
        if not any(text in line for text in ignored) and not line.startswith("Command failed")
    ]
    if ignored and lines and not real:
        return
    shown = " ".join(command) + (f" <<< {stdin.strip()!r}" if stdin else "")
    raise NetnsError(f"`{shown}` failed (exit {returncode}): {stderr.strip()}")


def ip(
    *args: str, netns: str | None = None, batch: Sequence[str] = (), ignore: Iterable[str] = ()
) -> str:
    """Run `ip [-n NETNS] ARGS` (or `ip -batch -` over ``batch``); its stdout.

    Errors whose message contains one of ``ignore`` do not count (e.g. deleting what is gone).
    """
    stdin = "".join(line + "\n" for line in batch)
    command = _ip_command(netns, [*(["-force", "-batch", "-"] if batch else []), *args])
    proc = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )
    _check(command, proc.returncode, proc.stderr, ignore, stdin)
    return proc.stdout


async def ip_async(
    *args: str, netns: str | None = None, batch: Sequence[str] = (), ignore: Iterable[str] = ()
) -> str:
    """:func:`ip` without blocking the event loop."""
    stdin = "".join(line + "\n" for line in batch)
    command = _ip_command(netns, [*(["-force", "-batch", "-"] if batch else []), *args])
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode())
    assert proc.returncode is not None
    _check(command, proc.returncode, err.decode(errors="replace"), ignore, stdin)
    return out.decode(errors="replace")


def list_netns() -> list[str]:
    """The named network namespaces (those `ip netns add` made), sorted."""
    try:
        return sorted(entry.name for entry in NETNS_DIR.iterdir())
    except FileNotFoundError:
        return []


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def netns_inode(name: str) -> int | None:
    try:
        return (NETNS_DIR / name).stat().st_ino
    except OSError:
        return None


def link_names(netns: str | None = None) -> list[str]:
    """Names of the links in ``netns`` (the host's own namespace when None)."""
    out = ip("-o", "link", "show", netns=netns)
    names = []
    for line in out.splitlines():
        # "5: nfp2@if2: <BROADCAST,...> ..." -> "nfp2"
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def delete_netns(name: str) -> None:
    """Remove a named namespace (nothing if it is gone)."""
    if netns_exists(name):
        ip("netns", "del", name, ignore=GONE_MESSAGES)


def create_node_netns(name: str, address: str) -> None:
    """The node's namespace: loopback up with ``address``/32 on it, IPv4 forwarding on.

    Idempotent: an existing namespace is completed, not replaced.
    """
    if not netns_exists(name):
        ip("netns", "add", name)
    ip(
        netns=name,
        batch=["link set lo up", f"address replace {address}/32 dev lo"],
    )
    shared_sockets().sysctl(name, NODE_SYSCTLS)


# --- sockets inside a namespace -----------------------------------------------------------


@dataclass(frozen=True)
class SocketSpec:
    """A socket to create in a namespace: a listener on ``port`` or, for port 0 with
    ``listen=False``, an unbound client socket."""

    protocol: Protocol
    port: int = 0
    host: str = "0.0.0.0"  # noqa: S104 - inside the pod's own namespace only
    listen: bool = True


def _libc_setns() -> Callable[[int, int], int]:
    libc = ctypes.CDLL(None, use_errno=True)
    function = libc.setns
    function.argtypes = [ctypes.c_int, ctypes.c_int]
    function.restype = ctypes.c_int
    return cast("Callable[[int, int], int]", function)


def _make_socket(spec: SocketSpec) -> socket.socket:
    kind = socket.SOCK_DGRAM if spec.protocol == "UDP" else socket.SOCK_STREAM
    proto = socket.IPPROTO_SCTP if spec.protocol == "SCTP" else 0
    sock = socket.socket(socket.AF_INET, kind, proto)
    try:
        sock.setblocking(False)
        if spec.listen:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((spec.host, spec.port))
            if kind == socket.SOCK_STREAM:
                sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


class NamespacedSockets:
    """Creates sockets inside named network namespaces on one dedicated thread."""

    def __init__(self) -> None:
        self._setns = _libc_setns()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netns-sockets")
        self._home: int | None = None
        self._lock = threading.Lock()

    def _enter(self, fd: int) -> None:
        if self._setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns: {os.strerror(code)}")

    def _inside(self, netns: str, work: Callable[[], T]) -> T:
        """Run ``work`` on this thread inside ``netns``, then come back."""
        if self._home is None:  # the worker thread's own namespace, to come back to
            self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        fd = os.open(NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._enter(fd)
        finally:
            os.close(fd)
        try:
            return work()
        finally:
            self._enter(self._home)

    def _create(self, netns: str, specs: Sequence[SocketSpec]) -> list[socket.socket | OSError]:
        def make_all() -> list[socket.socket | OSError]:
            results: list[socket.socket | OSError] = []
            for spec in specs:
                try:
                    results.append(_make_socket(spec))
                except OSError as e:
                    results.append(e)
            return results

        return self._inside(netns, make_all)

    def _sysctl(self, netns: str, settings: Mapping[str, str]) -> None:
        def write_all() -> None:
            # /proc/sys/net/* is the namespace of the thread that opens it.
            for key, value in settings.items():
                Path("/proc/sys", *key.split(".")).write_text(value)

        self._inside(netns, write_all)

    def create(self, netns: str, specs: Sequence[SocketSpec]) -> list[socket.socket | OSError]:
        """One socket (or the error that prevented it) per spec, created inside ``netns``."""
        return self._executor.submit(self._create, netns, specs).result()

    async def acreate(
        self, netns: str, specs: Sequence[SocketSpec]
    ) -> list[socket.socket | OSError]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._create, netns, specs)

    def sysctl(self, netns: str, settings: Mapping[str, str]) -> None:
        """Write network sysctls (``net.ipv4.x`` = value) of ``netns``."""
        self._executor.submit(self._sysctl, netns, settings).result()

    async def asysctl(self, netns: str, settings: Mapping[str, str]) -> None:
        """Write network sysctls (``net.ipv4.x`` = value) of ``netns``."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._sysctl, netns, settings)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._home is not None:
            os.close(self._home)
            self._home = None


_shared: NamespacedSockets | None = None
_shared_lock = threading.Lock()


def shared_sockets() -> NamespacedSockets:
    """One :class:`NamespacedSockets` per process, made on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = NamespacedSockets()
        return _shared


def sctp_supported() -> bool:
    """Whether this kernel has SCTP (the module may be absent or blacklisted)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


# --- probing from inside a namespace ------------------------------------------------------

Outcome = Literal["connected", "refused", "dropped", "unreachable"]
PROBE_PAYLOAD = b"netfence-probe\n"
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH}


@dataclass(frozen=True)
class ProbeResult:
    """What one connection attempt met.

    ``connected``: the peer accepted (TCP/SCTP) or replied (UDP); ``answer`` is what it
    said (a pod of the node agent says its ``namespace/name``). ``refused``: a reset or an
    ICMP port-unreachable came back. ``dropped``: nothing came back within the timeout
    (what a NetworkPolicy that denies looks like). ``unreachable``: no route to the address.
    """

    outcome: Outcome
    answer: str | None = None
    seconds: float = 0.0

    @property
    def connected(self) -> bool:
        return self.outcome == "connected"


async def probe_netns(
    netns: str,
    address: str,
    port: int,
    protocol: str = "TCP",
    timeout: float = 2.0,
    *,
    sockets: NamespacedSockets | None = None,
) -> ProbeResult:
    """One fresh connection (TCP, SCTP) or datagram (UDP) from inside ``netns``."""
    proto = protocol.upper()
    if proto not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}")
    started = time.monotonic()
    made = await (sockets or shared_sockets()).acreate(netns, [SocketSpec(proto, listen=False)])
    sock = made[0]
    if isinstance(sock, OSError):
        raise sock
    try:
        if proto == "UDP":
            outcome, answer = await _probe_udp(sock, address, port, timeout)
        else:
            outcome, answer = await _probe_stream(sock, address, port, timeout)
    finally:
        sock.close()
    return ProbeResult(outcome, answer, time.monotonic() - started)


async def _probe_stream(
    sock: socket.socket, address: str, port: int, timeout: float
) -> tuple[Outcome, str | None]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (address, port)), timeout)
    except TimeoutError:
        return "dropped", None
    except ConnectionRefusedError:
        return "refused", None
    except OSError as e:
        if e.errno in _UNREACHABLE:
            return "unreachable", None
        raise
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        while len(data) < 4096:
            chunk = await asyncio.wait_for(
                loop.sock_recv(sock, 4096), max(deadline - loop.time(), 0.05)
            )
            if not chunk:
                break
            data += chunk
    return "connected", data.decode(errors="replace").strip() or None


async def _probe_udp(
    sock: socket.socket, address: str, port: int, timeout: float
) -> tuple[Outcome, str | None]:
    loop = asyncio.get_running_loop()
    try:
        sock.connect((address, port))  # a UDP connect only picks the route and the peer
        await loop.sock_sendall(sock, PROBE_PAYLOAD)
        data = await asyncio.wait_for(loop.sock_recv(sock, 4096), timeout)
    except TimeoutError:
        return "dropped", None
    except ConnectionRefusedError:
        return "refused", None
    except OSError as e:
        if e.errno in _UNREACHABLE:
            return "unreachable", None
        raise
    return "connected", data.decode(errors="replace").strip() or None
