"""`netfence controlplane up`, `netfence demo` and `netfence controlplane down` as a user
types them, on a local cluster of their own: the demo's application works on real pods
behind its policies, nothing says that no plugin enforces them, and `down` leaves nothing
running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netfence.localcluster import cluster, dataplane, enforcer, netns, node_agent
from tests.integration.browser import free_port

pytestmark = pytest.mark.timeout(900 if enforcer.needs_build() else 300)

_ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
_PROVEN = "connections behave as intended"
_WRONG = "connections do not behave as the demo intends"


def netfence(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netfence", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env or _ENV,
    )


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    missing = dataplane.missing_requirements()
    if missing:
        pytest.skip("this machine cannot run the dataplane: missing " + "; ".join(missing))
    made = tmp_path_factory.mktemp("demo") / "controlplane"
    try:
        yield made
    finally:
        cluster.down(made)


def _ours(directory: Path) -> list[str]:
    """Every live process started from ``directory`` (by command line or working directory)
    and every network namespace its dataplane made."""
    root = str(directory.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if root in cmdline or cwd.startswith(root):
            found.append(f"PID {entry.name}: {cmdline.strip()}")
    dataplane_dir = cluster.dataplane_directory(directory)
    prefixes = (
        node_agent.pod_netns_prefix(dataplane_dir),
        node_agent.node_netns_name(dataplane_dir),
    )
    found += [f"netns {name}" for name in netns.list_netns() if name.startswith(prefixes)]
    return found


def _read_until(process: subprocess.Popen[str], needles: tuple[str, ...], timeout: float) -> str:
    """What ``process`` printed up to the first line holding one of ``needles`` (or the
    timeout). A thread reads every line until the end, so the process never blocks on a
    full pipe; select() on the pipe would miss lines already in the reader's buffer."""
    assert process.stdout is not None
    stream = process.stdout
    seen: list[str] = []
    found = threading.Event()

    def pump() -> None:
        for line in stream:
            seen.append(line)
            if any(needle in line for needle in needles):
                found.set()
        found.set()  # it exited

    threading.Thread(target=pump, daemon=True).start()
    found.wait(timeout)
    return "".join(seen)


def test_up_starts_the_control_plane_and_the_dataplane(directory: Path) -> None:
    up = netfence("controlplane", "up", "--dir", str(directory))
    assert up.returncode == 0, up.stderr
    assert "Control plane started" in up.stdout
    assert "Dataplane running: node netfence-node" in up.stdout
    assert f"kube-network-policies {enforcer.VERSION}" in up.stdout
    assert "agent.log" in up.stdout and "enforcer.log" in up.stdout

    again = netfence("controlplane", "up", "--dir", str(directory))
    assert again.returncode == 0, again.stderr
    assert "Control plane already running" in again.stdout
    assert "Dataplane running" in again.stdout


def test_the_demo_application_works_on_the_wire_and_nothing_warns_that_it_is_not_enforced(
    directory: Path,
) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "netfence", "demo", "--dir", str(directory), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_ENV,
    )
    try:
        printed = _read_until(demo, (_PROVEN, _WRONG), timeout=180)
        env = {**_ENV, "KUBECONFIG": str(directory / "kubeconfig")}
        check = netfence("check", env=env)
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        if demo.stdout is not None:
            demo.stdout.close()
    assert "Dataplane ready" in printed, printed
    # The second cluster, so the console's picker has two.
    assert "Second cluster ready: prod" in printed, printed
    assert f"export KUBECONFIG={directory.resolve() / 'clusters' / 'kubeconfig'}" in printed
    table = printed[printed.index("The demo application on the wire") :]
    assert f"All 17 {_PROVEN}" in table, table
    assert "WRONG" not in table
    # What the application needs got through, what its policies shut was dropped.
    assert "shop/frontend  " in table and "payments/api  " in table
    assert table.count(" connected ") == 13 and table.count(" dropped ") == 4, table
    assert "no-networkpolicy-enforcing-plugin" not in check.stdout + check.stderr


def test_down_leaves_nothing_running_and_up_without_dataplane_starts_no_node(
    directory: Path,
) -> None:
    down = netfence("controlplane", "down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert "Dataplane stopped" in down.stdout and "Control plane stopped" in down.stdout
    assert "Cluster prod stopped" in down.stdout
    assert _ours(directory) == []

    up = netfence("controlplane", "up", "--dir", str(directory), "--no-dataplane")
    try:
        assert up.returncode == 0, up.stderr
        assert "No dataplane (--no-dataplane)" in up.stdout
        assert not dataplane.is_running(cluster.dataplane_directory(directory))
    finally:
        down = netfence("controlplane", "down", "--dir", str(directory))
    assert down.returncode == 0, down.stderr
    assert "Dataplane stopped" not in down.stdout
    assert _ours(directory) == []
