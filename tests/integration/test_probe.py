"""`netfence probe` on the local cluster: real connections beside the prediction.

A dataplane runs for this module (its own node and pod CIDR); the command runs as a user
would run it, with the control plane's kubeconfig, and finds the dataplane through the
control plane's directory. Agreements, a constructed disagreement (a named port only a
sidecar declares, which kube-network-policies v0.8.0 ignores: see
test_wire.test_a_named_port_declared_by_a_sidecar_opens_nothing_on_this_enforcer), the
exit codes, and where probing is not available. `pytest -s` prints the figures
(docs/benchmarks.md, "Probe").
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Namespace
from playwright.async_api import Page, expect

from netfence.composition import local_prober, web_app
from netfence.localcluster import ControlPlane, dataplane, enforcer
from netfence.localcluster.dataplane import Dataplane
from netfence.web.settings import AuthMode, WebSettings
from tests.integration import browser, kube, wire
from tests.integration.api_client import BASE_URL, Api, Coverage, ok, problem
from tests.integration.netfence_fixtures import NETFENCE_NS
from tests.integration.test_console import (  # noqa: F401 - fixtures used by name
    chromium,
    console,
    page,
    sign_in,
)
from tests.integration.test_node_agent import (
    create_namespace,
    delete_pods_now,
    start_dataplane,
    wait_running,
)
from tests.integration.wire import Probe, Wire

pytestmark = pytest.mark.timeout(600 if enforcer.needs_build() else 240)

NODE = "netfence-probe-test"
POD_CIDR = "10.248.0.0/16"
NETFENCE = [sys.executable, "-m", "netfence"]
TCP, UDP = "TCP", "UDP"


def netfence(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("KUBECONFIG", None)
    env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [*NETFENCE, *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="module")
def node(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dataplane]:
    directory = tmp_path_factory.mktemp("dataplane-probe")
    plane = start_dataplane(control_plane, directory, NODE, POD_CIDR)
    try:
        yield plane
    finally:
        dataplane.stop(directory)


class Place:
    def __init__(self, admin: AsyncClient, node: Dataplane) -> None:
        self.admin, self.wire, self.namespaces = admin, Wire(node), list[str]()

    async def namespace(self, prefix: str) -> str:
        name = await create_namespace(self.admin, prefix)
        self.namespaces.append(name)
        return name

    async def pods(self, namespace: str, pods: list[Any]) -> list[str]:
        for made in pods:
            await self.admin.create(made)
        names = [p.metadata.name for p in pods]
        self.wire.add(namespace, await wait_running(self.admin, namespace, names))
        return [f"{namespace}/{n}" for n in names]


@pytest.fixture(scope="module")
async def place(admin: AsyncClient, node: Dataplane) -> AsyncIterator[Place]:
    made = Place(admin, node)
    try:
        yield made
    finally:
        await wire.drain()
        await delete_pods_now(admin, made.namespaces)
        for namespace in made.namespaces:
            await admin.delete(Namespace, namespace)


def policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def test_probe_agrees_with_the_prediction_and_says_so_quietly(
    admin: AsyncClient, place: Place, control_plane: ControlPlane
) -> None:
    shop = await place.namespace("probe-shop")
    other = await place.namespace("probe-other")
    web, db = await place.pods(
        shop,
        [
            wire.pod(shop, "web", NODE, {"app": "web"}, ((TCP, 8080, "http"),)),
            wire.pod(shop, "db", NODE, {"app": "db"}, ((TCP, 5432, None), (UDP, 5353, None))),
        ],
    )
    [client] = await place.pods(other, [wire.pod(other, "client", NODE, {"app": "client"}, ())])
    await kube.create(
        admin,
        policy(
            shop,
            "db-from-web",
            {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}],
            },
        ),
    )
    await place.wire.settle({Probe(client, db, 5432): False, Probe(web, db, 5432): True})

    result = netfence(
        control_plane.kubeconfig, "probe", "-n", shop, "-n", other, "-o", "json",
        "--fail-on-disagreement", "--timeout", "500ms",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["summary"]["disagree"] == 0
    # 3 sources x (web 8080 + db 5432 + db 5353/UDP); the client declares no port.
    assert report["summary"]["probed"] == 9
    seen = {(r["source"], r["destination"], r["port"], r["protocol"]): r for r in report["results"]}
    assert seen[(web, db, 5432, TCP)]["observed"] == "connected"
    assert seen[(web, db, 5432, TCP)]["answer"] == db
    assert seen[(web, db, 5353, UDP)]["observed"] == "connected"  # UDP judged by an answer
    assert seen[(client, db, 5432, TCP)]["observed"] == "dropped"
    assert seen[(client, db, 5432, TCP)]["predicted"] == "denied"
    assert seen[(db, db, 5432, TCP)]["observed"] == "connected"  # a pod reaches itself
    assert all(r["agrees"] for r in report["results"])
    assert "explanation" not in seen[(client, db, 5432, TCP)]

    table = netfence(control_plane.kubeconfig, "probe", "-n", shop, "-n", other)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("Probed 9 connections between 3 pods in 2 namespaces in ")
    assert (
        lines[1]
        == "✓ 9 agree with the prediction: 7 connected, 0 refused (allowed, nothing listening), 2 dropped."
    )
    assert "disagree:" not in table.stdout
    assert "!✓" not in table.stdout and "!✗" not in table.stdout


async def test_probe_shows_a_disagreement_loudly_with_the_explanation(
    admin: AsyncClient, place: Place, control_plane: ControlPlane
) -> None:
    ns = await place.namespace("probe-sidecar")
    made = wire.pod(
        ns, "app", NODE, {"app": "app"}, ((TCP, 8080, "http"),), sidecar=((TCP, 9100, "metrics"),)
    )
    app, client = await place.pods(ns, [made, wire.pod(ns, "client", NODE, {"app": "c"}, ())])
    spec = {
        "podSelector": {"matchLabels": {"app": "app"}},
        "ingress": [{"ports": [{"port": "metrics"}]}],
    }
    await kube.create(admin, policy(ns, "scrape", spec))
    await place.wire.settle({Probe(client, app, 8080): False})

    result = netfence(
        control_plane.kubeconfig, "probe", "-n", ns, "-o", "json", "--fail-on-disagreement"
    )
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    [wrong] = [r for r in report["results"] if not r["agrees"]]
    assert (wrong["source"], wrong["destination"], wrong["port"]) == (client, app, 9100)
    assert (wrong["predicted"], wrong["observed"]) == ("allowed", "dropped")
    assert wrong["attempts"] == 3  # looked at again: a lost packet is not a disagreement
    assert any("named port metrics/TCP (= 9100" in r for r in wrong["explanation"]["reasons"])

    table = netfence(control_plane.kubeconfig, "probe", "-n", ns)
    assert table.returncode == 0  # disagreements fail only when asked to
    assert "✗ 1 disagree:" in table.stdout
    assert (
        f"  {client} → {app} ({place.wire.ips[app]}) on 9100/TCP: predicted allowed, "
        "observed dropped, 3 tries"
    ) in table.stdout
    assert "    why the evaluator predicted allowed:" in table.stdout
    assert f"      allowed by {ns}/scrape ingress[0]: any source" in table.stdout
    assert "!✗" in table.stdout


def test_probing_another_cluster_says_it_is_not_available(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "kubeconfig"  # the same server, not the local cluster's own file
    shutil.copy(control_plane.kubeconfig, elsewhere)
    result = netfence(elsewhere, "probe", "-A")
    assert result.returncode == 1
    assert "probing is not available on this cluster" in result.stderr
    assert "docs/probe.md" in result.stderr


def test_probe_refuses_bad_options_before_probing(control_plane: ControlPlane) -> None:
    result = netfence(control_plane.kubeconfig, "probe", "-A", "--timeout", "soon")
    assert result.returncode == 2
    assert "--timeout 'soon' is not a duration" in result.stderr


# --- figures ------------------------------------------------------------------------------


async def test_figures_of_probing_a_demo_sized_cluster(
    admin: AsyncClient, place: Place, control_plane: ControlPlane
) -> None:
    """The demo's shape: 3 namespaces, 11 controllers with one pod each and one port,
    plus the cluster DNS; its legacy and baseline-like policies, so some connections are
    dropped (each costs the timeout)."""
    spaces = {
        name: await place.namespace(f"demo-{name}") for name in ("shop", "payments", "monitoring")
    }
    layout = {
        "shop": [("frontend", 8080), ("api", 8080), ("db", 5432), ("report", 9000)],
        "payments": [("api", 8080), ("ledger", 5432)],
        "monitoring": [("prometheus", 9090), ("node-exporter", 9100)],
    }
    keys = []
    for name, pods in layout.items():
        ns = spaces[name]
        made = [
            wire.pod(ns, f"{app}-a", NODE, {"app": app}, ((TCP, port, "main"),))
            for app, port in pods
        ]
        keys += await place.pods(ns, made)
    shop, payments = spaces["shop"], spaces["payments"]
    await kube.create(
        admin, policy(shop, "deny-all-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]})
    )
    await kube.create(
        admin,
        policy(
            shop,
            "allow-namespace",
            {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
        ),
    )
    await kube.create(
        admin,
        policy(
            payments,
            "allow-web-to-api",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}],
                        "ports": [{"port": 8080}],
                    }
                ],
            },
        ),
    )
    await wire.assert_agrees(admin, place.wire, keys)  # the enforcer has seen it all

    args = [arg for ns in spaces.values() for arg in ("-n", ns)]
    figures = []
    for timeout in ("1s", "250ms"):
        began = time.monotonic()
        result = netfence(
            control_plane.kubeconfig, "probe", *args, "-o", "json", "--timeout", timeout
        )
        wall = time.monotonic() - began
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)["summary"]
        assert summary["disagree"] == 0
        assert 0 < summary["dropped"] < summary["probed"]
        figures.append(
            f"timeout {timeout}: {summary['probed']} connections ({summary['connected']} "
            f"connected, {summary['dropped']} dropped) in {wall:.2f}s wall time for the "
            f"command, {summary['connectionsPerSecond']:.0f} connections/s while probing"
        )
    print("\ndemo-sized probe (" + f"{len(keys)} pods): " + "; ".join(figures))  # noqa: T201


async def test_figures_of_probe_throughput_when_everything_answers(
    admin: AsyncClient, place: Place, control_plane: ControlPlane
) -> None:
    """40 pods without policies, one port each: 1,600 connections, every one answered, so
    the rate is the cost of a probe, not the timeout of a dropped one."""
    ns = await place.namespace("probe-bulk")
    made = [
        wire.pod(ns, f"p{i:02d}", NODE, {"app": "bulk"}, ((TCP, 8080, None),)) for i in range(40)
    ]
    await place.pods(ns, made)
    figures = []
    for parallel in ("16", "64", "256"):
        began = time.monotonic()
        result = netfence(
            control_plane.kubeconfig, "probe", "-n", ns, "-o", "json", "--parallel", parallel
        )
        wall = time.monotonic() - began
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)["summary"]
        assert summary["connected"] == summary["probed"] == 1600
        figures.append(
            f"{parallel} at once: {summary['connectionsPerSecond']:.0f} connections/s, "
            f"{wall:.2f}s wall time for the command"
        )
    print("\nprobe throughput, 40 pods, 1,600 connections: " + "; ".join(figures))  # noqa: T201


# --- the API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    return Coverage()


@contextlib.asynccontextmanager
async def _api(
    control_plane: ControlPlane,
    coverage: Coverage,
    *,
    prober: bool,
    auth: AuthMode = AuthMode.LOCAL,
) -> AsyncIterator[Api]:
    """The API in process, with the local cluster's prober or without."""
    settings = WebSettings(auth=auth, netfence_namespace=NETFENCE_NS)
    found = local_prober(control_plane.kubeconfig) if prober else None
    assert (found is not None) is prober
    app = web_app(KubeConfig.from_file(control_plane.kubeconfig), settings, prober=found)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=coverage.wrap(app)), base_url=BASE_URL, timeout=120
        ) as http,
    ):
        yield Api(app, http)


