"""One console for two real clusters: the session's control plane (`dev`) and a second one
this module starts (`prod`, a control plane only) and stops at the end, both contexts of one
kubeconfig, as `netfence demo` serves them. The API names the cluster in the path, token
mode serves one cluster, and in chromium the header's picker switches between them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import Namespace
from playwright.async_api import Browser, Page, async_playwright, expect

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ControlPlane, cluster, running
from tests.integration import browser, kube
from tests.integration.netfence_fixtures import NETFENCE_NS

pytestmark = pytest.mark.timeout(180)

SECONDS = 1000  # Playwright counts in milliseconds
expect.set_options(timeout=10 * SECONDS)


@dataclass(frozen=True)
class Clusters:
    kubeconfig: Path  # contexts dev (current) and prod
    dev: ControlPlane
    prod: ControlPlane
    dev_namespace: str
    prod_namespace: str


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    directory = tmp_path_factory.mktemp("prod")
    try:
        yield running.start(directory, components=(running.CONTROLLER_MANAGER,))
    finally:
        running.stop(directory)


@pytest.fixture(scope="module")
async def clusters(
    control_plane: ControlPlane,
    admin: AsyncClient,
    prod: ControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Clusters]:
    kubeconfig = cluster.write_clusters_kubeconfig(
        tmp_path_factory.mktemp("clusters"), {"dev": control_plane, "prod": prod}
    )
    prod_admin = connecting.client_for(prod.kubeconfig)
    await kube.create_namespace(prod_admin, NETFENCE_NS)
    dev_ns = await kube.create_namespace(admin, kube.unique("clu-dev"))
    prod_ns = await kube.create_namespace(prod_admin, kube.unique("clu-prod"))
    try:
        yield Clusters(kubeconfig, control_plane, prod, dev_ns, prod_ns)
    finally:
        await admin.delete(Namespace, dev_ns)
        await prod_admin.close()


@pytest.fixture(scope="module")
def console(clusters: Clusters) -> Iterator[str]:
    """`netfence serve` (local mode, no controller) for both contexts."""
    log = clusters.kubeconfig.parent / "serve.log"
    with browser.serve(clusters.kubeconfig, log, "--no-controller") as served:
        yield served.url


def _names(body: dict[str, Any]) -> set[str]:
    return {row["name"] for row in body["namespaces"]}


# --- the API --------------------------------------------------------------------------------


def test_the_clusters_are_listed_with_their_servers_and_users(
    console: str, clusters: Clusters
) -> None:
    body = httpx.get(f"{console}/api/v1/clusters").json()
    assert body["default"] == "dev"
    assert [(c["name"], c["server"], c["user"], c["default"]) for c in body["items"]] == [
        ("dev", clusters.dev.server, "admin@dev", True),
        ("prod", clusters.prod.server, "admin@prod", False),
    ]


def test_each_path_reads_the_cluster_it_names(console: str, clusters: Clusters) -> None:
    dev = httpx.get(f"{console}/api/v1/clusters/dev/namespaces").json()
    prod = httpx.get(f"{console}/api/v1/clusters/prod/namespaces").json()
    bare = httpx.get(f"{console}/api/v1/namespaces").json()
    assert clusters.dev_namespace in _names(dev) and clusters.dev_namespace not in _names(prod)
    assert clusters.prod_namespace in _names(prod) and clusters.prod_namespace not in _names(dev)
    assert _names(bare) == _names(dev)
    one = httpx.get(f"{console}/api/v1/clusters/prod/namespaces/{clusters.dev_namespace}")
    assert one.status_code == 404


def test_an_unknown_cluster_is_refused_naming_the_known_ones(console: str) -> None:
    response = httpx.get(f"{console}/api/v1/clusters/staging/namespaces")
    assert response.status_code == 404
    assert response.json()["message"] == (
        "This console serves no cluster 'staging'. Its clusters: dev, prod (GET /api/v1/clusters)."
    )


async def test_a_change_through_a_cluster_path_lands_on_that_cluster_only(
    console: str, clusters: Clusters, admin: AsyncClient
) -> None:
    """Enabling the prod namespace through /clusters/prod writes prod's label; the
    namespace of the same name on dev (made here) is untouched."""
    twin = await kube.create_namespace(admin, clusters.prod_namespace)
    prod_admin = connecting.client_for(clusters.prod.kubeconfig)
    try:
        async with httpx.AsyncClient(base_url=console) as http:
            session = (await http.get("/api/v1/clusters/prod/session")).json()
            assert (session["cluster"], session["user"]) == ("prod", "admin")
            response = await http.post(
                f"/api/v1/clusters/prod/namespaces/{clusters.prod_namespace}/enable",
                headers={"X-CSRF-Token": session["csrf_token"]},
            )
        assert response.status_code == 202, response.text
        on_prod = await prod_admin.get(Namespace, clusters.prod_namespace)
        on_dev = await admin.get(Namespace, twin)
        assert on_prod.metadata is not None and on_dev.metadata is not None
        assert (on_prod.metadata.labels or {}).get(naming.MANAGED_NAMESPACE_LABEL) == "true"
        assert naming.MANAGED_NAMESPACE_LABEL not in (on_dev.metadata.labels or {})
    finally:
        await admin.delete(Namespace, twin)
        await kube.set_namespace_label(prod_admin, clusters.prod_namespace, None)
        await prod_admin.close()


async def test_serve_with_a_context_runs_the_controller_for_that_cluster(
    clusters: Clusters,
) -> None:
    """`--context prod` serves prod only, and its controller works on prod: a namespace
    enabled there gets netfence's baseline (the controller used to take the current
    context whatever --context said)."""
    prod_admin = connecting.client_for(clusters.prod.kubeconfig)
    ns = await kube.create_namespace(prod_admin, kube.unique("clu-ctl"), managed=True)
    log = clusters.kubeconfig.parent / "context-serve.log"
    try:
        with browser.serve(clusters.kubeconfig, log, "--context", "prod") as served:
            async with httpx.AsyncClient(base_url=served.url) as http:
                listed = (await http.get("/api/v1/clusters")).json()
            assert [c["name"] for c in listed["items"]] == ["prod"]

            async def baseline() -> bool:
                names = await kube.policy_names(prod_admin, ns)
                return set(naming.BASELINE_POLICY_NAMES) <= names

            await kube.eventually(baseline, timeout=30, interval=0.25)
        assert "Serving the cluster of context prod; the controller runs for prod only." in (
            log.read_text()
        )
    finally:
        await kube.set_namespace_label(prod_admin, ns, None)
        await prod_admin.delete(Namespace, ns)
        await prod_admin.close()


# --- token mode: one server per cluster --------------------------------------------------


def test_token_mode_refuses_several_clusters_naming_the_flag_and_the_fix(
    clusters: Clusters,
) -> None:
    refused = subprocess.run(
        [
            *(sys.executable, "-m", "netfence", "--kubeconfig", str(clusters.kubeconfig)),
            *("serve", "--auth", "token", "--contexts", "dev,prod", "--port", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 1, refused.stdout + refused.stderr
    said = " ".join((refused.stdout + refused.stderr).split())
    assert "--auth token serves one cluster" in said, said
    assert "run one server per cluster, each with --context NAME" in said, said


def test_token_mode_serves_the_named_context_only(clusters: Clusters) -> None:
    log = clusters.kubeconfig.parent / "token-serve.log"
    # --context is the global option; kubectl's convention lets it follow the command.
    extra = ("--context", "prod", "--auth", "token", "--no-controller")
    with (
        browser.serve(clusters.kubeconfig, log, *extra) as served,
        httpx.Client(base_url=served.url) as http,
    ):
        listed = http.get("/api/v1/clusters").json()
        # Before sign-in: the names only, not where the API server is.
        assert [(c["name"], c["server"]) for c in listed["items"]] == [("prod", "")]
        # dev's admin token is no token of this cluster; prod's signs in.
        assert _sign_in(http, clusters.dev.admin_token) == 401
        assert _sign_in(http, clusters.prod.admin_token) == 200
        listed = http.get("/api/v1/clusters").json()
        assert [(c["name"], c["server"]) for c in listed["items"]] == [
            ("prod", clusters.prod.server)
        ]


def _sign_in(http: httpx.Client, token: str) -> int:
    return http.post("/api/v1/session", json={"token": token}).status_code


# --- the picker in a real browser ----------------------------------------------------------


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await browser.launch(playwright)
        yield launched
        await launched.close()


@pytest.fixture
async def page(chromium: Browser) -> AsyncIterator[Page]:
    context = await chromium.new_context(viewport=browser.VIEWPORT)
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def on_console(message: Any) -> None:
        # Switching asks the other cluster whether the page exists there: a 404 is logged.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    opened.on("console", on_console)
    yield opened
    await context.close()
    assert not problems, "\n".join(problems)


async def test_the_picker_switches_cluster_and_the_url_keeps_it(
    page: Page, console: str, clusters: Clusters
) -> None:
    # A URL of before there were clusters lands on the default cluster.
    await page.goto(f"{console}/#/namespaces")
    await expect(page).to_have_url(f"{console}/#/clusters/dev/namespaces")
    banner = page.get_by_role("banner")
    picker = banner.get_by_label("Cluster")
    await expect(picker).to_have_value("dev")
    await expect(picker.locator("option")).to_have_text(["dev (default)", "prod"])
    await expect(banner).to_contain_text("admin")  # the user, from whoami on that cluster
    main = page.get_by_role("main")
    # dev is the session's cluster, with every other module's namespaces: the view shows
    # the first 200, and the server filters by name.
    await main.get_by_label("Filter namespaces").fill(clusters.dev_namespace)
    await expect(main.get_by_role("link", name=clusters.dev_namespace)).to_be_visible()
    await expect(main.get_by_role("link", name=clusters.prod_namespace)).to_have_count(0)
    await browser.screenshot(page, "clusters-01-dev")

    await picker.select_option("prod")
    await expect(page).to_have_url(f"{console}/#/clusters/prod/namespaces")
    await expect(main.get_by_role("link", name=clusters.prod_namespace)).to_be_visible()
    await expect(main.get_by_role("link", name=clusters.dev_namespace)).to_have_count(0)
    await expect(picker).to_have_value("prod")
    await expect(banner).to_contain_text("admin")
    # In-app links stay on the cluster shown.
    await main.get_by_role("link", name=clusters.prod_namespace).click()
    here = f"{console}/#/clusters/prod/namespaces/{clusters.prod_namespace}"
    await expect(page).to_have_url(here)
    await expect(main.get_by_role("heading", name=clusters.prod_namespace)).to_be_visible()
    await browser.screenshot(page, "clusters-02-prod-namespace")

    # Reloading the URL lands on the same cluster and page.
    await page.reload()
    await expect(picker).to_have_value("prod")
    await expect(main.get_by_role("heading", name=clusters.prod_namespace)).to_be_visible()

    # Back to dev: that namespace does not exist there, so its namespace list shows.
    await picker.select_option("dev")
    await expect(page).to_have_url(f"{console}/#/clusters/dev/namespaces")
    await main.get_by_label("Filter namespaces").fill(clusters.dev_namespace)
    await expect(main.get_by_role("link", name=clusters.dev_namespace)).to_be_visible()
    # The templates page exists on every cluster: switching keeps it.
    await page.get_by_role("link", name="Manage Policies").click()
    await expect(page).to_have_url(f"{console}/#/clusters/dev/templates")
    await picker.select_option("prod")
    await expect(page).to_have_url(f"{console}/#/clusters/prod/templates")


async def test_a_url_naming_an_unknown_cluster_lists_the_known_ones(
    page: Page, console: str
) -> None:
    await page.goto(f"{console}/#/clusters/staging/namespaces")
    main = page.get_by_role("main")
    await expect(
        main.get_by_role("heading", name="There is no cluster staging here")
    ).to_be_visible()
    await main.get_by_role("link", name="prod").click()
    await expect(page).to_have_url(f"{console}/#/clusters/prod/namespaces")
