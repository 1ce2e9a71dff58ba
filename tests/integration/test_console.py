"""The web console in a real browser, against `netfence serve` on the local control plane.

One `netfence serve --auth token` process (API, console and controller) serves the module;
people sign in with real bearer tokens of the control plane's static users: `admin` (the
cluster admin) and `bob`, a developer bound with the Helm chart's netfence-developer role in
one namespace only. Every assertion is about what a person sees: text on the page and
whether a control is enabled. Each step leaves a screenshot in test-output/screenshots/.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from lightkube import ApiError, AsyncClient, codecs
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ControlPlane, kubeconfig_for_user
from tests.integration import browser, helm, kube
from tests.integration.netfence_fixtures import NETFENCE_NS

# A first run may build helm (for the chart's roles); after that a test takes seconds.
pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 180)

FIELD_MANAGER = "netfence-console-test"
DEVELOPER = "bob"
SECONDS = 1000  # Playwright counts in milliseconds
# The console polls every 1.5 s, faster after an action; the controller acts in ~50 ms.
expect.set_options(timeout=10 * SECONDS)

HTTP_8080 = """\
description: Ingress on TCP 8080 from the <em>frontend</em> pods of the same namespace.
ingress:
- from:
  - {selector}:
      matchLabels:
        app: frontend
  ports:
  - protocol: TCP
    port: {port}
"""


# --- the server, the browser, the people ------------------------------------------------------


@pytest.fixture(scope="module")
async def console(control_plane: ControlPlane, admin: AsyncClient) -> AsyncIterator[str]:
    """`netfence serve --auth token` with its controller; yields the console's URL."""
    log = control_plane.dir / "console-test-server.log"
    with browser.serve(control_plane.kubeconfig, log, "--auth", "token") as served:
        # Only one controller works at a time: wait until this one leads.
        started = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        await kube.eventually(lambda: _leads_since(admin, started), timeout=30, interval=0.25)
        yield served.url


async def _leads_since(client: AsyncClient, since: datetime.datetime) -> bool:
    try:
        lease = await client.get(Lease, naming.LEADER_LEASE, namespace=NETFENCE_NS)
    except ApiError as e:
        if e.status.code == 404:
            return False
        raise
    spec = lease.spec
    return bool(spec and spec.holderIdentity and spec.renewTime and spec.renewTime > since)


