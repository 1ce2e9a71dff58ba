"""The console's Disable dialog and the API docs, in a real browser.

Same setting as test_console.py (whose server, browser and sign-in fixtures this module
uses): `netfence serve --auth token` on the local control plane, Debian's chromium, the
admin signing in with a real token. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from lightkube import AsyncClient
from playwright.async_api import Page, Request, expect

from netfence.core import naming
from netfence.localcluster import ControlPlane
from tests.integration import browser, helm, kube
from tests.integration.test_console import (  # noqa: F401 - fixtures used by name
    chromium,
    console,
    page,
    sign_in,
    toast,
)
from tests.integration.test_console_connectivity import quiet, workload

pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 180)


def same_namespace_only(namespace: str, name: str) -> dict[str, Any]:
    """A policy someone wrote before netfence: web accepts only its own namespace."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app": "web"}},
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    }


async def _adopted(admin: AsyncClient, ns: str) -> None:
    async def defaults_only() -> bool:
        return await kube.policy_names(admin, ns) == set(naming.BASELINE_POLICY_NAMES)

    await kube.eventually(defaults_only)


async def test_disable_previews_its_effect_with_and_without_restoring_the_backup(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("optout"))
    await kube.create(admin, workload(ns, "web", 80))
    await kube.create(admin, same_namespace_only(ns, "legacy-web"))
    other = await kube.create_namespace(admin, kube.unique("client"))
    await kube.create(admin, workload(other, "client", 9000))
    await kube.set_namespace_label(admin, ns, "true")
    await _adopted(admin, ns)
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    await page.goto(f"{console}/#/namespaces/{ns}")
    await page.get_by_role("button", name=f"Disable {ns}").click()
    dialog = page.get_by_role("dialog", name=f"Disable netfence in {ns}")
    await expect(dialog).to_contain_text("Nothing changes until you confirm.")
    # There is a backup, so restoring it is offered, named, and chosen by default.
    restore = dialog.get_by_label("Restore the backup")
    await expect(restore).to_be_checked()
    await expect(dialog).to_contain_text("put back the 1 policy netfence replaced: legacy-web")
    await expect(dialog).to_contain_text("Delete 2 policies netfence made")
    await expect(dialog).to_contain_text(naming.DENY_ALL_INGRESS)
    await expect(dialog).to_contain_text("Restore 1 policy from the backup")
    await dialog.get_by_role("button", name="legacy-web", exact=True).click()
    await expect(dialog.get_by_text("app: web")).to_be_visible()
    # With legacy-web back, web still accepts only its own namespace: nothing opens up.
    effect = dialog.locator(".impact")
    await expect(effect.first).to_be_visible()
    await expect(dialog.get_by_role("region", name="Newly allowed")).to_have_count(0)
    await quiet(page)
    await browser.screenshot(page, "30-disable-restore-preview", full_page=False)

    # Without the backup, every namespace may reach web on its port: said before it is done.
    await restore.uncheck()
    allowed = dialog.get_by_role("region", name="Newly allowed")
    await expect(allowed).to_contain_text("Newly allowed:")
    await expect(allowed).to_contain_text("web")
    await expect(allowed).to_contain_text("on 80/TCP")
    # (From every namespace of a shared test cluster: the list names the first few.)
    await expect(allowed).to_contain_text(re.compile(r"from \d+ sources?"))
    await expect(dialog).not_to_contain_text("Restore 1 policy from the backup")
    await expect(dialog).to_contain_text("No NetworkPolicy would be left")
    await allowed.scroll_into_view_if_needed()
    await browser.screenshot(page, "31-disable-no-restore-preview", full_page=False)

    # Restore it after all, and confirm: the old policy is back, netfence's are gone.
    await restore.check()
    await expect(dialog.get_by_role("region", name="Newly allowed")).to_have_count(0)
    await expect(dialog).to_contain_text("Restore 1 policy from the backup")
    await dialog.get_by_role("button", name=f"Disable {ns}").click()
    await expect(toast(page, f"Disabled {ns} and restored 1 policies.")).to_be_visible()

    async def restored() -> bool:
        return await kube.policy_names(admin, ns) == {"legacy-web"}

    await kube.eventually(restored, timeout=20)


async def test_restore_is_not_offered_when_the_backup_holds_nothing(
    console: str,  # noqa: F811 - the fixture imported above
    control_plane: ControlPlane,
    admin: AsyncClient,
    page: Page,  # noqa: F811
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("fresh"), managed=True)
    await kube.create(admin, workload(ns, "web", 80))
    await _adopted(admin, ns)
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    await page.goto(f"{console}/#/namespaces/{ns}")
    await page.get_by_role("button", name=f"Disable {ns}").click()
    dialog = page.get_by_role("dialog", name=f"Disable netfence in {ns}")
    await expect(dialog).to_contain_text("The backup is empty")
    await expect(dialog).to_contain_text("Delete 2 policies netfence made")
    await expect(dialog.get_by_label("Restore the backup")).to_have_count(0)
    await expect(dialog.get_by_role("region", name="Newly allowed")).to_contain_text("on 80/TCP")
    await quiet(page)
    await browser.screenshot(page, "32-disable-empty-backup", full_page=False)
    await dialog.get_by_role("button", name=f"Disable {ns}").click()
    await expect(toast(page, f"Namespace {ns} is being disabled")).to_be_visible()

    async def released() -> bool:
        return not await kube.policy_names(admin, ns)

    await kube.eventually(released, timeout=20)


async def test_the_api_docs_render_from_the_package_under_the_console_policy(
    console: str,  # noqa: F811 - the fixture imported above
    page: Page,  # noqa: F811
) -> None:
    """Swagger UI comes from the netfence server itself: no request leaves it, and the
    page fixture fails on any Content-Security-Policy violation or script error."""
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    page.on("request", record)
    await page.goto(f"{console}/api/docs")
    await expect(page.get_by_role("heading", name="netfence")).to_be_visible()
    namespaces = page.locator(".opblock-summary-path", has_text="/api/v1/namespaces").first
    await expect(namespaces).to_be_visible()
    await expect(page.get_by_text("disable-preview").first).to_be_attached()
    await browser.screenshot(page, "33-api-docs")
    assert requested
    assert all(url.startswith(console) for url in requested), [
        u for u in requested if not u.startswith(console)
    ]
    # The document itself is at the URL the page names.
    assert any(url.endswith("/api/openapi.json") for url in requested)
