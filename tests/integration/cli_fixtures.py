"""Running `netfence` as a person does: its own process, a controller in another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient

from netfence.localcluster import ControlPlane

NETFENCE = [sys.executable, "-m", "netfence"]


def netfence(
    kubeconfig: Path | None,
    *args: str,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Output piped, as in a script: not a terminal, so no colour and nothing wrapped."""
    environment = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    environment.pop("KUBECONFIG", None)
    if kubeconfig is not None:
        environment["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [*NETFENCE, *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
    )


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> int:
    """SIGINT (a graceful stop, releasing the Lease), then SIGKILL if it hangs."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@pytest.fixture(scope="module")
def controller_process(control_plane: ControlPlane, admin: AsyncClient) -> Iterator[None]:
    """`netfence controller` as its own process, the way it runs in a pod."""
    log = control_plane.dir / "cli-controller.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*NETFENCE, "--kubeconfig", str(control_plane.kubeconfig), "controller"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        # Ready once it holds the Lease, as `netfence status` tells it.
        deadline = time.monotonic() + 30
        while (
            netfence(control_plane.kubeconfig, "status", "-o", "jsonpath={.controller.live}").stdout
            != "true"
        ):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no Lease after 30s: {log.read_text()}"
            time.sleep(0.5)
        yield
    finally:
        stop(process)