@pytest.fixture(scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await browser.launch(playwright)
        yield launched
        await launched.close()


@pytest.fixture
async def page(chromium: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and page; fails the test on script errors."""
    context = await chromium.new_context(viewport=browser.VIEWPORT)
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def on_console(message: Any) -> None:
        # A refused request (403) is logged by the browser and is part of the story; a
        # Content-Security-Policy violation or a script error is a bug.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console error: {message.text}")

    opened.on("console", on_console)
    yield opened
    await context.close()
    assert not problems, "\n".join(problems)


async def sign_in(page: Page, url: str, token: str, user: str, *, shot: str | None = None) -> None:
    await page.goto(url)
    await expect(page.get_by_role("heading", name="Sign in to netfence")).to_be_visible()
    token_field = page.get_by_label("Kubernetes token")
    await expect(token_field).to_have_attribute("type", "password")
    await token_field.fill(token)
    if shot:
        await browser.screenshot(page, shot)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("banner")).to_contain_text(user)
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def toast(page: Page, text: str) -> Locator:
    """A notice the console shows after an action."""
    return page.get_by_role("status").get_by_text(text)


def row(where: Page | Locator, text: str) -> Locator:
    """The table row that mentions `text`."""
    return where.get_by_role("row").filter(has_text=text)


async def _ready_managed_namespace(admin: AsyncClient, prefix: str) -> str:
    ns = await kube.create_namespace(admin, kube.unique(prefix), managed=True)

    async def defaults() -> bool:
        return set(naming.BASELINE_POLICY_NAMES) <= await kube.policy_names(admin, ns)

    await kube.eventually(defaults)
    return ns


# --- the admin -------------------------------------------------------------------------------------


async def test_a_change_in_the_cluster_reaches_an_open_page_through_the_live_stream(
    console: str, control_plane: ControlPlane, admin: AsyncClient, page: Page
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("live"))
    await kube.create(admin, kube.deployment(ns, "web"))
    streams: list[str] = []
    page.on("request", lambda r: streams.append(r.url) if r.url.endswith("/stream") else None)
    await sign_in(page, console, control_plane.tokens["admin"], "admin")
    await page.goto(f"{console}/#/namespaces/{ns}")
    await expect(page.get_by_role("heading", name=ns)).to_be_visible()
    # One stream for the tab; while it is up the page reloads by itself only once a
    # minute, so what appears below within the expectation's 10 s came through it.
    await expect(page.locator("#topbar-live")).to_have_text("Live")
    await kube.create(admin, kube.deployment(ns, "pushed"))
    await expect(page.get_by_text("pushed", exact=True).first).to_be_visible()
    await kube.create(admin, kube.foreign_policy(ns, "pushed-policy"))
    policies = page.get_by_role("table", name="Network policies")
    await expect(row(policies, "pushed-policy")).to_be_visible()
    await browser.screenshot(page, "00-live-change")
    # One stream for the whole visit, through sign-in and two pages.
    assert len(streams) == 1, streams


async def test_admin_enables_a_namespace_holding_unmanaged_policies(
    console: str, control_plane: ControlPlane, admin: AsyncClient, page: Page
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("legacy"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy-a"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy-b"))
    await kube.create(admin, kube.deployment(ns, "web"))

    await sign_in(page, console, control_plane.tokens["admin"], "admin", shot="01-sign-in")

    # The cluster view: the namespace is not managed and holds two policies made elsewhere.
    await expect(page.get_by_role("heading", name="Network Policies")).to_be_visible()
    # The view shows the first 200 namespaces; the server filters by name as one types.
    await page.get_by_label("Filter namespaces").fill(ns)
    await expect(page.get_by_text("1 namespace shown of 1")).to_be_visible()
    ns_row = row(page, ns)
    await expect(ns_row).to_contain_text("Not managed")
    await expect(ns_row).to_contain_text("2 unmanaged policies")
    await browser.screenshot(page, "02-cluster-view")

    # Enable: the preview names what is backed up and deleted, and the two defaults.
    await ns_row.get_by_role("button", name=f"Enable {ns}").click()
    dialog = page.get_by_role("dialog", name=f"Enable netfence in {ns}")
    await expect(dialog).to_contain_text("Back up and delete 2 existing policies")
    await expect(dialog).to_contain_text("Create 2 policies")
    for name in ("legacy-a", "legacy-b", "deny-all-ingress", "allow-namespace-communication"):
        await expect(dialog.get_by_role("button", name=name, exact=True)).to_be_visible()
    await dialog.get_by_role("button", name="legacy-a", exact=True).click()
    await expect(dialog.get_by_text("cidr: 10.0.0.0/8")).to_be_visible()
    await browser.screenshot(page, "03-enable-preview", full_page=False)
    await dialog.get_by_role("button", name=f"Enable {ns}").click()

    # Said in words, then the controller's result shows without a reload.
    await expect(toast(page, f"Namespace {ns} is being enabled")).to_be_visible()
    await expect(dialog).to_be_hidden()
    await expect(ns_row.get_by_text("Managed", exact=True)).to_be_visible()
    await expect(ns_row).to_contain_text("2 by netfence")
    await expect(ns_row).to_contain_text("2 policies")  # the backup column
    await expect(ns_row).not_to_contain_text("unmanaged")
    await browser.screenshot(page, "04-cluster-view-enabled")

    # The namespace view: the two defaults, and the backup of what was there.
    await ns_row.get_by_role("link", name=ns).click()
    await expect(page.get_by_role("heading", name=ns)).to_be_visible()
    policies = page.get_by_role("table", name="Network policies")
    for name in naming.BASELINE_POLICY_NAMES:
        await expect(row(policies, name)).to_contain_text("netfence default")
    await expect(policies).not_to_contain_text("legacy-a")
    backup = page.get_by_role("region", name="Backup")
    await expect(backup).to_contain_text("legacy-a")
    await expect(backup).to_contain_text("legacy-b")
    await expect(page.get_by_role("region", name="Recent events")).to_contain_text(
        "PoliciesBackedUp"
    )
    # A default's YAML opens on click.
    await policies.get_by_role("button", name="deny-all-ingress").click()
    await expect(policies.get_by_text("netfence.io/role: baseline")).to_be_visible()
    await browser.screenshot(page, "05-namespace-enabled")


async def test_admin_fixes_a_template_attaches_it_and_updates_the_policy(
    console: str, control_plane: ControlPlane, admin: AsyncClient, page: Page
) -> None:
    ns = await _ready_managed_namespace(admin, "attach")
    await kube.create(admin, kube.deployment(ns, "web"))
    template = kube.unique("web")
    policy = naming.attachment_policy_name("Deployment", "web", template)
    await sign_in(page, console, control_plane.tokens["admin"], "admin")

    # A new template with a typo: the error names the field, next to its line.
    await page.get_by_role("link", name="Manage Policies").click()
    await page.get_by_role("button", name="New template").click()
    await expect(page.get_by_role("heading", name="New template")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill(template)
    editor = page.get_by_label("Template (YAML)")
    await editor.fill(HTTP_8080.format(selector="podSelecter", port=8080))
    problems = page.get_by_role("list", name="Problems")
    await expect(problems).to_contain_text("ingress[0].from[0].podSelecter")
    await expect(problems).to_contain_text("unknown field 'podSelecter'")
    await expect(problems).to_contain_text("did you mean 'podSelector'?")
    await expect(problems).to_contain_text("Line 4")
    await expect(page.get_by_text("1 problem to fix before saving")).to_be_visible()
    create = page.get_by_role("button", name="Create template")
    await expect(create).to_be_disabled()
    await browser.screenshot(page, "06-template-editor-error")

    # Fixed, it validates and saves.
    await editor.fill(HTTP_8080.format(selector="podSelector", port=8080))
    await expect(page.get_by_text("Valid template")).to_be_visible()
    await expect(problems).to_be_hidden()
    await expect(create).to_be_enabled()
    await create.click()
    await expect(toast(page, f"Template {template} created")).to_be_visible()
    template_row = row(page.get_by_role("table", name="Templates"), template)
    await expect(template_row).to_contain_text("Ingress")
    await expect(template_row).to_contain_text("not used")
    # Text from the cluster is shown as text, never interpreted as markup.
    await expect(template_row).to_contain_text("from the <em>frontend</em> pods")
    await browser.screenshot(page, "07-templates-list")

    # Attach it to the Deployment from the namespace view; the policy appears.
    await page.goto(f"{console}/#/namespaces/{ns}")
    await page.get_by_role("button", name="Add template to Deployment web").click()
    dialog = page.get_by_role("dialog", name="Attach a template to Deployment web")
    await dialog.get_by_placeholder("Filter templates").fill(template)
    await dialog.get_by_text(template, exact=True).click()
    await expect(dialog).to_contain_text("Ingress on TCP 8080 from the <em>frontend</em> pods")
    await browser.screenshot(page, "08-attach-dialog", full_page=False)
    await dialog.get_by_role("button", name=f"Attach {template}").click()
    await expect(toast(page, f"Template {template} attached to Deployment/web")).to_be_visible()
    controllers = page.get_by_role("table", name="Controllers")
    await expect(row(controllers, "web")).to_contain_text(template)
    policy_row = row(page.get_by_role("table", name="Network policies"), policy)
    await expect(policy_row).to_contain_text("up to date")
    await expect(policy_row).to_contain_text("Deployment web")
    await browser.screenshot(page, "09-namespace-attached")

    # The controller view shows the same attachment and the policies that select its pods.
    await controllers.get_by_role("link", name="Deployment web").click()
    await expect(page.get_by_role("heading", name="web")).to_be_visible()
    await expect(page.get_by_role("region", name="Attached templates")).to_contain_text(template)
    selecting = page.get_by_role("table", name="Network policies")
    for name in (policy, *naming.BASELINE_POLICY_NAMES):
        await expect(row(selecting, name)).to_be_visible()
    await browser.screenshot(page, "10-controller-view")

    # Editing the template leaves the policy as it is, and says so ...
    await page.goto(f"{console}/#/templates/{template}")
    await expect(
        page.get_by_text("Existing policies keep the version they were attached with")
    ).to_be_visible()
    await editor.fill(HTTP_8080.format(selector="podSelector", port=8081))
    await expect(page.get_by_text("Valid template")).to_be_visible()
    await browser.screenshot(page, "11-template-edit")
    await page.get_by_role("button", name="Save changes").click()
    await expect(toast(page, f"Template {template} saved")).to_be_visible()

    # ... until someone updates it, explicitly and after a preview.
    await page.goto(f"{console}/#/namespaces/{ns}")
    await expect(policy_row).to_contain_text("template changed")
    await policy_row.get_by_role("button", name="Update to current template").click()
    dialog = page.get_by_role("dialog", name=f"Update {policy} to the current template")
    await expect(dialog.get_by_label("Changes")).to_contain_text("port: 8081")
    await expect(dialog.get_by_label("Changes")).to_contain_text("port: 8080")
    await browser.screenshot(page, "12-update-preview", full_page=False)
    await dialog.get_by_role("button", name="Update policy").click()
    await expect(toast(page, f"Policy {policy} is being updated")).to_be_visible()
    await expect(policy_row).to_contain_text("up to date")


# --- the developer -----------------------------------------------------------------------------------


def _manifests_for_developer(team: str) -> list[dict[str, Any]]:
    """The chart's developer role and its two bindings for `bob` in `team`, as Helm renders them."""
    values = {
        "rbac": {
            "bindings": {
                "developers": [
                    {
                        "namespace": team,
                        "subjects": [
                            {
                                "kind": "User",
                                "name": DEVELOPER,
                                "apiGroup": "rbac.authorization.k8s.io",
                            }
                        ],
                    }
                ]
            }
        }
    }
    rendered = helm.render(release="netfence", namespace=NETFENCE_NS, values=values)
    return [
        m
        for m in rendered
        if m["kind"] in ("ClusterRole", "Role", "RoleBinding")
        and m["metadata"]["name"].startswith("netfence-developer")
    ]


def _viewer(namespace: str) -> list[dict[str, Any]]:
    """Read-only access to one namespace (the control plane runs no controller-manager, so
    the aggregated built-in `view` role has no rules; this is its relevant part)."""
    rules = [
        {"apiGroups": [""], "resources": ["namespaces", "events"], "verbs": ["get", "list"]},
        {
            "apiGroups": ["networking.k8s.io"],
            "resources": ["networkpolicies"],
            "verbs": ["get", "list"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments", "statefulsets", "daemonsets"],
            "verbs": ["get", "list"],
        },
        {"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["get", "list"]},
    ]
    meta = {"name": "console-test-viewer", "namespace": namespace}
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta,
            "rules": rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": meta["name"],
            },
            "subjects": [
                {"kind": "User", "name": DEVELOPER, "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    ]


async def _apply(client: AsyncClient, manifests: list[dict[str, Any]]) -> None:
    for manifest in manifests:
        await client.apply(
            cast(Any, codecs.from_dict(manifest)), field_manager=FIELD_MANAGER, force=True
        )


async def _may_patch_deployments(client: AsyncClient, namespace: str) -> bool:
    review = await client.create(
        SelfSubjectAccessReview(
            spec=SelfSubjectAccessReviewSpec(
                resourceAttributes=ResourceAttributes(
                    verb="patch", resource="deployments", group="apps", namespace=namespace
                )
            )
        )
    )
    return bool(review.status and review.status.allowed)


@pytest.fixture(scope="module")
async def teams(
    admin: AsyncClient, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str, str, AsyncClient]]:
    """(team-a: bob's, managed; team-b: bob may only look; team-c: none of bob's business;
    a client acting as bob)."""
    team_a = await _ready_managed_namespace(admin, "team-a")
    team_b = await _ready_managed_namespace(admin, "team-b")
    team_c = await kube.create_namespace(admin, kube.unique("team-c"))
    for ns in (team_a, team_b, team_c):
        await kube.create(admin, kube.deployment(ns, "api"))
    developer = _manifests_for_developer(team_a)
    viewer = _viewer(team_b)
    await _apply(admin, developer + viewer)
    path = kubeconfig_for_user(
        control_plane, DEVELOPER, tmp_path_factory.mktemp("bob") / "kubeconfig"
    )
    bob = connecting.client_for(path)
    try:
        await kube.eventually(lambda: _may_patch_deployments(bob, team_a))
        yield team_a, team_b, team_c, bob
    finally:
        await bob.close()
        # The roles stay (other modules apply and remove the chart's roles themselves);
        # the bindings made for bob go.
        made_for_bob = [m for m in developer if m["kind"] == "RoleBinding"] + viewer
        for manifest in made_for_bob:
            meta = manifest["metadata"]
            resource = RoleBinding if manifest["kind"] == "RoleBinding" else Role
            try:
                await admin.delete(resource, meta["name"], namespace=meta["namespace"])
            except ApiError as e:
                if e.status.code != 404:
                    raise


async def test_developer_attaches_in_their_namespace_and_is_refused_elsewhere(
    console: str,
    control_plane: ControlPlane,
    admin: AsyncClient,
    teams: tuple[str, str, str, AsyncClient],
    page: Page,
) -> None:
    team_a, team_b, team_c, bob = teams
    await sign_in(page, console, control_plane.tokens[DEVELOPER], DEVELOPER)

    # bob may not list namespaces, but the server's shared cache answers with exactly the
    # namespaces his RoleBindings let him read: team-a and team-b, not team-c.
    listed = page.get_by_role("table", name="Namespaces")
    await expect(row(listed, team_a)).to_be_visible()
    await expect(row(listed, team_b)).to_be_visible()
    await expect(listed.get_by_role("link", name=team_c)).to_have_count(0)
    await expect(page.get_by_text("2 namespaces shown of 2")).to_be_visible()
    await browser.screenshot(page, "13-developer-cluster-view")
    await listed.get_by_role("link", name=team_a, exact=True).click()

    # In team-a: no enabling (an admin's job), but templates can be attached.
    await expect(page.get_by_role("heading", name=team_a)).to_be_visible()
    await expect(page.get_by_role("button", name=f"Disable {team_a}")).to_be_disabled()
    add = page.get_by_role("button", name="Add template to Deployment api")
    await expect(add).to_be_enabled()
    await add.click()
    dialog = page.get_by_role("dialog", name="Attach a template to Deployment api")
    await dialog.get_by_text("http", exact=True).click()
    await dialog.get_by_role("button", name="Attach http", exact=True).click()
    await expect(toast(page, "Template http attached to Deployment/api")).to_be_visible()
    policy_row = row(page.get_by_role("table", name="Network policies"), "deploy-api-http")
    await expect(policy_row).to_contain_text("up to date")
    await expect(
        page.get_by_role("button", name="Remove template http from Deployment api", exact=True)
    ).to_be_enabled()
    await browser.screenshot(page, "14-developer-namespace")

    # Templates are readable, not editable.
    await page.get_by_role("link", name="Manage Policies").click()
    await expect(
        page.get_by_text("You may not edit templates; an admin can.").first
    ).to_be_visible()
    await expect(page.get_by_role("button", name="New template")).to_be_disabled()
    await expect(page.get_by_role("button", name="Delete http", exact=True)).to_have_count(0)
    await expect(page.get_by_role("button", name="View http", exact=True)).to_be_enabled()
    await browser.screenshot(page, "15-developer-templates")
    await page.get_by_role("button", name="View http", exact=True).click()
    await expect(page.get_by_label("Template (YAML)")).not_to_be_editable()
    await expect(page.get_by_role("button", name="Save changes")).to_have_count(0)

    # team-b: bob may look but not attach; the console says why and disables the controls.
    await page.goto(f"{console}/#/namespaces/{team_b}")
    await expect(page.get_by_role("heading", name=team_b)).to_be_visible()
    await expect(
        page.get_by_text(
            "You may not attach or remove templates in this namespace; ask an admin for access."
        )
    ).to_be_visible()
    await expect(page.get_by_role("button", name="Add template to Deployment api")).to_be_disabled()
    await expect(page.get_by_role("button", name=f"Disable {team_b}")).to_be_disabled()
    await browser.screenshot(page, "16-developer-read-only-namespace")

    # team-c: not even visible, and the console says so in words.
    await page.goto(f"{console}/#/namespaces/{team_c}")
    await expect(page.get_by_text("Not allowed", exact=True)).to_be_visible()
    await expect(
        page.get_by_text(f"you may not read namespace {team_c}", exact=False)
    ).to_be_visible()
    await browser.screenshot(page, "17-developer-no-access")

    # Access taken away while a page is open: the API refuses, and the dialog says why.
    await page.goto(f"{console}/#/namespaces/{team_a}")
    await page.get_by_role("button", name="Add template to Deployment api").click()
    dialog = page.get_by_role("dialog", name="Attach a template to Deployment api")
    await dialog.get_by_text("https", exact=True).click()
    await admin.delete(RoleBinding, "netfence-developer", namespace=team_a)

    async def revoked() -> bool:
        return not await _may_patch_deployments(bob, team_a)

    await kube.eventually(revoked)
    await dialog.get_by_role("button", name="Attach https", exact=True).click()
    await expect(dialog.get_by_role("alert")).to_contain_text(
        f"You may not attach templates to controllers in namespace {team_a}; ask an admin"
    )
    await browser.screenshot(page, "18-developer-refused", full_page=False)
    await dialog.get_by_role("button", name="Cancel").click()
    assert await kube.get_policy(admin, team_a, "deploy-api-https") is None