async def test_the_api_probes_a_namespace_one_pod_per_controller(
    admin: AsyncClient, place: Place, control_plane: ControlPlane, coverage: Coverage
) -> None:
    ns = await place.namespace("probe-api")
    for name, port in (("web", 8080), ("db", 5432)):
        made = kube.deployment(ns, name)
        made["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": port}]
        await kube.create(admin, made)
    web, db = await place.pods(
        ns,
        [
            wire.pod(ns, "web-a", NODE, {"app": "web"}, ((TCP, 8080, None),)),
            wire.pod(ns, "db-a", NODE, {"app": "db"}, ((TCP, 5432, None),)),
        ],
    )
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "policyTypes": ["Ingress"]}
    await kube.create(admin, policy(ns, "web-closed", spec))
    await place.wire.settle({Probe(db, web, 8080): False})
    async with _api(control_plane, coverage, prober=True) as api:
        assert ok(await api.get("/api/v1/probing")) == {"available": True, "reason": None}
        problem(await api.post(f"/api/v1/namespaces/{ns}/probe", csrf=False), 403, says="CSRF")
        problem(
            await api.post("/api/v1/namespaces/no-such-ns-probe/probe"), 404, says="does not exist"
        )
        run = ok(await api.post(f"/api/v1/namespaces/{ns}/probe"))
    assert run["scope"] == {"namespaces": [ns], "workloads": True, "port": None}
    assert run["summary"]["probed"] == 2 and run["summary"]["disagree"] == 0
    cells = {(r["sourceUnit"], r["destinationUnit"], r["observed"]) for r in run["results"]}
    assert cells == {
        (f"{ns}/Deployment/db", f"{ns}/Deployment/web", "dropped"),
        (f"{ns}/Deployment/web", f"{ns}/Deployment/db", "connected"),
    }


