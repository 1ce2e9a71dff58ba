"""Detached helper processes of the local dataplane: start, recognise, measure, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_POLL_SECONDS = 0.05


class ProcessError(RuntimeError):
    """A helper process could not be started or stopped."""


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> int:
    """Start ``argv`` detached (its own session, nobody's child), output appended to ``log``.

    A short-lived shell backgrounds it and reports its PID, so it never lingers as our
    zombie and outlives the Python process that started it, until it is stopped.
    """
    script = '"$0" "$@" </dev/null >>"$NETFENCE_LOG" 2>&1 & echo $!'
    proc = subprocess.run(
        ["/bin/sh", "-c", script, *argv],
        cwd=cwd,
        env={**(env if env is not None else os.environ), "NETFENCE_LOG": str(log)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        start_new_session=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip().isdigit():
        raise ProcessError(f"could not start {argv[0]}: {proc.stderr.strip() or proc.stdout}")
    return int(proc.stdout.strip())


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def command_line(pid: int) -> list[str]:
    """The arguments of ``pid`` ([] when it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_ours(pid: int, marker: str) -> bool:
    """``pid`` is alive and ``marker`` is one of its arguments (or part of one): guards
    against a PID the kernel gave to someone else since we recorded it."""
    return alive(pid) and any(marker in arg for arg in command_line(pid))


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` (VmRSS), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def terminate(pid: int, *, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid):
                return True
            time.sleep(_POLL_SECONDS)
    return not alive(pid)


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
