"""Every `netfence` command line of the README, run as written against the local cluster.

The lines are read from the README's code blocks, in order, and split as a shell would
(quotes, `# comments`). A trailing `# exit N` comment is the exit status the line is
documented to have; every other line must exit 0. Only what cannot be shared is replaced:
the namespace `payments` by a fresh one of this test (holding a Deployment `api` and a
policy of its own), `~/.kube/config` by the control plane's kubeconfig, port 8080 by a
free port, and the control plane directory by the running one's (for `down`, by an empty
directory, so that the cluster of the other tests keeps running). Commands that run until
stopped (`controller`, `serve`) must come up, then stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import re
import shlex
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Node

from netfence.localcluster import ControlPlane, cluster, dataplane, node_agent
from tests.integration import kube
from tests.integration.cli_fixtures import NETFENCE, controller_process, netfence, stop  # noqa: F401

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"
LONG_RUNNING = ("controller", "serve")
# What each line must print (`payments` read as this test's namespace); a line not listed
# must exit as documented and print something.
EXPECTED = {
    "status": "payments",
    "enable payments --dry-run": "back up 1 NetworkPolicies not made by netfence",
    "enable payments": "netfence manages payments",
    "policies -n payments -o wide": "deny-all-ingress",
    "templates list": "http",
    "templates show http": "kind: Template",
    "templates apply -f docs/examples/web-8080.yaml --dry-run": "template/web-8080 created (dry run)",
    "attach deployment/api https -n payments --dry-run": "create NetworkPolicy payments/deploy-api-https",
    "attach deployment/api https -n payments": "NetworkPolicy payments/deploy-api-https created",
    "policies -A -l netfence.io/template=https -o name": "networkpolicy/deploy-api-https",
    "detach deployment/api https -n payments": "NetworkPolicy payments/deploy-api-https deleted",
    "connectivity -n payments --workloads": "payments/Deployment/api",
    "connectivity -f docs/examples/shop.yaml": "SOURCE",
    "explain shop/web shop/db --port 5432 -f docs/examples/shop.yaml": "denied",
    "check -f docs/examples/shop.yaml --fail-on-findings": "egress-without-dns",
    "disable payments --restore --dry-run": "restore legacy",
    "disable payments --restore": "restored legacy",
    "status -o jsonpath={.controller.live}": "true",
    "controlplane up --dir .netfence/controlplane": "already running",
    "controlplane down --dir .netfence/controlplane": "No local cluster is running",
}


def readme_lines() -> list[tuple[list[str], int]]:
    """(argv, documented exit status) of every `netfence` line in a code block."""
    found: list[tuple[list[str], int]] = []
    fenced = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
            continue
        text = line.strip()
        in_block = fenced or line.startswith("    ")
        if not in_block or not text.startswith("netfence "):
            continue
        comment = text.partition("  #")[2]
        status = re.search(r"\bexit (\d)\b", comment)
        found.append((shlex.split(text, comments=True), int(status[1]) if status else 0))
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_the_readme_documents_the_commands_it_runs() -> None:
    lines = readme_lines()
    # Each expectation is of a line the README has (a stale one would test nothing).
    assert set(EXPECTED) <= {" ".join(argv[1:]) for argv, _ in lines}
    commands = {argv[1] for argv, _ in lines}
    assert {"status", "enable", "attach", "detach", "controller", "serve", "disable"} <= commands
    assert any("--kubeconfig" in argv[2:] for argv, _ in lines if argv[1] == "controller")


async def test_every_readme_command_line_runs_as_written(
    control_plane: ControlPlane,
    admin: AsyncClient,
    controller_process: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("readme"))
    await kube.create(admin, kube.deployment(ns, "api"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))
    port = str(free_port())
    empty = tmp_path / "no-control-plane"
    empty.mkdir()

    def substituted(argv: list[str]) -> list[str]:
        words = [ns if word == "payments" else word for word in argv]
        words = [str(control_plane.kubeconfig) if w == "~/.kube/config" else w for w in words]
        words = [port if w == "8080" else w for w in words]
        if words[1] == "controlplane":
            directory = control_plane.dir if words[2] == "up" else empty
            words = [str(directory) if w == ".netfence/controlplane" else w for w in words]
        return words

    ran: list[str] = []
    for argv, status in readme_lines():
        words = substituted(argv)
        line = " ".join(argv)
        if words[1] in LONG_RUNNING:
            _runs_until_stopped(words, port=port, log=tmp_path / f"{words[1]}.log")
            ran.append(line)
            continue
        result = netfence(control_plane.kubeconfig, *words[1:], cwd=ROOT, timeout=90)
        said = result.stdout + result.stderr
        if words[1:3] == ["controlplane", "up"]:
            # It starts the dataplane beside the session's control plane, which the other
            # tests keep without one (their pods stay Pending unless they start a node).
            dataplane.stop(cluster.dataplane_directory(control_plane.dir))
            # Its Node stays, as a stopped kubelet's does, and would look Ready for 40 s:
            # the scheduler would bind later tests' pods to it, and they could never go.
            with contextlib.suppress(ApiError):
                await admin.delete(Node, node_agent.DEFAULT_NODE_NAME)
            if not dataplane.missing_requirements():
                assert "Dataplane running" in result.stdout, f"{line}\n{said}"
        assert result.returncode == status, f"{line}\n{said}"
        assert "Traceback" not in said, f"{line}\n{said}"
        assert result.stdout.strip(), f"{line} printed nothing\n{said}"
        if status == 0:
            assert "error:" not in result.stderr, f"{line}\n{said}"
        expected = EXPECTED.get(" ".join(argv[1:]))
        if expected is not None:
            assert expected.replace("payments", ns) in result.stdout, f"{line}\n{said}"
        ran.append(line)
    assert len(ran) == len(readme_lines())


def _runs_until_stopped(words: list[str], *, port: str, log: Path) -> None:
    with log.open("w") as sink:
        process = subprocess.Popen([*NETFENCE, *words[1:]], stdout=sink, stderr=subprocess.STDOUT)
    try:
        if words[1] == "serve":
            _wait_for_http(f"http://127.0.0.1:{port}/", process)
        else:
            time.sleep(3)
        assert process.poll() is None, f"{words} exited: {log.read_text()}"
    finally:
        code = stop(process)
    output = log.read_text()
    # The controller exits 0 on Ctrl-C; uvicorn re-raises the SIGINT it handled once its
    # graceful shutdown is done, so `serve` ends as an interrupted command does (130).
    assert code in ((0, 130) if words[1] == "serve" else (0,)), f"{words}: {code}\n{output}"
    assert "Traceback" not in output
    assert "No such option" not in output


def _wait_for_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                assert response.status == 200
                return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within 30s")
