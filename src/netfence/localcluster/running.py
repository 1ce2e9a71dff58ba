"""Start, find and stop the local control plane that runs from a data directory.

The process runs detached (its own session), logs to DIR/controlplane.log and its PID
is kept in DIR/controlplane.pid, so it outlives the Python process that started it
until stop() is called. Everything else in DIR is written by the binary itself.

A restart listens on the port the data directory recorded (DIR/server, else the
kubeconfig) while that port is free, so the kubeconfig keeps its URL and a client that
was running, such as a controller, reconnects; only a taken port gives a new one.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from netfence.localcluster.building import BINARY_NAME, ensure_binary

LOG_FILE = "controlplane.log"
# How kube-apiserver (Go's net package) reports a port another process holds.
_ADDRESS_IN_USE = "address already in use"
PID_FILE = "controlplane.pid"
_LOG_TAIL_LINES = 30
_POLL_SECONDS = 0.1


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
    pid: int

    @property
    def admin_token(self) -> str:
        return self.tokens["admin"]


def start(dir: Path, *, timeout: float = 60) -> ControlPlane:
    """Start a control plane from ``dir`` (created if needed), or reuse the running one.

    Builds the binary first if needed (this can take minutes and is not part of
    ``timeout``), then waits up to ``timeout`` seconds for ``GET /readyz`` to answer 200.
    A new process listens on the port ``dir`` recorded while that is free, so the
    kubeconfig's URL does not change; if another process holds it, on a free one.
    """
    dir = dir.resolve()
    dir.mkdir(parents=True, exist_ok=True)
    with _locked(dir):
        pid = _running_pid(dir)
        if pid is not None:
            return _wait_ready(dir, pid, timeout)
        binary = ensure_binary()
        port = _reusable_port(dir)
        try:
            return _launch(binary, dir, port, timeout)
        except ControlPlaneError:
            if port is None or _ADDRESS_IN_USE not in log_tail(dir):
                raise
        # Taken between the check and the bind: any free port, then.
        return _launch(binary, dir, None, timeout)


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
    """Stop the control plane running from ``dir``: SIGTERM, then SIGKILL after ``timeout``.

    Returns False if none was running. Data, credentials and the log are kept.
    """
    pid = _running_pid(dir.resolve())
    if pid is None:
        return False
    if not _terminate(pid, timeout=timeout):
        raise ControlPlaneError(f"control plane (PID {pid}) from {dir} did not exit after SIGKILL")
    return True


def load(dir: Path) -> ControlPlane:
    """Describe the control plane already running from ``dir`` (without waiting for it)."""
    dir = dir.resolve()
    pid = _running_pid(dir)
    if pid is None:
        raise ControlPlaneError(f"no control plane is running from {dir}")
    return _describe(dir, pid)


def is_running(dir: Path) -> bool:
    """True if a control plane runs from ``dir`` and answers /readyz with 200."""
    try:
        return _ready(load(dir))
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


def log_tail(dir: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of DIR/controlplane.log ('' if there is none)."""
    try:
        text = (dir / LOG_FILE).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


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


def _launch(binary: Path, dir: Path, port: int | None, timeout: float) -> ControlPlane:
    """Spawn the binary (on ``port``, else on a free port it picks) and wait until ready."""
    (dir / "server").unlink(missing_ok=True)  # stale URL from an earlier run
    pid = _spawn(binary, dir, port)
    (dir / PID_FILE).write_text(f"{pid}\n")
    try:
        return _wait_ready(dir, pid, timeout)
    except BaseException:  # not ready, or interrupted: do not leave ours behind
        _terminate(pid, timeout=5)
        raise


def _spawn(binary: Path, dir: Path, port: int | None = None) -> int:
    """Start the binary detached: a short-lived shell backgrounds it and reports its PID.

    The control plane is thus nobody's child here: it never lingers as our zombie and
    Python never warns about a subprocess that is still running.
    """
    log = dir / LOG_FILE
    log.write_bytes(b"")
    script = '"$0" "$@" </dev/null >>"$NETFENCE_CONTROLPLANE_LOG" 2>&1 & echo $!'
    arguments = [str(binary), "--dir", str(dir), *(["--port", str(port)] if port else [])]
    proc = subprocess.run(
        ["/bin/sh", "-c", script, *arguments],
        cwd=dir,
        env={**os.environ, "NETFENCE_CONTROLPLANE_LOG": str(log)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise ControlPlaneError(f"could not start {binary}: {proc.stderr.strip() or proc.stdout}")
    return int(proc.stdout.strip())


def _wait_ready(dir: Path, pid: int, timeout: float) -> ControlPlane:
    deadline = time.monotonic() + timeout
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
                f"control plane (PID {pid}) not ready after {timeout:g}s ({last_error}); "
                f"tail of {dir / LOG_FILE}:\n{log_tail(dir)}"
            )
        time.sleep(_POLL_SECONDS)


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
    )


def _ready(cp: ControlPlane) -> bool:
    context = ssl.create_default_context(cafile=str(cp.ca_file))
    headers = {"Authorization": f"Bearer {cp.admin_token}"}
    try:
        with httpx.Client(verify=context, headers=headers, timeout=2.0) as client:
            return client.get(f"{cp.server}/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def _running_pid(dir: Path) -> int | None:
    """The PID from DIR/controlplane.pid if that process is alive and is our binary."""
    try:
        pid = int((dir / PID_FILE).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) and _is_controlplane(pid) else None


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


def _terminate(pid: int, *, timeout: float) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return True
            time.sleep(_POLL_SECONDS)
    return not _alive(pid)


@contextlib.contextmanager
def _locked(dir: Path) -> Iterator[None]:
    """Serialize start() calls on one data directory across processes."""
    with (dir / ".controlplane.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
