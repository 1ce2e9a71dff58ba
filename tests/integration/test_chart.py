"""The Helm chart's operations half: its values schema, probes and metrics, and the console.

The chart is rendered with the pinned helm (tests/integration/helm.py). What it renders is
then run: the controller with the rendered arguments answers the rendered probes, and the
rendered console runs with a token of the rendered console ServiceAccount against the
local control plane, acting as each person who signs in and as nobody else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.kube import connecting
from netfence.localcluster import ControlPlane
from tests.integration import helm, kube
from tests.integration.browser import free_port
from tests.integration.netfence_fixtures import NETFENCE_NS
from tests.integration.test_rbac import _apply_all, _delete_all, _kubeconfig, _token_for

pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 180)

Manifest = dict[str, Any]
NETFENCE = [sys.executable, "-m", "netfence"]
CONSOLE_SA = "netfence-console"


def _one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _template_fails(*args: str) -> str:
    with pytest.raises(helm.HelmError) as failed:
        helm.run("template", "netfence", str(helm.CHART_DIR), *args)
    return str(failed.value)


# --- values.schema.json ---------------------------------------------------------------------


def test_a_wrong_type_fails_helm_template_and_helm_lint_naming_the_value() -> None:
    message = _template_fails("--set", "replicas=two")
    assert "/replicas" in message
    assert "got string, want integer" in message
    with pytest.raises(helm.HelmError, match="got string, want integer"):
        helm.run("lint", "--strict", str(helm.CHART_DIR), "--set", "replicas=two")


def test_a_misspelt_value_or_one_outside_its_choices_fails_too() -> None:
    assert "additional properties 'replica' not allowed" in _template_fails("--set", "replica=3")
    assert "/logFormat" in _template_fails("--set", "logFormat=yaml")
    assert "/metrics/port" in _template_fails("--set", "metrics.port=70000")
    assert "/console/ingress/hosts/0" in _template_fails("--set", "console.ingress.hosts[0].name=x")
    # Sound values pass, every option at once included.
    everything = {
        "logFormat": "json",
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "prometheusRule": {"enabled": True, "for": "10m"},
        },
        "console": {
            "enabled": True,
            "allowedHosts": ["netfence.example.com"],
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": [{"host": "netfence.example.com"}],
                "tls": [{"secretName": "netfence-tls", "hosts": ["netfence.example.com"]}],
            },
        },
    }
    assert "0 chart(s) failed" in helm.lint(values=everything)


# --- the controller: probes and metrics -----------------------------------------------------


def test_the_controller_serves_probes_and_metrics_on_named_ports() -> None:
    manifests = helm.render(namespace=NETFENCE_NS)
    container = _container(_one(manifests, "Deployment", "netfence-controller"))
    assert "--metrics-bind-address=:9090" in container["args"]
    assert "--health-probe-bind-address=:8081" in container["args"]
    assert "--log-format=text" in container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http-metrics": 9090, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}

    service = _one(manifests, "Service", "netfence-controller-metrics")
    assert service["spec"]["ports"] == [
        {"name": "http-metrics", "port": 9090, "targetPort": "http-metrics", "protocol": "TCP"}
    ]
    pod_labels = _one(manifests, "Deployment", "netfence-controller")["spec"]["template"][
        "metadata"
    ]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert not [m for m in manifests if m["kind"] == "ServiceMonitor"]

    monitored = helm.render(
        namespace=NETFENCE_NS,
        values={"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
    )
    monitor = _one(monitored, "ServiceMonitor", "netfence-controller")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        service["metadata"]["labels"].items()
    )
    assert not [m for m in monitored if m["kind"] == "PrometheusRule"]
    alerting = helm.render(
        namespace=NETFENCE_NS, values={"metrics": {"prometheusRule": {"enabled": True}}}
    )
    (group,) = _one(alerting, "PrometheusRule", "netfence-controller")["spec"]["groups"]
    alerts = {rule["alert"]: rule for rule in group["rules"]}
    assert set(alerts) == {
        "NetfenceNoLeader",
        "NetfenceManyLeaders",
        "NetfenceReconcilesFailing",
        "NetfenceBacklog",
    }
    # The job is the metrics Service's name, as the Prometheus Operator labels its targets.
    job = f'job="{service["metadata"]["name"]}"'
    assert all(job in rule["expr"] for rule in alerts.values())
    assert "or vector(0)" in alerts["NetfenceNoLeader"]["expr"]  # no target at all fires too
    assert "metrics.serviceMonitor.enabled needs metrics.service.enabled" in _template_fails(
        "--set", "metrics.serviceMonitor.enabled=true", "--set", "metrics.service.enabled=false"
    )


def _on_loopback(args: list[str], ports: dict[str, int]) -> list[str]:
    """The rendered arguments with every `:PORT` bind address moved to a free loopback port."""
    moved = []
    for arg in args:
        option, _, address = arg.partition("=")
        if option in ports and address.startswith(":"):
            arg = f"{option}=127.0.0.1:{ports[option]}"
        moved.append(arg)
    return moved


@contextlib.contextmanager
def _process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "POD_NAME": "chart"}
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _status(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            return (await client.get(url, headers=headers)).status_code
    except httpx.TransportError:
        return None


async def test_the_controller_run_with_the_rendered_arguments_answers_the_rendered_probes(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    container = _container(
        _one(helm.render(namespace=NETFENCE_NS), "Deployment", "netfence-controller")
    )
    metrics, health = free_port(), free_port()
    args = _on_loopback(
        container["args"],
        {"--metrics-bind-address": metrics, "--health-probe-bind-address": health},
    )
    command = [*NETFENCE, "--kubeconfig", str(control_plane.kubeconfig), *args]
    with _process(command, tmp_path / "controller.log") as process:
        for probe in ("livenessProbe", "readinessProbe"):
            path = container[probe]["httpGet"]["path"]

            async def answers(url: str = f"http://127.0.0.1:{health}{path}") -> bool:
                assert process.poll() is None, (tmp_path / "controller.log").read_text()
                return await _status(url) == 200

            await kube.eventually(answers, timeout=30, interval=0.2)
        assert await _status(f"http://127.0.0.1:{metrics}/metrics") == 200
        # Each listener serves only its own part.
        assert await _status(f"http://127.0.0.1:{metrics}/healthz") == 404
        assert await _status(f"http://127.0.0.1:{health}/metrics") == 404


# --- the console ------------------------------------------------------------------------------

CONSOLE_VALUES: dict[str, Any] = {"console": {"enabled": True}}


def test_the_console_is_optional_and_runs_serve_in_token_mode_unprivileged() -> None:
    assert not [
        m
        for m in helm.render(namespace=NETFENCE_NS)
        if m["metadata"]["name"].startswith(CONSOLE_SA)
    ]
    manifests = helm.render(namespace=NETFENCE_NS, values=CONSOLE_VALUES)
    deployment = _one(manifests, "Deployment", "netfence-console")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == CONSOLE_SA
    container = _container(deployment)
    assert [*container["command"], *container["args"][:3]] == [
        "netfence",
        "serve",
        "--auth=token",
        "--no-controller",
    ]
    assert "--secure-cookies" not in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    service = _one(manifests, "Service", "netfence-console")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    # Its own account is bound to the cache's read-only roles, and with watchCache off to
    # nothing at all: then it acts only with the people's tokens.
    _one(manifests, "ServiceAccount", CONSOLE_SA)
    assert {m["roleRef"]["name"] for m in _bound_to_console(manifests)} == {
        "netfence-console-cache"
    }
    for role in (m for m in manifests if m["metadata"]["name"] == "netfence-console-cache"):
        if role["kind"] in ("ClusterRole", "Role"):
            verbs = {v for rule in role["rules"] for v in rule["verbs"]}
            assert verbs == {"get", "list", "watch"}, role
            assert all("secrets" not in rule["resources"] for rule in role["rules"])
    uncached = helm.render(
        namespace=NETFENCE_NS, values={"console": {"enabled": True, "watchCache": False}}
    )
    assert _bound_to_console(uncached) == []
    assert (
        "--no-watch-cache" in _container(_one(uncached, "Deployment", "netfence-console"))["args"]
    )
    assert not [m for m in manifests if m["kind"] == "Ingress"]

    with_ingress = helm.render(
        namespace=NETFENCE_NS,
        values={
            "console": {
                "enabled": True,
                "allowedHosts": ["netfence.example.com"],
                "ingress": {
                    "enabled": True,
                    "className": "nginx",
                    "hosts": [{"host": "netfence.example.com"}],
                    "tls": [{"secretName": "netfence-tls", "hosts": ["netfence.example.com"]}],
                },
            }
        },
    )
    ingress = _one(with_ingress, "Ingress", "netfence-console")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "netfence.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "netfence-console", "port": {"name": "http"}}
    args = _container(_one(with_ingress, "Deployment", "netfence-console"))["args"]
    # TLS at the Ingress means Secure cookies; the kubelet's probes come as localhost.
    assert "--secure-cookies" in args
    assert "--allowed-host=netfence.example.com" in args
    assert "--allowed-host=localhost" in args


async def _allowed(client: AsyncClient, verb: str, resource: str, group: str, ns: str) -> bool:
    review = SelfSubjectAccessReview(
        spec=SelfSubjectAccessReviewSpec(
            resourceAttributes=ResourceAttributes(
                verb=verb, resource=resource, group=group, namespace=ns
            )
        )
    )
    answer = await client.create(review)
    return bool(answer.status and answer.status.allowed)


def _bound_to_console(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m
        for m in manifests
        if m["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s.get("name") == CONSOLE_SA for s in m.get("subjects", []))
    ]


@pytest.fixture
async def console_account(admin: AsyncClient) -> AsyncIterator[str]:
    """The rendered console ServiceAccount and its cache's read-only roles, applied; a
    token of it."""
    rendered = helm.render(namespace=NETFENCE_NS, values=CONSOLE_VALUES)
    account = [
        m
        for m in rendered
        if (m["kind"] == "ServiceAccount" and m["metadata"]["name"] == CONSOLE_SA)
        or m["metadata"]["name"] == "netfence-console-cache"
    ]
    await _apply_all(admin, account)
    try:
        yield await _token_for(admin, CONSOLE_SA, NETFENCE_NS)
    finally:
        await _delete_all(admin, account)


async def _list_status(client: AsyncClient, resource: Any, namespace: str | None = None) -> int:
    try:
        if namespace is None:
            [_ async for _ in client.list(resource)]
        else:
            [_ async for _ in client.list(resource, namespace=namespace)]
    except ApiError as e:
        return e.status.code or 0
    return 200


async def test_the_rendered_console_runs_with_its_own_account_and_acts_as_each_person(
    control_plane: ControlPlane, admin: AsyncClient, console_account: str, tmp_path: Path
) -> None:
    kubeconfig = _kubeconfig(control_plane, CONSOLE_SA, console_account, tmp_path / "console.yaml")
    # The account itself may read what the cache holds and nothing else, and write
    # nothing: every write the console makes is the caller's.
    own = connecting.client_for(kubeconfig)
    try:
        assert await _list_status(own, Namespace) == 200
        assert await _list_status(own, NetworkPolicy, namespace=NETFENCE_NS) == 200
        assert await _list_status(own, Secret, namespace=NETFENCE_NS) == 403
        assert await _list_status(own, ConfigMap, namespace="default") == 403
        for verb, resource, group in (
            ("create", "networkpolicies", "networking.k8s.io"),
            ("patch", "namespaces", ""),
            ("patch", "deployments", "apps"),
            ("update", "configmaps", ""),
        ):
            assert not await _allowed(own, verb, resource, group, NETFENCE_NS), (verb, resource)
    finally:
        await own.close()

    container = _container(
        _one(
            helm.render(namespace=NETFENCE_NS, values=CONSOLE_VALUES),
            "Deployment",
            "netfence-console",
        )
    )
    port = free_port()
    command = [
        *NETFENCE,
        "--kubeconfig",
        str(kubeconfig),
        *container["args"],
        # As the pod, but on loopback only: the last --host and --port win.
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    url = f"http://127.0.0.1:{port}"
    with _process(command, tmp_path / "console.log") as process:
        for probe in ("livenessProbe", "readinessProbe"):
            get = container[probe]["httpGet"]
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}

            async def answers(path: str = get["path"], headers: dict[str, str] = headers) -> bool:
                assert process.poll() is None, (tmp_path / "console.log").read_text()
                return await _status(f"{url}{path}", headers) == 200

            await kube.eventually(answers, timeout=30, interval=0.2)

        async def signed_in(token: str) -> tuple[int, Any]:
            async with httpx.AsyncClient(base_url=url, timeout=10) as web:
                session = await web.post("/api/v1/session", json={"token": token})
                assert session.status_code == 200, session.text
                listed = await web.get("/api/v1/namespaces")
                return listed.status_code, listed.json()

        # The admin sees the cluster through the console ...
        status, body = await signed_in(control_plane.tokens["admin"])
        assert status == 200
        assert NETFENCE_NS in {n["name"] for n in body["namespaces"]}
        # ... someone Kubernetes lets read no namespace is refused, as kubectl refuses them,
        status, body = await signed_in(control_plane.tokens["carol"])
        assert status == 403, body
        # ... and the console's own token, signed in like a person, sees what its
        # read-only role lists, and may change nothing.
        status, body = await signed_in(console_account)
        assert status == 200, body
        assert body["permissions"] == {"enable_namespaces": False}
        # Nobody signed in gets nothing at all.
        assert await _status(f"{url}/api/v1/namespaces") == 401
