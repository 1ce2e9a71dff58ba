"""Start, find and stop the local control plane that runs from a data directory.

The control plane is several processes of one binary, each detached (its own session),
so they outlive the Python process that started them until stop() is called:

- ``apiserver``: etcd and kube-apiserver; logs to DIR/controlplane.log, PID in
  DIR/controlplane.pid. It writes everything else in DIR (certificates, tokens,
  kubeconfig, ``server``).
- ``controller-manager`` and ``scheduler``: kube-controller-manager and kube-scheduler,
  started once the API server is ready; DIR/<name>.log, DIR/<name>.pid, and the URL of
  their /healthz in DIR/<name>.healthz. They exit by themselves when the apiserver
  process they were started for is gone.

Every process is started with spawn(), which records "PID STARTTIME" in DIR/<name>.pid;
stop() ends every process recorded so in DIR (the apiserver last). The dataplane keeps
its own record (DIR/dataplane/dataplane.json); netfence.localcluster.cluster starts and
stops both.

A restart listens on the port the data directory recorded (DIR/server, else the
kubeconfig) while that port is free, so the kubeconfig keeps its URL and a client that
was running, such as a controller, reconnects; only a taken port gives a new one.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import fcntl
import json
import os
import signal
import socket
import ssl
import time
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from netfence.localcluster import processes
from netfence.localcluster.building import BINARY_NAME, ensure_binary

APISERVER = "apiserver"
CONTROLLER_MANAGER = "controller-manager"
SCHEDULER = "scheduler"
# Started after the API server, from the same binary (`netfence-controlplane NAME`).
COMPONENTS: tuple[str, ...] = (CONTROLLER_MANAGER, SCHEDULER)

LOG_FILE = "controlplane.log"  # the apiserver's; the others log to DIR/<name>.log
PID_FILE = "controlplane.pid"  # the apiserver's; the others: DIR/<name>.pid
# How Go's net package reports a port another process holds.
_ADDRESS_IN_USE = "address already in use"
_LOG_TAIL_LINES = 30
_POLL_SECONDS = 0.1
_PORT_RETRIES = 3


class ControlPlaneError(RuntimeError):
    """The control plane is not running, or did not start or stop as asked."""


@dataclass(frozen=True)
class ControlPlane:
    """A running control plane: where it listens and how to authenticate to it."""

    dir: Path
    server: str
    kubeconfig: Path
    ca_file: Path
    tokens: dict[str, str]
    pid: int  # the apiserver process (etcd and kube-apiserver)
    # Every process of it by name: "apiserver", "controller-manager", "scheduler".
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def admin_token(self) -> str:
        return self.tokens["admin"]


def start(
    dir: Path, *, timeout: float = 60, components: Sequence[str] = COMPONENTS
) -> ControlPlane:
    """Start a control plane from ``dir`` (created if needed), or reuse the running one.

    Builds the binary first if needed (this can take minutes and is not part of
    ``timeout``), starts etcd and kube-apiserver and waits for ``GET /readyz``, then
    starts ``components`` (kube-controller-manager, kube-scheduler) that do not run yet
    and waits for their /healthz and for the ServiceAccount ``default/default``, which
    the controller-manager makes; ``timeout`` seconds for all of it. A new apiserver
    listens on the port ``dir`` recorded while that is free, so the kubeconfig's URL does
    not change; if another process holds it, on a free one.
    """
    dir = dir.resolve()
    dir.mkdir(parents=True, exist_ok=True)
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        raise ControlPlaneError(f"unknown components {sorted(unknown)}; known: {COMPONENTS}")
    deadline = time.monotonic() + timeout
    with _locked(dir):
        pid = running_pid(dir, APISERVER)
        started: list[int] = []
        try:
            if pid is not None:
                cp = _wait_ready(dir, pid, deadline)
            else:
                # Left from an apiserver that is gone: they would talk to the wrong one.
                _terminate_all(running_pids(dir).values(), timeout=10)
                binary = ensure_binary()
                deadline = time.monotonic() + timeout  # the build is not part of it
                cp = _start_apiserver(binary, dir, deadline)
                started.append(cp.pid)
            pids = _start_components(cp, components, deadline, started)
        except BaseException:  # not ready, or interrupted: leave nothing of ours behind
            _terminate_all(started, timeout=5)
            raise
        return dataclasses.replace(cp, pids={**running_pids(dir), APISERVER: cp.pid, **pids})


def spawn(
    dir: Path, name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None
) -> int:
    """Start ``argv`` detached (its own session, stdin from /dev/null), logging to
    DIR/<name>.log, and record it in DIR/<name>.pid so that stop() ends it too.

    Returns its PID. The process is nobody's child here: it never lingers as our zombie
    and Python never warns about a subprocess that is still running. Wait for it to be
    ready yourself (running_pid() tells whether it still runs).
    """
    log = log_file(dir, name)
    log.write_bytes(b"")
    try:
        pid = processes.spawn(argv, log=log, cwd=dir, env={**os.environ, **(env or {})})
    except processes.ProcessError as e:
        raise ControlPlaneError(str(e)) from e
    started = _process_start(pid)
    pid_file(dir, name).write_text(f"{pid} {started}\n" if started else f"{pid}\n")
    return pid


def running_pid(dir: Path, name: str) -> int | None:
    """The PID recorded in DIR/<name>.pid if that process still runs (not one that got
    its PID since: the start time recorded with it must match)."""
    try:
        fields = pid_file(dir, name).read_text().split()
        pid = int(fields[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if not _alive(pid):
        return None
    if len(fields) > 1 and Path("/proc/self").exists():
        return pid if _process_start(pid) == fields[1] else None
    return pid if _is_controlplane(pid) else None  # written before start times were kept


def running_pids(dir: Path) -> dict[str, int]:
    """Every process recorded in DIR (by spawn()) that still runs, by name."""
    names = {_name(path.stem) for path in sorted(dir.glob("*.pid"))}
    pids = {name: running_pid(dir, name) for name in sorted(names)}
    return {name: pid for name, pid in pids.items() if pid is not None}


def pid_file(dir: Path, name: str) -> Path:
    return dir / PID_FILE if name == APISERVER else dir / f"{name}.pid"


def log_file(dir: Path, name: str) -> Path:
    return dir / LOG_FILE if name == APISERVER else dir / f"{name}.log"


def recorded_server(dir: Path) -> str | None:
    """The URL the control plane of ``dir`` served on last (running or not), if any."""
    try:
        if server := (dir / "server").read_text().strip():
            return server
    except OSError:
        pass
    try:  # the kubeconfig is written before the server file, and outlives its removal
        config = yaml.safe_load((dir / "kubeconfig").read_text())
        return str(config["clusters"][0]["cluster"]["server"])
    except (OSError, yaml.YAMLError, LookupError, TypeError):
        return None


def stop(dir: Path, *, timeout: float = 20) -> bool:
    """Stop every process recorded in ``dir``: SIGTERM, then SIGKILL after ``timeout``.

    The controller-manager, the scheduler and whatever else spawn() started stop first,
    together; the apiserver (kube-apiserver, then etcd) last. Returns False if none was
    running. Data, credentials and logs are kept.
    """
    dir = dir.resolve()
    # The dataplane is not stopped here: netfence.localcluster.cluster.down() stops it
    # first, while the API server still answers its last calls.
    pids = running_pids(dir)
    if not pids:
        return False
    apiserver = pids.pop(APISERVER, None)
    for group in (pids, {APISERVER: apiserver} if apiserver else {}):
        left = _terminate_all(group.values(), timeout=timeout)
        if left:
            names = ", ".join(f"{n} (PID {p})" for n, p in group.items() if p in left)
            raise ControlPlaneError(f"{names} from {dir} did not exit after SIGKILL")
        for name in group:
            pid_file(dir, name).unlink(missing_ok=True)
    return True


def load(dir: Path) -> ControlPlane:
    """Describe the control plane already running from ``dir`` (without waiting for it)."""
    dir = dir.resolve()
    pid = running_pid(dir, APISERVER)
    if pid is None:
        raise ControlPlaneError(f"no control plane is running from {dir}")
    cp = _describe(dir, pid)
    return dataclasses.replace(cp, pids={**running_pids(dir), APISERVER: pid})


def is_running(dir: Path) -> bool:
    """True if the control plane of ``dir`` runs, kube-apiserver answers /readyz with 200
    and the controller-manager and the scheduler are healthy."""
    try:
        cp = load(dir)
        return _ready(cp) and all(
            name in cp.pids and _component_ready(cp, name) for name in COMPONENTS
        )
    except (ControlPlaneError, OSError, ValueError):
        return False


def kubeconfig_for_user(cp: ControlPlane, user: str, path: Path) -> Path:
    """Write a kubeconfig at ``path`` that authenticates as ``user`` with its static token."""
    if user not in cp.tokens:
        raise ControlPlaneError(f"unknown user {user!r}; known users: {', '.join(cp.tokens)}")
    ca_data = base64.b64encode(cp.ca_file.read_bytes()).decode()
    name = "netfence-local"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": cp.server, "certificate-authority-data": ca_data}}
        ],
        "users": [{"name": user, "user": {"token": cp.tokens[user]}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def log_tail(dir: Path, lines: int = _LOG_TAIL_LINES, *, name: str = APISERVER) -> str:
    """The last ``lines`` lines of the log of process ``name`` ('' if there is none)."""
    try:
        text = log_file(dir, name).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _name(stem: str) -> str:
    return APISERVER if stem == Path(PID_FILE).stem else stem


def _start_apiserver(binary: Path, dir: Path, deadline: float) -> ControlPlane:
    port = _reusable_port(dir)
    try:
        return _launch(binary, dir, port, deadline)
    except ControlPlaneError:
        if port is None or _ADDRESS_IN_USE not in log_tail(dir):
            raise
    # Taken between the check and the bind: any free port, then.
    return _launch(binary, dir, None, deadline)


def _reusable_port(dir: Path) -> int | None:
    """The port ``dir`` recorded, if it is still free on 127.0.0.1."""
    server = recorded_server(dir)
    try:
        port = urllib.parse.urlsplit(server).port if server else None
    except ValueError:
        return None
    return port if port and _port_free(port) else None


def _port_free(port: int) -> bool:
    # SO_REUSEADDR as the API server binds (Go sets it on every listener): the connections
    # of the last run in TIME_WAIT do not keep the port, a listener does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _launch(binary: Path, dir: Path, port: int | None, deadline: float) -> ControlPlane:
    """Spawn the apiserver (on ``port``, else on a free port it picks) and wait until ready."""
    (dir / "server").unlink(missing_ok=True)  # stale URL from an earlier run
    arguments = [str(binary), "--dir", str(dir), *(["--port", str(port)] if port else [])]
    pid = spawn(dir, APISERVER, arguments)
    try:
        return _wait_ready(dir, pid, deadline)
    except BaseException:  # not ready, or interrupted: do not leave ours behind
        _terminate_all([pid], timeout=5)
        raise


def _wait_ready(dir: Path, pid: int, deadline: float) -> ControlPlane:
    last_error = "no answer yet"
    while True:
        if not _alive(pid):
            raise ControlPlaneError(
                f"control plane (PID {pid}) exited before it was ready; "
                f"tail of {dir / LOG_FILE}:\n{log_tail(dir)}"
            )
        if (dir / "server").is_file():
            try:
                cp = _describe(dir, pid)
                if _ready(cp):
                    return cp
                last_error = "/readyz did not answer 200"
            except (OSError, ValueError, httpx.HTTPError) as e:
                last_error = str(e) or type(e).__name__
        if time.monotonic() >= deadline:
            raise ControlPlaneError(
                f"control plane (PID {pid}) not ready in time ({last_error}); "
                f"tail of {dir / LOG_FILE}:\n{log_tail(dir)}"
            )
        time.sleep(_POLL_SECONDS)


def _start_components(
    cp: ControlPlane, names: Iterable[str], deadline: float, started: list[int]
) -> dict[str, int]:
    """Start each of ``names`` that does not run yet, then wait until all are ready.

    A component picks a free port itself; one that lost it to another process before it
    could bind is started again. PIDs of new processes are appended to ``started``.
    """
    pids: dict[str, int] = {}
    tries: dict[str, int] = {}
    for name in names:
        pid = running_pid(cp.dir, name)
        if pid is None:
            pid = _spawn_component(cp, name)
            started.append(pid)
        pids[name] = pid
    waiting = set(pids)
    while waiting:
        for name in sorted(waiting):
            if _alive(pids[name]):
                if _component_ready(cp, name):
                    waiting.discard(name)
                continue
            tail = log_tail(cp.dir, name=name)
            tries[name] = tries.get(name, 0) + 1
            if _ADDRESS_IN_USE not in tail or tries[name] > _PORT_RETRIES:
                raise ControlPlaneError(
                    f"kube-{name} (PID {pids[name]}) exited before it was ready; "
                    f"tail of {log_file(cp.dir, name)}:\n{tail}"
                )
            pids[name] = _spawn_component(cp, name)
            started.append(pids[name])
        if waiting and time.monotonic() >= deadline:
            late = ", ".join(f"kube-{n} (PID {pids[n]})" for n in sorted(waiting))
            tails = "\n".join(
                f"tail of {log_file(cp.dir, n)}:\n{log_tail(cp.dir, name=n)}"
                for n in sorted(waiting)
            )
            raise ControlPlaneError(f"{late} not ready in time; {tails}")
        if waiting:
            time.sleep(_POLL_SECONDS)
    return pids


def _spawn_component(cp: ControlPlane, name: str) -> int:
    (cp.dir / f"{name}.healthz").unlink(missing_ok=True)  # stale URL from an earlier run
    binary = ensure_binary()
    argv = [str(binary), name, "--dir", str(cp.dir), "--apiserver-pid", str(cp.pid)]
    return spawn(cp.dir, name, argv)


def _component_ready(cp: ControlPlane, name: str) -> bool:
    """/healthz answers 200; for the controller-manager, also the ServiceAccount
    default/default exists (its serviceaccount controller runs)."""
    try:
        healthz = (cp.dir / f"{name}.healthz").read_text().strip()
    except OSError:
        return False
    if not healthz:
        return False
    with _client(cp) as client:
        try:
            if client.get(healthz).status_code != 200:
                return False
            if name == CONTROLLER_MANAGER:
                account = f"{cp.server}/api/v1/namespaces/default/serviceaccounts/default"
                return client.get(account).status_code == 200
        except httpx.HTTPError:
            return False
    return True


def _describe(dir: Path, pid: int) -> ControlPlane:
    tokens = json.loads((dir / "tokens.json").read_text())
    if not isinstance(tokens, dict) or "admin" not in tokens:
        raise ValueError(f"{dir / 'tokens.json'} has no admin token")
    return ControlPlane(
        dir=dir,
        server=(dir / "server").read_text().strip(),
        kubeconfig=dir / "kubeconfig",
        ca_file=dir / "ca.crt",
        tokens={str(user): str(token) for user, token in tokens.items()},
        pid=pid,
        pids={APISERVER: pid},
    )


def _client(cp: ControlPlane) -> httpx.Client:
    # The controller-manager and the scheduler serve with the apiserver's certificate.
    context = ssl.create_default_context(cafile=str(cp.ca_file))
    headers = {"Authorization": f"Bearer {cp.admin_token}"}
    return httpx.Client(verify=context, headers=headers, timeout=2.0)


def _ready(cp: ControlPlane) -> bool:
    try:
        with _client(cp) as client:
            return client.get(f"{cp.server}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _process_start(pid: int) -> str | None:
    """The start time of a live process (/proc/PID/stat, field 22); None if it is gone,
    a zombie, or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) counts as gone
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _is_controlplane(pid: int) -> bool:
    """Guards against a recycled PID; where /proc is missing, trust the PID file."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return False
    return BINARY_NAME.encode() in cmdline


def _terminate_all(pids: Iterable[int], *, timeout: float) -> set[int]:
    """SIGTERM to each, then SIGKILL to those left after ``timeout``; returns the PIDs
    still alive after that (none, normally)."""
    left = set(pids)
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while left and time.monotonic() < deadline:
            left = {pid for pid in left if _alive(pid)}
            if left:
                time.sleep(_POLL_SECONDS)
        if not left:
            break
    return left


@contextlib.contextmanager
def _locked(dir: Path) -> Iterator[None]:
    """Serialize start() calls on one data directory across processes."""
    with (dir / ".controlplane.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