async def test_the_api_says_where_probing_is_not_available(
    place: Place, control_plane: ControlPlane, coverage: Coverage
) -> None:
    ns = await place.namespace("probe-api-none")
    async with _api(control_plane, coverage, prober=False) as api:
        answer = ok(await api.get("/api/v1/probing"))
        assert answer["available"] is False
        assert answer["reason"].startswith("probing is not available on this cluster")
        problem(await api.post(f"/api/v1/namespaces/{ns}/probe"), 409, says="docs/probe.md")
    async with _api(control_plane, coverage, prober=False, auth=AuthMode.TOKEN) as api:
        problem(await api.get("/api/v1/probing"), 401, says="Sign in")


async def test_every_probing_operation_was_seen_succeeding_and_failing(coverage: Coverage) -> None:
    documented = {("GET", "/api/v1/probing"), ("POST", "/api/v1/namespaces/{namespace}/probe")}
    seen = coverage.seen(documented)
    if not seen:
        pytest.skip("only meaningful when the API tests of this module ran")
    gaps = coverage.missing(documented)
    assert not any(gaps.values()), gaps


# --- the console ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_console(control_plane: ControlPlane) -> Iterator[str]:
    """`netfence serve --auth local` on the control plane's own kubeconfig: the one place
    the console can probe (its prober is the local cluster's node agent)."""
    log = control_plane.dir / "console-probe-test-server.log"
    with browser.serve(
        control_plane.kubeconfig, log, "--auth", "local", "--no-controller"
    ) as served:
        yield served.url


