"""The connectivity graph in a real browser: drawn by Cytoscape.js served from the package.

Same setting as test_console.py (whose server, browser and sign-in fixtures this module
uses): `netfence serve --auth token` on the local control plane, Debian's chromium, the
admin signing in with a real token; the page fixture fails a test on any script error or
Content-Security-Policy violation in the browser's console. The graph is a canvas, so a
test clicks where the graph says an edge or a node is drawn (as a person would aim) and
reads what the page then says. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from lightkube import AsyncClient
from playwright.async_api import Page, expect

from netfence.core import naming
from netfence.localcluster import ControlPlane
from tests.integration import browser, helm, kube
from tests.integration.test_console import (  # noqa: F401 - fixtures used by name
    chromium,
    console,
    page,
    sign_in,
)
from tests.integration.test_console_connectivity import quiet, workload

pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 300 if helm.needs_build() else 300)

SECONDS = 1000


async def _with_policies(admin: AsyncClient, ns: str, names: set[str]) -> None:
    async def present() -> bool:
        return names <= await kube.policy_names(admin, ns)

    await kube.eventually(present)


async def _laid_out(shown: Page) -> int:
    """Waits for the layout to finish; its time in milliseconds, as the page measured it."""
    canvas = shown.get_by_role("img", name="Connectivity graph")
    await expect(canvas).to_have_attribute("data-layout-ms", re.compile(r"^\d+$"))
    return int(await canvas.get_attribute("data-layout-ms") or "0")


async def _drawn(shown: Page, element: str) -> dict[str, Any] | None:
    """Where the graph draws a node (by id) or an edge, in page coordinates, with what a
    person sees of it (its classes, border style and opacity); None when not drawn."""
    result: dict[str, Any] | None = await shown.locator(".graph-canvas").evaluate(
        """(el, id) => {
            const at = el.netfenceGraph.at(id);
            if (!at) return null;
            return at;
        }""",
        element,
    )
    return result


async def _click_drawn(shown: Page, element: str) -> None:
    await shown.locator(".graph-canvas").scroll_into_view_if_needed()
    at = await _drawn(shown, element)
    assert at is not None, f"{element} is not drawn"
    await shown.mouse.click(at["x"], at["y"])


def _edge(source: str, destination: str, *, allowed: bool = True, but: str = "") -> str:
    """The id the graph gives an edge (see connectivity-graph.js)."""
    return f"{'allow' if allowed else 'deny'}|{source}|{destination}" + (
        f"|but:{but}" if but else ""
    )


async def _into(shown: Page, node: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await shown.locator(".graph-canvas").evaluate(
        "(el, id) => el.netfenceGraph.edgesInto(id)", node
    )
    return found


async def _style(shown: Page, element: str, prop: str) -> str:
    value: str = await shown.locator(".graph-canvas").evaluate(
        "(el, [id, prop]) => el.netfenceGraph.style(id, prop)", [element, prop]
    )
    return value


async def test_admin_explores_the_graph_and_clicks_an_edge_and_a_node_for_why(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("gshop"), managed=True)
    tools = await kube.create_namespace(admin, kube.unique("gtools"))
    # api may only look names up (dns isolates its egress); web takes port 80 from every
    # namespace (http); db takes 5432 from its own namespace only (the baseline).
    await kube.create(admin, workload(ns, "api", 8080, "dns"))
    await kube.create(admin, workload(ns, "db", 5432, kind="StatefulSet"))
    await kube.create(admin, workload(ns, "web", 80, "http"))
    await kube.create(admin, workload(tools, "client", 9000))
    await _with_policies(
        admin, ns, {*naming.BASELINE_POLICY_NAMES, "deploy-api-dns", "deploy-web-http"}
    )
    api, db, web = f"{ns}/Deployment/api", f"{ns}/StatefulSet/db", f"{ns}/Deployment/web"
    client = f"{tools}/Deployment/client"
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    # The Graph tab of the connectivity page, which the URL then names.
    await page.goto(f"{console}/#/namespaces/{ns}/connectivity")
    await expect(page.get_by_role("table", name="Connectivity matrix")).to_be_visible()
    await page.get_by_role("tab", name="Graph").click()
    await expect(page.get_by_role("tab", name="Graph")).to_have_attribute("aria-selected", "true")
    assert page.url.endswith(f"/#/namespaces/{ns}/connectivity/graph")
    layout_ms = await _laid_out(page)
    status = page.locator(".graph-status")
    await expect(status).to_contain_text(f"3 workloads in namespace {ns}")
    await expect(status).to_contain_text(f"laid out in {layout_ms} ms")
    legend = page.get_by_role("list", name="Graph legend")
    for words in ("Allowed, with its ports", "Isolated for ingress", "Isolated for egress"):
        await expect(legend).to_contain_text(words)
    # db and web may reach api on 8080 (the baseline: every workload of the namespace
    # but api, whose egress dns isolates); (nearly) everyone may reach web on 80 (its
    # template); api reaches nobody.
    listed = page.get_by_role("list", name="Connections drawn")
    await page.get_by_text("The graph as a list").click()
    into_api = f"every workload of {ns} but Deployment api → Deployment api: allowed on 8080/TCP"
    await expect(listed).to_contain_text(into_api)
    await expect(listed).to_contain_text("Deployment web: allowed on 80/TCP")
    await expect(listed).not_to_contain_text("denied")
    assert await _drawn(page, _edge(f"{ns}/*", api, but=api)) is not None
    assert await _drawn(page, f"{ns}/*") is not None, "the namespace's group is drawn"
    # The isolated are marked: api (ingress and egress) with a thick double border, db
    # (ingress only) with a thick solid one.
    assert await _style(page, api, "border-style") == "double"
    assert await _style(page, db, "border-style") == "solid"
    assert float((await _style(page, db, "border-width")).rstrip("px")) >= 3
    await quiet(page)
    await browser.screenshot(page, "40-connectivity-graph")

    # Click the edge into api on the canvas: why, as for a matrix cell, for one of them.
    await _click_drawn(page, _edge(f"{ns}/*", api, but=api))
    why = page.locator(".graph-why")
    await expect(why).to_contain_text(
        f"Every workload of {ns} but Deployment api may connect on 8080/TCP."
    )
    await expect(why).to_contain_text("Why, for example for")
    port = why.get_by_role("region", name="Port 8080/TCP (main)")
    await expect(port).to_contain_text("Allowed on 8080/TCP")
    await expect(port.get_by_role("region", name="Ingress to Deployment api")).to_contain_text(
        naming.ALLOW_NAMESPACE_COMMUNICATION
    )
    await browser.screenshot(page, "41-connectivity-graph-edge-why", full_page=False)

    # Denied connections on demand: into db, from everyone but db and web (its namespace,
    # but api, whose own egress policy refuses it).
    await page.get_by_label("Show denied connections").check()
    await expect(listed).to_contain_text("→ StatefulSet db: denied on 5432/TCP")
    await _laid_out(page)
    (denied_db,) = [e for e in await _into(page, db) if not e["allowed"]]
    assert "Deployment/api" not in denied_db["id"], "api is among the sources, not excepted"
    await _click_drawn(page, denied_db["id"])
    await expect(why.get_by_role("region", name="Port 5432/TCP (main)")).to_contain_text(
        "Denied on 5432/TCP"
    )
    await quiet(page)
    await browser.screenshot(page, "42-connectivity-graph-denied")

    # Click the node api: what isolates it and what it connects to, itself included.
    await _click_drawn(page, api)
    card = page.locator(".graph-why")
    await expect(card).to_contain_text("isolated for ingress and egress")
    isolation = card.get_by_role("region", name="Isolation")
    await expect(isolation).to_contain_text("Egress: isolated by deploy-api-dns")
    await expect(isolation).to_contain_text(naming.DENY_ALL_INGRESS)
    into = card.get_by_role("region", name="Connections into it")
    await expect(into).to_contain_text(into_api)
    out = card.get_by_role("region", name="Connections from it")
    to_db = out.get_by_role("button", name="Deployment api → StatefulSet db: denied on 5432/TCP")
    await expect(to_db).to_contain_text("(as one of every workload but")
    # ... and that one explains itself for api: refused by its own egress policy.
    await to_db.click()
    await expect(why).to_contain_text(f"Why, for {api}")
    port = why.get_by_role("region", name="Port 5432/TCP (main)")
    await expect(port).to_contain_text(
        "Denied on 5432/TCP: egress from the source does not allow it."
    )
    egress = port.get_by_role("region", name="Egress from Deployment api")
    await expect(egress).to_contain_text("deploy-api-dns")
    await expect(egress).to_contain_text("does not match")
    await page.get_by_label("Show denied connections").uncheck()

    # The port filter draws one port's edges and the workloads that use it: not api,
    # which neither declares 80 nor may reach anything on it.
    await page.get_by_label("Port", exact=True).select_option("80/TCP")
    # (db is drawn too where it may reach a workload elsewhere that a policy opens to it.)
    await expect(status).to_contain_text(re.compile(r"[12] workloads? without that port not drawn"))
    await expect(listed).not_to_contain_text("8080/TCP")
    await expect(listed).to_contain_text("Deployment web: allowed on 80/TCP")
    await _laid_out(page)
    assert await _drawn(page, _edge(f"{ns}/*", api, but=api)) is None
    assert await _drawn(page, api) is None
    assert await _drawn(page, web) is not None
    await page.get_by_label("Port", exact=True).select_option("")

    # The namespace filter: tools as well, with client's edges from there.
    await page.get_by_label("Add a namespace").select_option(tools)
    namespaces = page.get_by_role("group", name="Namespaces shown")
    await expect(
        namespaces.get_by_role("button", name=f"Stop showing namespace {tools}")
    ).to_be_visible()
    await expect(status).to_contain_text("4 workloads in 2 namespaces")
    await _laid_out(page)
    await _click_drawn(page, client)
    await expect(card).to_contain_text("not isolated")
    await expect(card.get_by_role("region", name="Isolation")).to_contain_text(
        "Ingress: not isolated"
    )
    await namespaces.get_by_role("button", name=f"Stop showing namespace {tools}").click()
    await expect(status).to_contain_text(f"3 workloads in namespace {ns}")

    # A reload keeps the tab the URL names.
    await page.reload()
    await expect(page.get_by_role("tab", name="Graph")).to_have_attribute("aria-selected", "true")
    await _laid_out(page)
    await page.get_by_role("tab", name="Matrix").click()
    assert page.url.endswith(f"/#/namespaces/{ns}/connectivity")
    await expect(page.get_by_role("table", name="Connectivity matrix")).to_be_visible()


async def test_the_graph_says_so_when_its_library_is_missing(
    console: str,  # noqa: F811
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("gbare"))
    await kube.create(admin, workload(ns, "api", 8080))
    # As if the package had been built without scripts/vendor-js.
    await page.route("**/static/vendor/cytoscape.min.js", lambda route: route.fulfill(status=404))
    await sign_in(page, console, control_plane.tokens["admin"], "admin")
    await page.goto(f"{console}/#/namespaces/{ns}/connectivity/graph")
    problem = page.get_by_role("alert").filter(has_text="The graph cannot be drawn")
    await expect(problem).to_contain_text("The graph library is missing from this installation")
    await expect(problem).to_contain_text("/static/vendor/cytoscape.min.js did not load")
    await expect(problem).to_contain_text("scripts/vendor-js")
    await expect(page.get_by_role("img", name="Connectivity graph")).to_be_hidden()


NAMESPACES = 10
PER_NAMESPACE = 20


async def test_a_graph_of_200_workloads_is_laid_out_readably(
    console: str,  # noqa: F811
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    """Ten namespaces of 20 controllers: six managed (their own namespace only, plus
    port 80 from everyone on a few), four not; prints the layout time (docs/benchmarks.md)."""
    prefix = kube.unique("g200")
    names = []
    for i in range(NAMESPACES):
        ns = await kube.create_namespace(admin, f"{prefix}-{i}", managed=i < 6)
        names.append(ns)
        for j in range(PER_NAMESPACE):
            templates = ("http",) if j % 7 == 0 else ()
            port = 80 if j % 7 == 0 else 8000 + j
            await kube.create(admin, workload(ns, f"w{j:02d}", port, *templates))
    for ns in names[:6]:
        await _with_policies(admin, ns, {*naming.BASELINE_POLICY_NAMES, "deploy-w00-http"})
    await sign_in(page, console, control_plane.tokens["admin"], "admin")
    await page.set_viewport_size({"width": 1600, "height": 1000})
    await page.goto(f"{console}/#/namespaces/{names[0]}/connectivity/graph")
    await _laid_out(page)
    for ns in names[1:]:
        await page.get_by_label("Add a namespace").select_option(ns)
        shown = page.get_by_role("group", name="Namespaces shown")
        await expect(
            shown.get_by_role("button", name=f"Stop showing namespace {ns}")
        ).to_be_visible()
    status = page.locator(".graph-status")
    await expect(status).to_contain_text("200 workloads in 10 namespaces", timeout=30 * SECONDS)
    started = time.monotonic()
    allowed_ms = await _laid_out(page)
    edges = await page.locator(".graph-canvas").evaluate("el => el.netfenceGraph.counts()")
    await quiet(page)
    await browser.screenshot(page, "43-connectivity-graph-200")
    await page.get_by_label("Show denied connections").check()
    await expect(status).to_contain_text("denied", timeout=30 * SECONDS)
    denied_ms = await _laid_out(page)
    denied_edges = await page.locator(".graph-canvas").evaluate("el => el.netfenceGraph.counts()")
    await browser.screenshot(page, "44-connectivity-graph-200-denied")
    print(  # noqa: T201 - the figures of this run, for docs/benchmarks.md
        f"\ngraph of 200 workloads in 10 namespaces: {edges['nodes']} nodes, {edges['edges']} "
        f"edges, layout {allowed_ms} ms; with denied: {denied_edges['edges']} edges, "
        f"layout {denied_ms} ms (page waited {time.monotonic() - started:.1f} s in all)"
    )
    # Every workload is drawn, each inside its namespace.
    assert edges["shown"] == NAMESPACES * PER_NAMESPACE
    assert edges["outside"] == 0
