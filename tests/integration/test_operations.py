"""Operating the controller as a platform engineer would: /metrics, /healthz, /readyz, logs.

Each test runs `netfence controller` as its own process, as a pod would, scrapes what it
serves over HTTP on 127.0.0.1 and parses the metrics with prometheus_client's own parser.
The health test gives the controller a control plane of its own, stops that API server
and starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace
from prometheus_client.parser import text_string_to_metric_families

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ControlPlane, start, stop
from tests.integration import kube
from tests.integration.browser import free_port
from tests.integration.netfence_fixtures import NETFENCE_NS

pytestmark = pytest.mark.timeout(240)

NETFENCE = [sys.executable, "-m", "netfence"]


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def tail(self, count: int = 30) -> str:
        return "\n".join(self.lines()[-count:])


@contextlib.contextmanager
def controller_process(kubeconfig: Path, log: Path, *extra: str) -> Iterator[Running]:
    """`netfence controller` with its probes on a free loopback port; SIGTERM at the end."""
    port = free_port()
    command = [
        *NETFENCE,
        "--kubeconfig",
        str(kubeconfig),
        "controller",
        "--metrics-bind-address",
        f"127.0.0.1:{port}",
        "--lease-seconds",
        "4",
        "--renew-seconds",
        "1",
        *extra,
    ]
    env = {**os.environ, "POD_NAME": kube.unique("ops")}
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)
    running = Running(process, f"http://127.0.0.1:{port}", log)
    try:
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def console_process(kubeconfig: Path, log: Path) -> Iterator[str]:
    """`netfence serve --auth token --no-controller` logging JSON at DEBUG; its URL."""
    port = free_port()
    command = [
        *NETFENCE,
        "--kubeconfig",
        str(kubeconfig),
        "serve",
        "--auth",
        "token",
        "--no-controller",
        "--port",
        str(port),
        "--log-format",
        "json",
        "--log-level",
        "DEBUG",
    ]
    with log.open("w") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


async def _get(url: str) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            return await client.get(url)
    except httpx.TransportError:
        return None


async def _readiness(running: Running) -> dict[str, Any] | None:
    if running.process.poll() is not None:
        raise AssertionError(f"the controller exited:\n{running.tail()}")
    response = await _get(f"{running.url}/readyz")
    return None if response is None else {"status": response.status_code, **response.json()}


async def _leading(running: Running) -> bool:
    found = await _readiness(running)
    return bool(found and found["status"] == 200 and found["leader"])


async def _lease_is_free(admin: AsyncClient) -> bool:
    """No other controller (another module's, say) holds the Lease, or it has lapsed."""
    try:
        lease = await admin.get(Lease, naming.LEADER_LEASE, namespace=NETFENCE_NS)
    except ApiError as e:
        return e.status.code == 404
    spec = lease.spec
    if spec is None or not spec.holderIdentity or spec.renewTime is None:
        return True
    expiry = spec.renewTime + datetime.timedelta(seconds=spec.leaseDurationSeconds or 15)
    return expiry < datetime.datetime.now(datetime.UTC)


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(running: Running) -> Samples:
    """Every sample /metrics serves, by (name, labels). (Its cost is measured by
    benchmarks/operations_bench.py.)"""
    response = await _get(f"{running.url}/metrics")
    assert response is not None and response.status_code == 200, running.tail()
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def leader(
    control_plane: ControlPlane, admin: AsyncClient, tmp_path: Path
) -> AsyncIterator[Running]:
    """A `netfence controller` process, with JSON logs, that leads."""
    await kube.eventually(lambda: _lease_is_free(admin), timeout=30, interval=0.5)
    log = tmp_path / "controller.log"
    with controller_process(
        control_plane.kubeconfig, log, "--log-format", "json", "--log-level", "DEBUG"
    ) as running:
        await kube.eventually(lambda: _leading(running), timeout=30, interval=0.2)
        yield running


async def test_metrics_are_scraped_and_change_after_an_attach(
    leader: Running, admin: AsyncClient
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("metrics"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web"))

    async def baseline() -> bool:
        return set(naming.BASELINE_POLICY_NAMES) <= await kube.policy_names(admin, ns)

    await kube.eventually(baseline)
    before = await scrape(leader)

    # The leader says so; it manages this namespace and its two defaults.
    assert value(before, "netfence_leader") == 1
    assert value(before, "netfence_cache_synced") == 1
    assert value(before, "netfence_managed_namespaces") >= 1
    assert value(before, "netfence_managed_policies", role="baseline") >= 2
    # The usual process view is there too (memory, CPU).
    assert value(before, "process_resident_memory_bytes") > 10_000_000

    await admin.patch(
        Deployment,
        "web",
        {"metadata": {"labels": {naming.template_label_key("http"): "true"}}},
        namespace=ns,
    )
    await kube.wait_for_policy(admin, ns, "deploy-web-http")

    async def counted() -> Samples | None:
        found = await scrape(leader)
        created = value(
            found,
            "netfence_writes_total",
            verb="create",
            resource="networkpolicies",
            result="success",
        )
        grew = created > value(
            before,
            "netfence_writes_total",
            verb="create",
            resource="networkpolicies",
            result="success",
        )
        return found if grew else None

    after = await kube.eventually(counted)
    assert after is not None
    assert value(after, "netfence_managed_policies", role="attachment") == (
        value(before, "netfence_managed_policies", role="attachment") + 1
    )
    assert value(after, "netfence_reconcile_total", result="success") > value(
        before, "netfence_reconcile_total", result="success"
    )
    assert value(after, "netfence_reconcile_duration_seconds_count", result="success") == value(
        after, "netfence_reconcile_total", result="success"
    )
    assert value(after, "netfence_cache_objects", resource="Deployment") >= 1
    assert value(after, "netfence_workqueue_depth") >= 0

    # A refusal is counted by its reason, once, as its Event is posted.
    refused_before = value(after, "netfence_refusals_total", reason="UnknownTemplate")
    await admin.patch(
        Deployment,
        "web",
        {"metadata": {"labels": {naming.template_label_key("no-such-template"): "true"}}},
        namespace=ns,
    )

    async def refusal_counted() -> bool:
        found = await scrape(leader)
        return (
            value(found, "netfence_refusals_total", reason="UnknownTemplate") == refused_before + 1
        )

    await kube.eventually(refusal_counted)

    # JSON logs: one object per line, the namespace as a field of its own.
    # Every line is one: nothing (uvicorn's records included) writes text beside them.
    records = [json.loads(line) for line in leader.lines() if line.strip()]
    assert records, leader.tail()
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    about = [r for r in records if r.get("namespace") == ns]
    assert about, "no log record names the namespace as a field"
    assert any("deploy-web-http" in r["message"] for r in about)


async def test_the_bearer_token_never_appears_in_the_logs(
    leader: Running, control_plane: ControlPlane, admin: AsyncClient, tmp_path: Path
) -> None:
    """The controller authenticates with the kubeconfig's bearer token (DEBUG logs), and
    the console passes people's tokens through; neither is ever written to a log."""
    token = control_plane.tokens["admin"]
    ns = await kube.create_namespace(admin, kube.unique("tokens"), managed=True)

    async def baseline() -> bool:
        return set(naming.BASELINE_POLICY_NAMES) <= await kube.policy_names(admin, ns)

    await kube.eventually(baseline)

    bob = control_plane.tokens["bob"]
    log = tmp_path / "console.log"
    with console_process(control_plane.kubeconfig, log) as url:

        async def serving() -> bool:
            response = await _get(f"{url}/api/v1/session")
            return response is not None and response.status_code == 200

        await kube.eventually(serving, timeout=30, interval=0.2)
        async with httpx.AsyncClient(base_url=url, timeout=10) as web:
            for person in (token, bob, "not-a-token-" + bob[:8]):
                signed = await web.post("/api/v1/session", json={"token": person})
                if signed.status_code != 200:
                    continue
                csrf = signed.json()["csrf_token"]
                assert (await web.get("/api/v1/namespaces")).status_code in (200, 403)
                await web.post(
                    f"/api/v1/namespaces/{ns}/disable",
                    json={"restore": False},
                    headers={"X-CSRF-Token": csrf},
                )
                await kube.set_namespace_label(admin, ns, "true")
                await web.delete("/api/v1/session", headers={"X-CSRF-Token": csrf})
            # A token in a place it does not belong is refused without being echoed.
            await web.get("/api/v1/namespaces", headers={"Authorization": f"Bearer {bob}"})

    console = log.read_text()
    assert console.strip(), "the console logged nothing at DEBUG"
    controller = leader.log.read_text()
    for text in (console, controller):
        assert token not in text
        assert bob not in text
        assert bob[:16] not in text


# --- health as the API server goes away and comes back ----------------------------------


@pytest.fixture
def own_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane only this test uses: it is stopped and started in the middle. The
    API server alone: the controller needs no controller-manager or scheduler."""
    directory = tmp_path_factory.mktemp("ops-cp")
    try:
        yield start(directory, components=())
    finally:
        stop(directory)


async def test_health_endpoints_flip_as_the_api_server_goes_away_and_comes_back(
    own_control_plane: ControlPlane, tmp_path: Path
) -> None:
    cp = own_control_plane
    client = connecting.client_for(cp.kubeconfig)
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=NETFENCE_NS)))
    finally:
        await client.close()

    with controller_process(cp.kubeconfig, tmp_path / "controller.log") as running:
        await kube.eventually(lambda: _leading(running), timeout=30, interval=0.2)
        ready = await _readiness(running)
        assert ready is not None
        assert ready["checks"] == {"caches": "synced", "apiserver": "ok"}

        stop(cp.dir)

        async def unready() -> dict[str, Any] | None:
            found = await _readiness(running)
            return found if found and found["status"] == 503 else None

        down = await kube.eventually(unready, timeout=30, interval=0.2)
        assert down is not None
        assert down["ready"] is False
        assert down["checks"]["apiserver"].startswith("no answer: ")
        assert down["checks"]["caches"] == "synced"  # what it holds stays served
        # Alive all the while: kubelet must not restart it for the API server's outage.
        alive = await _get(f"{running.url}/healthz")
        assert alive is not None and alive.status_code == 200
        # It stops leading once its Lease could have lapsed (4 s here).
        not_leading = await kube.eventually(lambda: _not_leading(running), timeout=20, interval=0.2)
        assert not_leading is not None
        assert not_leading["leader"] is False

        start(cp.dir, components=())
        up = await kube.eventually(lambda: _leading(running), timeout=90, interval=0.2)
        assert up


async def _not_leading(running: Running) -> dict[str, Any] | None:
    found = await _readiness(running)
    return found if found and not found["leader"] else None


async def test_a_taken_metrics_address_fails_at_once_and_says_which(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    with controller_process(control_plane.kubeconfig, tmp_path / "first.log") as first:

        async def answering() -> bool:
            return await _get(f"{first.url}/healthz") is not None

        await kube.eventually(answering, timeout=30, interval=0.2)
        address = first.url.removeprefix("http://")
        taken = await asyncio.to_thread(
            subprocess.run,
            [
                *NETFENCE,
                "--kubeconfig",
                str(control_plane.kubeconfig),
                "controller",
                "--metrics-bind-address",
                address,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert taken.returncode == 1
    assert f"cannot listen on {address} (address in use)" in " ".join(taken.stderr.split())
    assert "--metrics-bind-address" in taken.stderr