async def test_the_console_probes_and_marks_the_cell_the_wire_disagrees_on(
    admin: AsyncClient,
    place: Place,
    local_console: str,
    page: Page,  # noqa: F811 - the fixture imported above
) -> None:
    ns = await place.namespace("probe-console")
    main = {
        "name": "main",
        "image": "example.org/app:1.0",
        "ports": [{"containerPort": 8080, "name": "http"}],
    }
    for name in ("app", "client"):
        manifest = kube.deployment(ns, name)
        manifest["spec"]["replicas"] = 0  # the test makes the pod itself, bound to its node
        manifest["spec"]["selector"] = {"matchLabels": {"app": name}}
        manifest["spec"]["template"]["metadata"]["labels"] = {"app": name}
        manifest["spec"]["template"]["spec"]["containers"] = [main]
        if name == "app":
            manifest["spec"]["template"]["spec"]["initContainers"] = [
                {
                    "name": "sidecar",
                    "image": "example.org/sidecar:1.0",
                    "restartPolicy": "Always",
                    "ports": [{"containerPort": 9100, "name": "metrics"}],
                }
            ]
        await kube.create(admin, manifest)
    app, client = await place.pods(
        ns,
        [
            wire.pod(
                ns,
                "app-a",
                NODE,
                {"app": "app"},
                ((TCP, 8080, "http"),),
                sidecar=((TCP, 9100, "metrics"),),
            ),
            wire.pod(ns, "client-a", NODE, {"app": "client"}, ((TCP, 8080, "http"),)),
        ],
    )
    spec = {
        "podSelector": {"matchLabels": {"app": "app"}},
        "ingress": [{"ports": [{"port": "metrics"}]}],
    }
    await kube.create(admin, policy(ns, "scrape", spec))
    await place.wire.settle({Probe(client, app, 8080): False})

    await page.goto(f"{local_console}/#/namespaces/{ns}/connectivity")
    await expect(page.get_by_role("heading", name="Connectivity", exact=True)).to_be_visible()
    await page.get_by_role("button", name="Probe").click()
    status = page.get_by_role("note").filter(has_text="Probed at")
    await expect(status).to_contain_text("The wire disagrees", timeout=30_000)
    await expect(status).to_contain_text("1 not")
    matrix = page.get_by_role("table", name="Connectivity matrix")
    wrong = matrix.get_by_role(
        "button", name=re.compile(r"Deployment client → Deployment app: .* probe disagrees")
    )
    await expect(wrong).to_have_count(1)
    # app -> client agrees; a controller with itself (two of its pods) is not probed.
    await expect(matrix.get_by_role("button", name=re.compile(r"probe agrees"))).to_have_count(1)
    await browser.screenshot(page, "40-connectivity-probe")

    await wrong.click()
    port = page.get_by_role("region", name="Port 9100/TCP (metrics)")
    await expect(port).to_contain_text("Observed dropped")
    await expect(port).to_contain_text("the prediction was allowed.")
    await expect(port).to_contain_text("Allowed on 9100/TCP")  # the explanation, one click away
    await expect(page.get_by_role("region", name="Port 8080/TCP (http)")).to_contain_text(
        "as predicted."
    )
    await browser.screenshot(page, "41-connectivity-probe-why")

    # The results stay for the page (with their time) while the matrix refreshes.
    await page.wait_for_timeout(10_500)
    await expect(status).to_contain_text("Probed at")
    await expect(wrong).to_have_count(1)


async def test_the_console_offers_no_probe_where_it_cannot_probe(
    console: str,  # noqa: F811 - token mode: probes would not act with the caller's token
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("no-probe"))
    await sign_in(page, console, control_plane.tokens["admin"], "admin")
    await page.goto(f"{console}/#/namespaces/{ns}/connectivity")
    await expect(page.get_by_role("heading", name="Connectivity", exact=True)).to_be_visible()
    await expect(page.get_by_role("button", name="Namespace view")).to_have_count(0)  # a link
    await expect(page.get_by_role("link", name="Namespace view")).to_be_visible()
    await expect(page.get_by_role("button", name="Probe")).to_have_count(0)
    await admin.delete(Namespace, ns)
