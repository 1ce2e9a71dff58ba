"""The console's connectivity parts in a real browser: the matrix, why, and impact previews.

Same setting as test_console.py (whose server, browser and sign-in fixtures this module
uses): `netfence serve --auth token` on the local control plane, Debian's chromium, and
the admin signing in with a real token. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import AsyncClient
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType
from playwright.async_api import Page, expect

from netfence.core import naming
from netfence.localcluster import ControlPlane
from tests.integration import browser, helm, kube
from tests.integration.netfence_fixtures import NETFENCE_NS
from tests.integration.test_console import (  # noqa: F401 - fixtures used by name
    chromium,
    console,
    page,
    row,
    sign_in,
    toast,
)

pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 180)


def workload(ns: str, name: str, port: int, *templates: str, kind: str = "Deployment") -> Any:
    manifest = kube.deployment(ns, name, kind=kind, templates=templates)
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": port, "name": "main"}]
    return manifest


async def quiet(shown: Page) -> None:
    """Dismiss the notices in the corner, so that a screenshot shows what is under them."""
    await shown.locator(".toast-x").evaluate_all("buttons => buttons.forEach((b) => b.click())")
    await expect(shown.locator(".toast")).to_have_count(0)


async def _with_policies(admin: AsyncClient, ns: str, names: set[str]) -> None:
    async def present() -> bool:
        return names <= await kube.policy_names(admin, ns)

    await kube.eventually(present)


async def test_admin_reads_why_a_connection_is_denied(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("shop"), managed=True)
    # api may only look names up (the dns template isolates its egress); db takes 5432.
    await kube.create(admin, workload(ns, "api", 8080, "dns"))
    await kube.create(admin, workload(ns, "db", 5432, kind="StatefulSet"))
    await _with_policies(admin, ns, {*naming.BASELINE_POLICY_NAMES, "deploy-api-dns"})
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    # The namespace view warns about what no policy can fix: nothing enforces them here.
    await page.goto(f"{console}/#/namespaces/{ns}")
    warnings = page.get_by_role("region", name="Warnings")
    await expect(warnings).to_contain_text("No network plugin enforces NetworkPolicy")
    await expect(warnings).to_contain_text("Fix: Install one")
    await quiet(page)
    await browser.screenshot(page, "19-namespace-findings")

    # The connectivity page: a matrix of the namespace's controllers.
    await page.get_by_role("link", name="Connectivity").click()
    await expect(page.get_by_role("heading", name="Connectivity", exact=True)).to_be_visible()
    matrix = page.get_by_role("table", name="Connectivity matrix")
    denied = matrix.get_by_role(
        "button", name="Deployment api → StatefulSet db: denied on 5432/TCP"
    )
    allowed = matrix.get_by_role(
        "button", name="StatefulSet db → Deployment api: allowed on 8080/TCP"
    )
    await expect(denied).to_have_text("✗")
    await expect(allowed).to_have_text("✓")
    # Other namespaces are kept out by deny-all-ingress.
    await expect(
        matrix.get_by_role("button", name="Other namespaces → StatefulSet db: 0 of")
    ).to_have_text("✗")
    await expect(page.get_by_role("list", name="Legend")).to_contain_text("Denied")
    await quiet(page)
    await browser.screenshot(page, "20-connectivity-matrix")

    # Click the denied cell: why, in words.
    await denied.click()
    why = page.locator(".why-card")
    port = why.get_by_role("region", name="Port 5432/TCP (main)")
    await expect(port).to_contain_text(
        "Denied on 5432/TCP: egress from the source does not allow it."
    )
    egress = port.get_by_role("region", name="Egress from Deployment api")
    await expect(egress).to_contain_text("denied")
    await expect(egress).to_contain_text("deploy-api-dns")
    await expect(egress).to_contain_text("is isolated by")
    await expect(egress).to_contain_text("does not match")
    ingress = port.get_by_role("region", name="Ingress to StatefulSet db")
    await expect(ingress).to_contain_text("allowed")
    await expect(ingress).to_contain_text(naming.ALLOW_NAMESPACE_COMMUNICATION)
    await page.evaluate("window.scrollTo(0, 0)")
    await quiet(page)
    await browser.screenshot(page, "21-connectivity-why", full_page=False)

    # The other way round is allowed, and says by which rule.
    await allowed.click()
    port = why.get_by_role("region", name="Port 8080/TCP (main)")
    await expect(port).to_contain_text("Allowed on 8080/TCP")
    await expect(port.get_by_role("region", name="Egress from StatefulSet db")).to_contain_text(
        "not restricted"
    )


async def test_admin_sees_what_enabling_attaching_and_removing_would_change(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("optin"))
    await kube.create(admin, workload(ns, "web", 80))
    other = await kube.create_namespace(admin, kube.unique("client"))
    await kube.create(admin, workload(other, "client", 9000))
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    # Enabling lists the connections that would be newly denied: everyone else's to web.
    await page.get_by_label("Filter namespaces").fill(ns)
    await row(page, ns).get_by_role("button", name=f"Enable {ns}").click()
    dialog = page.get_by_role("dialog", name=f"Enable netfence in {ns}")
    denied = dialog.get_by_role("region", name="Newly denied")
    await expect(denied).to_contain_text("Newly denied:")
    await expect(denied).to_contain_text("web")
    await expect(denied).to_contain_text("on 80/TCP")
    await expect(dialog.get_by_role("region", name="Newly allowed")).to_have_count(0)
    await denied.scroll_into_view_if_needed()
    await quiet(page)
    await browser.screenshot(page, "22-enable-impact", full_page=False)
    await dialog.get_by_role("button", name=f"Enable {ns}").click()
    await expect(toast(page, f"Namespace {ns} is being enabled")).to_be_visible()
    await _with_policies(admin, ns, set(naming.BASELINE_POLICY_NAMES))

    # Attaching http opens web's port 80 to every namespace again: newly allowed.
    await page.goto(f"{console}/#/namespaces/{ns}")
    await page.get_by_role("button", name="Add template to Deployment web").click()
    dialog = page.get_by_role("dialog", name="Attach a template to Deployment web")
    await dialog.get_by_text("http", exact=True).click()
    effect = dialog.get_by_role("region", name="Effect on connectivity")
    await expect(effect).to_contain_text("Creates NetworkPolicy deploy-web-http.")
    allowed = effect.get_by_role("region", name="Newly allowed")
    await expect(allowed).to_contain_text("Newly allowed:")
    await expect(allowed).to_contain_text("web")
    await expect(allowed).to_contain_text("on 80/TCP")
    await expect(effect.get_by_role("region", name="Newly denied")).to_have_count(0)
    await allowed.scroll_into_view_if_needed()
    await quiet(page)
    await browser.screenshot(page, "23-attach-impact", full_page=False)
    await dialog.get_by_role("button", name="Attach http", exact=True).click()
    await expect(toast(page, "Template http attached to Deployment/web")).to_be_visible()
    await _with_policies(admin, ns, {"deploy-web-http"})

    # Removing it shows the same connections, now as newly denied.
    await page.get_by_role(
        "button", name="Remove template http from Deployment web", exact=True
    ).click()
    dialog = page.get_by_role("dialog", name="Remove template http?")
    denied = dialog.get_by_role("region", name="Newly denied")
    await expect(denied).to_contain_text("on 80/TCP")
    await quiet(page)
    await browser.screenshot(page, "24-detach-impact", full_page=False)
    await dialog.get_by_role("button", name="Cancel").click()
    assert "deploy-web-http" in await kube.policy_names(admin, ns)


def _ingress_from_everywhere(port: int) -> str:
    return (
        f"description: Ingress on TCP {port} from every namespace.\n"
        "ingress:\n- from:\n  - namespaceSelector: {}\n  ports:\n  - protocol: TCP\n"
        f"    port: {port}\n"
    )


async def _set_template(admin: AsyncClient, name: str, text: str | None) -> None:
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {name: text}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )


async def test_admin_sees_what_updating_a_policy_to_its_template_would_change(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    template = kube.unique("open")
    policy = naming.attachment_policy_name("Deployment", "web", template)
    await _set_template(admin, template, _ingress_from_everywhere(8080))
    try:
        ns = await kube.create_namespace(admin, kube.unique("upd"), managed=True)
        await kube.create(admin, workload(ns, "web", 8080, template))
        await _with_policies(admin, ns, {policy})
        # The template moves to another port: updating would close 8080 to other namespaces.
        await _set_template(admin, template, _ingress_from_everywhere(9090))
        await sign_in(page, console, control_plane.tokens["admin"], "admin")
        await page.goto(f"{console}/#/namespaces/{ns}")
        policy_row = row(page.get_by_role("table", name="Network policies"), policy)
        await expect(policy_row).to_contain_text("template changed")
        await policy_row.get_by_role("button", name="Update to current template").click()
        dialog = page.get_by_role("dialog", name=f"Update {policy} to the current template")
        await expect(dialog.get_by_label("Changes")).to_contain_text("port: 9090")
        denied = dialog.get_by_role("region", name="Newly denied")
        await expect(denied).to_contain_text("web")
        await expect(denied).to_contain_text("on 8080/TCP")
        await denied.scroll_into_view_if_needed()
        await quiet(page)
        await browser.screenshot(page, "25-update-impact", full_page=False)
        await dialog.get_by_role("button", name="Cancel").click()
    finally:
        await _set_template(admin, template, None)
