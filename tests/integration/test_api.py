"""The REST API, every endpoint, against a real kube-apiserver with a controller running.

The app runs in-process (httpx's ASGI transport) and makes its Kubernetes calls with the
caller's credentials: the admin's kubeconfig in local mode, the static tokens of alice,
bob and carol in token mode. RBAC for those users comes from the Helm chart's own roles.
The last test checks that every documented operation was seen succeeding and failing.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import random
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig, codecs
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace
from lightkube.types import PatchType

from netfence.core import naming, summaries
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import Policy, Workload, WorkloadKind
from netfence.kube import connecting
from netfence.localcluster import ControlPlane
from netfence.web import views
from netfence.web.sessions import SESSION_COOKIE
from netfence.web.settings import AuthMode, WebSettings
from tests.integration import helm, kube
from tests.integration.api_client import Api, Coverage, Served, ok, operations, problem
from tests.integration.netfence_fixtures import NETFENCE_NS

# The first run may build helm for the RBAC tests (minutes).
pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 120)

DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}
# Templates this module creates start with this, so the end of the module removes them.
PREFIX = f"api{secrets.token_hex(2)}"
KINDS = "Deployment, StatefulSet, DaemonSet, CronJob"
TEST_FIELD_MANAGER = "netfence-api-test"


def template_yaml(port: int, description: str = "Ingress on one TCP port, same namespace.") -> str:
    return (
        f"description: {description}\n"
        "ingress:\n"
        "- from:\n"
        "  - podSelector: {}\n"
        "  ports:\n"
        "  - protocol: TCP\n"
        f"    port: {port}\n"
    )


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    return Coverage()


def _settings(cp: ControlPlane, auth: AuthMode) -> Served:
    config = KubeConfig.from_file(cp.kubeconfig)
    return config, WebSettings(auth=auth, netfence_namespace=NETFENCE_NS)


@pytest.fixture(scope="module")
async def templates_cleanup(admin: AsyncClient) -> AsyncIterator[None]:
    """Remove the templates this module made, so the shared catalog is as it was."""
    yield
    catalog = await admin.get(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
    mine = {k: None for k in catalog.data or {} if k.startswith(PREFIX)}
    if mine:
        await admin.patch(
            ConfigMap,
            naming.TEMPLATES_CONFIGMAP,
            {"data": mine},
            namespace=NETFENCE_NS,
            patch_type=PatchType.MERGE,
        )


@pytest.fixture(scope="module")
async def api(
    control_plane: ControlPlane, controller: object, coverage: Coverage, templates_cleanup: None
) -> AsyncIterator[Api]:
    """Local mode: one user, the kubeconfig's (the cluster admin), a controller running."""
    async with Api.open(_settings(control_plane, AuthMode.LOCAL), coverage) as client:
        yield client


@pytest.fixture
async def token_api(
    control_plane: ControlPlane, controller: object, coverage: Coverage, templates_cleanup: None
) -> AsyncIterator[Api]:
    """Token mode, a fresh browser: nobody signed in yet."""
    async with Api.open(_settings(control_plane, AuthMode.TOKEN), coverage) as client:
        yield client


async def make_team(admin: AsyncClient, name: str, *, managed: bool = False) -> str:
    """A namespace with a Deployment, a StatefulSet, a CronJob and a policy of its own."""
    ns = await kube.create_namespace(admin, name)
    await kube.create(admin, kube.deployment(ns, "web"))
    await kube.create(admin, kube.deployment(ns, "db", kind="StatefulSet"))
    await kube.create(admin, kube.deployment(ns, "nightly", kind="CronJob"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))
    if managed:
        await kube.set_namespace_label(admin, ns, "true")
        await kube.eventually(lambda: _has_exactly(admin, ns, DEFAULTS))
    return ns


async def _has_exactly(client: AsyncClient, ns: str, names: set[str]) -> bool:
    return await kube.policy_names(client, ns) == names


async def _eventually_exactly(client: AsyncClient, ns: str, names: set[str]) -> None:
    await kube.eventually(lambda: _has_exactly(client, ns, names))


@pytest.fixture
async def team(admin: AsyncClient, controller: object) -> str:
    return await make_team(admin, kube.unique("api"))


@pytest.fixture
async def managed_team(admin: AsyncClient, controller: object) -> str:
    return await make_team(admin, kube.unique("api-m"), managed=True)


async def ns_labels(admin: AsyncClient, ns: str) -> dict[str, str]:
    obj = await admin.get(Namespace, ns)
    return dict(obj.metadata.labels or {}) if obj.metadata else {}


async def workload_labels(admin: AsyncClient, ns: str, name: str, kind: Any = Deployment) -> Any:
    obj = await admin.get(kind, name, namespace=ns)
    return dict(obj.metadata.labels or {}) if obj.metadata else {}


async def catalog_data(admin: AsyncClient) -> dict[str, str]:
    obj = await admin.get(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
    return dict(obj.data or {})


def set_cookies(response: Any) -> list[str]:
    return cast(list[str], response.headers.get_list("set-cookie"))


# --- session: local mode ----------------------------------------------------------------


async def test_local_session_is_the_kubeconfig_user_with_every_permission(api: Api) -> None:
    fresh = await api.get("/api/v1/session")
    body = ok(fresh)
    assert body["mode"] == "local"
    assert body["signed_in"] is True
    assert body["user"] == "admin"
    assert "system:masters" in body["groups"]
    assert len(body["csrf_token"]) >= 32
    assert body["permissions"] == {
        "enable_namespaces": True,
        "edit_templates": True,
        "read_backups": True,
    }
    # The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site
    # sends it), for the whole app.
    (cookie,) = [c for c in set_cookies(fresh) if c.startswith(f"{SESSION_COOKIE}=")]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert fresh.headers["cache-control"] == "no-store"
    assert "default-src 'self'" in fresh.headers["content-security-policy"]
    # The same session is kept: same CSRF token, no new cookie.
    again = await api.get("/api/v1/session")
    assert ok(again)["csrf_token"] == body["csrf_token"]
    assert not set_cookies(again)


async def test_local_mode_has_nothing_to_sign_in_to(api: Api) -> None:
    problem(
        await api.post("/api/v1/session", {"token": "anything"}, csrf=False),
        400,
        says="uses your kubeconfig",
    )


async def test_signing_out_needs_the_csrf_token_and_ends_the_session(
    control_plane: ControlPlane, coverage: Coverage
) -> None:
    async with Api.open(_settings(control_plane, AuthMode.LOCAL), coverage) as browser:
        csrf = await browser.csrf()
        problem(await browser.delete("/api/v1/session", csrf=False), 403, says="CSRF")
        problem(await browser.delete("/api/v1/session", csrf="wrong"), 403, says="CSRF")
        out = await browser.delete("/api/v1/session")
        assert ok(out) == {"message": "Signed out."}
        assert any(c.startswith(f'{SESSION_COOKIE}=""') for c in set_cookies(out))
        # The old session is gone: its CSRF token opens nothing, a new session starts.
        problem(await browser.delete("/api/v1/session", csrf=csrf), 403, says="CSRF")
        browser.forget_session()
        assert await browser.csrf() != csrf


async def test_in_local_mode_an_authorization_header_does_not_skip_csrf(
    api: Api, admin: AsyncClient, team: str
) -> None:
    bearer = {"Authorization": "Bearer whatever"}
    problem(
        await api.post(f"/api/v1/namespaces/{team}/enable", csrf=False, headers=bearer),
        403,
        says="CSRF",
    )
    assert naming.MANAGED_NAMESPACE_LABEL not in await ns_labels(admin, team)


# --- session: token mode ----------------------------------------------------------------


async def test_token_mode_asks_to_sign_in_first(token_api: Api) -> None:
    body = ok(await token_api.get("/api/v1/session"))
    assert body["mode"] == "token"
    assert body["signed_in"] is False
    assert body["user"] == ""
    assert body["permissions"] == {}
    assert body["csrf_token"]
    for path in (
        "/api/v1/namespaces",
        "/api/v1/namespaces/default",
        "/api/v1/namespaces/default/enable-preview",
        "/api/v1/namespaces/default/events",
        "/api/v1/namespaces/default/controllers/deployment/web",
        "/api/v1/namespaces/default/policies/p/update-preview",
        "/api/v1/templates",
        "/api/v1/templates/http",
    ):
        problem(await token_api.get(path), 401, says="Sign in with a Kubernetes bearer token")
    draft = {"name": "x", "yaml": template_yaml(80)}
    problem(await token_api.post("/api/v1/templates/validate", draft), 401)
    # Mutations are refused before anything else: no session, no CSRF check passed.
    problem(await token_api.post("/api/v1/namespaces/default/enable"), 401)
    problem(await token_api.put("/api/v1/templates/x", {"yaml": template_yaml(80)}), 401)


async def test_a_bad_token_is_refused_with_401_and_a_message(
    token_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "not-a-real-token-" + secrets.token_hex(8)
    response = await token_api.post("/api/v1/session", {"token": bad}, csrf=False)
    problem(response, 401, says="did not accept this token", field="token")
    assert bad not in response.text
    assert not any(bad in v for v in response.headers.values())
    assert not set_cookies(response)
    assert bad not in caplog.text
    # Still not signed in.
    assert ok(await token_api.get("/api/v1/session"))["signed_in"] is False
    # An empty token and a missing one are input errors, naming the field.
    problem(await token_api.post("/api/v1/session", {"token": ""}, csrf=False), 422, field="token")
    problem(await token_api.post("/api/v1/session", {}, csrf=False), 422, field="token")
    problem(
        await token_api.post("/api/v1/session", {"token": "x", "extra": 1}, csrf=False),
        422,
        field="extra",
    )


async def test_signing_in_with_a_token_keeps_it_server_side_only(
    token_api: Api, control_plane: ControlPlane, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = control_plane.tokens["bob"]
    before = ok(await token_api.get("/api/v1/session"))
    planted = token_api.http.cookies.get(SESSION_COOKIE)
    response = await token_api.post("/api/v1/session", {"token": f"  {token}\n"}, csrf=False)
    body = ok(response)
    assert body["signed_in"] is True
    assert body["user"] == "bob"
    assert "system:authenticated" in body["groups"]
    # bob has no rights at all, and the API asked the API server rather than guessing.
    assert body["permissions"] == {
        "enable_namespaces": False,
        "edit_templates": False,
        "read_backups": False,
    }
    # A fresh session id and CSRF token at sign-in: one planted before is worth nothing.
    assert body["csrf_token"] != before["csrf_token"]
    (cookie,) = [c for c in set_cookies(response) if c.startswith(f"{SESSION_COOKIE}=")]
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    session_id = token_api.http.cookies.get(SESSION_COOKIE)
    assert session_id
    assert session_id != planted
    # The token is nowhere: not in the body, not in a header, not in the cookie, not logged.
    assert token not in response.text
    assert not any(token in value for value in response.headers.values())
    assert token not in session_id
    token_api.forget_session()
    listed = await token_api.get("/api/v1/session")
    assert ok(listed)["user"] == "bob"
    assert token not in listed.text
    assert token not in caplog.text
    # bob is signed in but may do nothing: the cluster's answer, in words.
    problem(await token_api.get("/api/v1/namespaces"), 403, says="You may not list namespaces")

    # Signing out needs the CSRF token, then the session is gone.
    problem(await token_api.delete("/api/v1/session", csrf=False), 403, says="CSRF")
    ok(await token_api.delete("/api/v1/session"))
    problem(await token_api.get("/api/v1/templates"), 401, says="Sign in")
    token_api.http.cookies.set(SESSION_COOKIE, session_id)  # replaying the old cookie
    problem(await token_api.get("/api/v1/templates"), 401, says="Sign in")


async def test_a_proxy_passes_the_token_as_a_bearer_and_needs_no_csrf(
    token_api: Api, control_plane: ControlPlane, admin: AsyncClient
) -> None:
    bearer = {"Authorization": f"Bearer {control_plane.tokens['admin']}"}
    rows = ok(await token_api.get("/api/v1/namespaces", headers=bearer))["namespaces"]
    assert "default" in {r["name"] for r in rows}
    # No cookie, so no CSRF risk: a change goes through without the header.
    name = f"{PREFIX}-proxy"
    written = await token_api.put(
        f"/api/v1/templates/{name}", {"yaml": template_yaml(7001)}, csrf=False, headers=bearer
    )
    assert ok(written)["name"] == name
    assert name in await catalog_data(admin)
    assert not set_cookies(written)
    # A token the API server does not accept is a 401, for a proxy as for a browser.
    wrong = {"Authorization": "Bearer nonsense"}
    problem(
        await token_api.get("/api/v1/namespaces", headers=wrong),
        401,
        says="did not accept your credentials",
    )


# --- CSRF -------------------------------------------------------------------------------


async def test_every_change_without_the_csrf_token_is_refused_and_changes_nothing(
    api: Api, admin: AsyncClient, managed_team: str, control_plane: ControlPlane
) -> None:
    ns = managed_team
    name = f"{PREFIX}-csrf"
    ok(await api.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(7002)}))
    ok(
        await api.post(
            f"/api/v1/namespaces/{ns}/controllers/deployment/web/templates", {"template": name}
        ),
        202,
    )
    policy = naming.attachment_policy_name("Deployment", "web", name)
    await kube.wait_for_policy(admin, ns, policy)
    before_catalog = await catalog_data(admin)
    before_policies = await kube.policy_names(admin, ns)

    # Another browser's valid CSRF token is as good as none.
    async with Api.open(_settings(control_plane, AuthMode.LOCAL)) as other:
        foreign = await other.csrf()
    changes: list[tuple[str, str, Any]] = [
        ("POST", f"/api/v1/namespaces/{ns}/disable", {"restore": True}),
        ("POST", f"/api/v1/namespaces/{ns}/enable", None),
        ("POST", f"/api/v1/namespaces/{ns}/controllers/sts/db/templates", {"template": "http"}),
        ("DELETE", f"/api/v1/namespaces/{ns}/controllers/deployment/web/templates/{name}", None),
        ("POST", f"/api/v1/namespaces/{ns}/policies/{policy}/update", None),
        ("PUT", f"/api/v1/templates/{name}", {"yaml": template_yaml(7003)}),
        ("PUT", f"/api/v1/templates/{PREFIX}-csrf-new", {"yaml": template_yaml(7003)}),
        ("DELETE", f"/api/v1/templates/{name}", None),
        ("DELETE", "/api/v1/session", None),
    ]
    for method, path, body in changes:
        for csrf in (False, "wrong", "", foreign):
            response = await api.send(method, path, body, csrf=csrf)
            problem(response, 403, says="missing its CSRF token")

    assert await catalog_data(admin) == before_catalog
    assert await kube.policy_names(admin, ns) == before_policies
    assert (await ns_labels(admin, ns))[naming.MANAGED_NAMESPACE_LABEL] == "true"
    assert naming.template_label_key("http") not in await workload_labels(
        admin, ns, "db", StatefulSet
    )
    assert naming.template_label_key(name) in await workload_labels(admin, ns, "web")
    # The session survived the forged sign-out.
    assert ok(await api.get("/api/v1/session"))["csrf_token"] == await api.csrf()


# --- namespaces ---------------------------------------------------------------------------


async def test_the_cluster_view_filters_and_pages_on_the_server(
    api: Api, team: str, managed_team: str
) -> None:
    whole = ok(await api.get("/api/v1/namespaces"))
    names = [row["name"] for row in whole["namespaces"]]
    assert names == sorted(names)
    assert whole["total"] == len(names)
    assert whole["continue"] is None
    ordinary = [r for r in whole["namespaces"] if r["state"] not in ("system", "refused")]
    assert whole["totals"] == {
        "namespaces": len(ordinary),
        "managed": sum(1 for r in ordinary if r["state"] == "managed"),
        "unmanaged_policies": sum(r["unmanaged_policies"] for r in ordinary),
        "controllers": sum(r["controllers"] for r in ordinary),
        "attached_templates": sum(r["attached_templates"] for r in ordinary),
    }
    first = ok(await api.get("/api/v1/namespaces?limit=2"))
    assert [r["name"] for r in first["namespaces"]] == names[:2]
    assert (first["total"], first["continue"]) == (len(names), "2")
    second = ok(await api.get(f"/api/v1/namespaces?limit=2&continue={first['continue']}"))
    assert [r["name"] for r in second["namespaces"]] == names[2:4]
    found = ok(await api.get(f"/api/v1/namespaces?q={team.upper()}"))
    assert [r["name"] for r in found["namespaces"]] == [team]
    assert (found["total"], found["continue"]) == (1, None)
    # Totals stay those of every namespace: the page's tiles do not follow the filter.
    # (Their states may move on meanwhile, as the controller finishes other tests' work.)
    assert found["totals"]["namespaces"] == whole["totals"]["namespaces"]
    plain = ok(await api.get("/api/v1/namespaces?system=false"))
    assert "kube-system" in names
    assert "kube-system" not in {r["name"] for r in plain["namespaces"]}
    assert {managed_team, team} <= {r["name"] for r in plain["namespaces"]}
    for bad in ("limit=0", "continue=later", f"q={'x' * 254}"):
        response = await api.get(f"/api/v1/namespaces?{bad}")
        assert response.status_code == 422, (bad, response.text)


async def test_cluster_view_counts_policies_controllers_and_templates(
    api: Api, admin: AsyncClient, team: str, managed_team: str
) -> None:
    await kube.create(admin, kube.deployment(team, "api", templates=("http", "dns")))

    # The console's cache sees writes made elsewhere (here, and the controller's) a
    # moment later: wait for both, then hold every row to what it must say.
    async def counted() -> dict[str, Any]:
        found = ok(await api.get("/api/v1/namespaces"))
        rows = {r["name"]: r for r in found["namespaces"]}
        done = rows.get(team, {}).get("controllers") == 4
        managed = rows.get(managed_team, {})
        return found if done and managed.get("state") == "managed" and managed["backed_up"] else {}

    body = await kube.eventually(counted)
    assert body["permissions"] == {"enable_namespaces": True}
    rows = {r["name"]: r for r in body["namespaces"]}
    assert list(rows) == sorted(rows)
    assert rows[team] == {
        "name": team,
        "state": "unmanaged",
        "managed": False,
        "managed_policies": 0,
        "unmanaged_policies": 1,
        "controllers": 4,
        "attached_templates": 2,
        "backed_up": 0,
    }
    assert rows[managed_team] == {
        "name": managed_team,
        "state": "managed",
        "managed": True,
        "managed_policies": 2,
        "unmanaged_policies": 0,
        "controllers": 3,
        "attached_templates": 0,
        "backed_up": 1,
    }
    assert rows["kube-system"]["state"] == "system"
    assert rows[NETFENCE_NS]["state"] == "system"


async def test_namespace_view_lists_controllers_policies_and_yaml(
    api: Api, admin: AsyncClient, team: str
) -> None:
    await admin.patch(
        Deployment,
        "web",
        {"metadata": {"labels": {naming.template_label_key("http"): "true"}}},
        namespace=team,
    )

    # The console reads its watch cache, which sees a write made elsewhere a moment later.
    async def labelled() -> dict[str, Any]:
        found = ok(await api.get(f"/api/v1/namespaces/{team}"))
        web = [c for c in found["controllers"] if c["name"] == "web"]
        return found if web and web[0]["templates"] == ["http"] else {}

    body = await kube.eventually(labelled)
    assert body["name"] == team
    assert body["state"] == "unmanaged"
    assert body["managed"] is False
    assert body["unmanaged_policies"] == 1
    assert body["backup"] is None
    assert body["warnings"] == []
    assert body["permissions"] == {"enable_namespaces": True, "attach": True, "restore": True}
    assert [(c["kind"], c["name"], c["templates"]) for c in body["controllers"]] == [
        ("CronJob", "nightly", []),
        ("Deployment", "web", ["http"]),
        ("StatefulSet", "db", []),
    ]
    web = body["controllers"][1]
    assert web["pod_labels"] == {"app": "web"}
    assert web["policies"] == []  # legacy selects app=legacy
    (legacy,) = body["policies"]
    assert legacy["name"] == "legacy"
    assert legacy["managed"] is False
    assert legacy["template"] is None
    assert legacy["template_status"] is None
    assert "10.0.0.0/8" in legacy["yaml"]
    assert "kind: NetworkPolicy" in legacy["yaml"]


async def test_enable_preview_shows_what_enabling_does_and_changes_nothing(
    api: Api, admin: AsyncClient, team: str
) -> None:
    body = ok(await api.get(f"/api/v1/namespaces/{team}/enable-preview"))
    assert body["namespace"] == team
    assert [b["name"] for b in body["backup"]] == ["legacy"]
    assert "cidr: 10.0.0.0/8" in body["backup"][0]["yaml"]
    assert body["delete"] == ["legacy"]
    assert {c["name"] for c in body["create"]} == DEFAULTS
    deny = next(c for c in body["create"] if c["name"] == naming.DENY_ALL_INGRESS)
    assert "podSelector: {}" in deny["yaml"]
    assert body["warnings"] == []
    assert naming.MANAGED_NAMESPACE_LABEL not in await ns_labels(admin, team)
    assert await kube.policy_names(admin, team) == {"legacy"}


async def test_enable_then_disable_with_restore(api: Api, admin: AsyncClient, team: str) -> None:
    response = ok(await api.post(f"/api/v1/namespaces/{team}/enable"), 202)
    assert "being enabled" in response["message"]
    assert (await ns_labels(admin, team))[naming.MANAGED_NAMESPACE_LABEL] == "true"

    detail = await kube.eventually(lambda: _managed_detail(api, team))
    assert detail["managed"] is True
    assert detail["backup"] == ["legacy"]
    assert {p["name"] for p in detail["policies"]} == DEFAULTS
    assert all(p["managed"] and p["role"] == "baseline" for p in detail["policies"])
    # Both defaults select every pod, so every controller lists them.
    assert all(set(c["policies"]) == DEFAULTS for c in detail["controllers"])
    # Enabling again is harmless.
    ok(await api.post(f"/api/v1/namespaces/{team}/enable"), 202)

    disabled = ok(await api.post(f"/api/v1/namespaces/{team}/disable", {"restore": True}))
    assert disabled["restored"] == ["legacy"]
    assert disabled["skipped"] == {}
    assert "restored 1 policies" in disabled["message"]
    assert naming.MANAGED_NAMESPACE_LABEL not in await ns_labels(admin, team)
    assert await kube.policy_names(admin, team) == {"legacy"}
    after = ok(await api.get(f"/api/v1/namespaces/{team}"))
    assert after["state"] == "unmanaged"


async def test_disable_without_restore_leaves_the_backup_alone(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    body = ok(await api.post(f"/api/v1/namespaces/{managed_team}/disable", {}))
    assert body["restored"] == []
    assert "being disabled" in body["message"]
    await kube.eventually(lambda: _has_exactly(admin, managed_team, set()))
    detail = ok(await api.get(f"/api/v1/namespaces/{managed_team}"))
    assert detail["state"] == "unmanaged"
    assert detail["backup"] == ["legacy"]  # still there, for a later restore
    # A second disable with restore now puts the backed-up policy back.
    again = ok(await api.post(f"/api/v1/namespaces/{managed_team}/disable", {"restore": True}))
    assert again["restored"] == ["legacy"]
    # And a third restores nothing twice: the policy exists.
    third = ok(await api.post(f"/api/v1/namespaces/{managed_team}/disable", {"restore": True}))
    assert third["restored"] == []
    assert third["skipped"] == {"legacy": "a policy of that name exists"}


async def test_disable_preview_shows_what_disabling_and_restoring_do_and_changes_nothing(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    await kube.eventually(lambda: _managed_detail(api, managed_team))
    base = f"/api/v1/namespaces/{managed_team}/disable-preview"
    restoring = ok(await api.get(f"{base}?restore=true"))
    assert restoring["managed"] is True
    assert set(restoring["delete"]) == DEFAULTS
    assert restoring["backup"] == ["legacy"]
    assert [r["name"] for r in restoring["restore"]] == ["legacy"]
    assert "cidr: 10.0.0.0/8" in restoring["restore"][0]["yaml"]
    assert f"namespace: {managed_team}" in restoring["restore"][0]["yaml"]
    assert restoring["skipped"] == {}
    plain = ok(await api.get(base))
    assert plain["restore"] == []
    assert plain["backup"] == ["legacy"]
    assert any("accept traffic from anywhere" in w for w in plain["warnings"])
    assert (plain["impact"] is None) == (plain["impact_note"] is not None)
    # Nothing changed.
    assert (await ns_labels(admin, managed_team))[naming.MANAGED_NAMESPACE_LABEL] == "true"
    assert await kube.policy_names(admin, managed_team) == DEFAULTS
    problem(await api.get(f"{base}?restore=maybe"), 422, field="query.restore")


async def test_disable_bodies_are_checked(api: Api, team: str) -> None:
    path = f"/api/v1/namespaces/{team}/disable"
    problem(await api.post(path, {"restore": "maybe"}), 422, field="restore")
    problem(await api.post(path, {"restore": True, "force": True}), 422, field="force")
    problem(await api.post(path, None), 422)


@pytest.mark.parametrize("system", ["kube-system", "kube-public", NETFENCE_NS])
async def test_system_namespaces_cannot_be_enabled(
    api: Api, admin: AsyncClient, system: str
) -> None:
    problem(
        await api.get(f"/api/v1/namespaces/{system}/enable-preview"),
        400,
        says=f"netfence will not manage namespace {system}",
    )
    problem(
        await api.post(f"/api/v1/namespaces/{system}/enable"),
        400,
        says="could break the cluster",
    )
    assert naming.MANAGED_NAMESPACE_LABEL not in await ns_labels(admin, system)


async def test_an_unknown_namespace_is_a_404_with_a_message_everywhere(api: Api) -> None:
    ns = kube.unique("nowhere")
    base = f"/api/v1/namespaces/{ns}"
    for response in (
        await api.get(base),
        await api.get(f"{base}/enable-preview"),
        await api.get(f"{base}/disable-preview"),
        await api.get(f"{base}/events"),
        await api.get(f"{base}/controllers/deployment/web"),
        await api.get(f"{base}/policies/deploy-web-http/update-preview"),
        await api.post(f"{base}/enable"),
        await api.post(f"{base}/disable", {"restore": False}),
        await api.post(f"{base}/controllers/deployment/web/templates", {"template": "http"}),
        await api.delete(f"{base}/controllers/deployment/web/templates/http"),
        await api.post(f"{base}/policies/deploy-web-http/update"),
    ):
        problem(response, 404, says=ns)


async def test_events_say_what_netfence_did(api: Api, managed_team: str) -> None:
    async def backed_up() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = ok(await api.get(f"/api/v1/namespaces/{managed_team}/events"))
        return rows if {"PoliciesBackedUp", "PolicyCreated"} <= {r["reason"] for r in rows} else []

    rows = await kube.eventually(backed_up)
    assert all(set(r) == {"type", "reason", "message", "object", "time"} for r in rows)
    times = [r["time"] for r in rows if r["time"]]
    assert times == sorted(times, reverse=True)
    created = [r for r in rows if r["reason"] == "PolicyCreated"]
    assert any(naming.DENY_ALL_INGRESS in r["message"] for r in created)


# --- controllers ------------------------------------------------------------------------


async def test_controller_view_shows_templates_and_the_policies_selecting_its_pods(
    api: Api, managed_team: str
) -> None:
    for kind in ("deployment", "Deployment", "deploy", "deployments"):
        body = ok(await api.get(f"/api/v1/namespaces/{managed_team}/controllers/{kind}/web"))
        assert body["kind"] == "Deployment"
    assert body["namespace"] == managed_team
    assert body["name"] == "web"
    assert body["templates"] == []
    assert body["pod_labels"] == {"app": "web"}
    assert body["selector"] == {"matchLabels": {"app": "web"}}
    assert body["namespace_managed"] is True
    assert body["permissions"] == {"attach": True}
    assert [p["name"] for p in body["policies"]] == sorted(DEFAULTS)
    cron = ok(await api.get(f"/api/v1/namespaces/{managed_team}/controllers/cj/nightly"))
    assert cron["kind"] == "CronJob"
    assert cron["selector"] == {"matchLabels": {"app": "nightly"}}  # its job template's pods


async def test_a_wrong_kind_is_a_404_naming_the_allowed_kinds(api: Api, managed_team: str) -> None:
    base = f"/api/v1/namespaces/{managed_team}/controllers/pod/web"
    for response in (
        await api.get(base),
        await api.post(f"{base}/templates", {"template": "http"}),
        await api.delete(f"{base}/templates/http"),
    ):
        problem(response, 404, says=("unknown controller kind 'pod'", KINDS), field="kind")


async def test_an_unknown_controller_is_a_404(api: Api, managed_team: str) -> None:
    base = f"/api/v1/namespaces/{managed_team}/controllers"
    problem(await api.get(f"{base}/deployment/nope"), 404, says="Deployment nope does not exist")
    # The Deployment "nightly" does not exist; the CronJob does.
    problem(await api.get(f"{base}/deployment/nightly"), 404, says="does not exist")
    problem(
        await api.post(f"{base}/statefulset/nope/templates", {"template": "http"}),
        404,
        says="nope",
    )


async def test_attach_and_detach_create_and_remove_the_policy(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    ns = managed_team
    base = f"/api/v1/namespaces/{ns}/controllers/statefulset/db"
    body = ok(await api.post(f"{base}/templates", {"template": "http"}), 202)
    assert body["message"] == (
        "Template http attached to StatefulSet/db; netfence creates NetworkPolicy sts-db-http."
    )
    assert (await workload_labels(admin, ns, "db", StatefulSet))[
        naming.template_label_key("http")
    ] == "true"
    await kube.wait_for_policy(admin, ns, "sts-db-http")
    detail = ok(await api.get(base))
    assert detail["templates"] == ["http"]
    attached = next(p for p in detail["policies"] if p["name"] == "sts-db-http")
    assert attached["managed"] is True
    assert attached["template"] == "http"
    assert attached["controller"] == "StatefulSet/db"
    assert attached["template_status"] == "current"
    assert naming.SNAPSHOT_ANNOTATION not in attached["yaml"]  # shown separately, not as noise
    listed = ok(await api.get("/api/v1/templates/http"))
    assert {"namespace": ns, "policy": "sts-db-http", "controller": "StatefulSet/db"} in listed[
        "used_by"
    ]

    gone = ok(await api.delete(f"{base}/templates/http"), 202)
    assert "netfence deletes its policy" in gone["message"]
    await kube.eventually(lambda: _has_exactly(admin, ns, DEFAULTS))
    assert ok(await api.get(base))["templates"] == []


async def test_attach_refusals_name_the_problem(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    ns = managed_team
    path = f"/api/v1/namespaces/{ns}/controllers/deployment/web/templates"
    unknown = problem(
        await api.post(path, {"template": "no-such-template"}),
        404,
        says=("Template no-such-template does not exist", "known templates:", "dns", "http"),
        field="template",
    )
    assert "postgres" in unknown["message"]
    problem(await api.post(path, {"template": "x" * 64}), 422, field="template")
    problem(await api.post(path, {"template": ""}), 422, field="template")
    problem(await api.post(path, {}), 422, field="template")
    problem(await api.post(path, {"template": "http", "mode": "x"}), 422, field="mode")
    problem(await api.post(path, ["http"]), 422)
    assert not any(
        k.startswith(naming.TEMPLATE_LABEL_PREFIX) for k in await workload_labels(admin, ns, "web")
    )
    assert await kube.policy_names(admin, ns) == DEFAULTS


async def test_a_changed_template_shows_outdated_and_an_explicit_update_re_renders(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    ns = managed_team
    name = f"{PREFIX}-upd"
    ok(await api.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(8080)}))
    ok(
        await api.post(
            f"/api/v1/namespaces/{ns}/controllers/deployment/web/templates", {"template": name}
        ),
        202,
    )
    policy = naming.attachment_policy_name("Deployment", "web", name)
    await kube.wait_for_policy(admin, ns, policy)
    preview_path = f"/api/v1/namespaces/{ns}/policies/{policy}/update-preview"
    unchanged = ok(await api.get(preview_path))
    assert unchanged["changed"] is False
    assert unchanged["current_yaml"] == unchanged["proposed_yaml"]

    # The template changes; the policy stays a snapshot of the old version.
    ok(await api.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(9090)}))

    async def outdated() -> bool:
        detail = ok(await api.get(f"/api/v1/namespaces/{ns}"))
        row = next(p for p in detail["policies"] if p["name"] == policy)
        return bool(row["template_status"] == "outdated")

    await kube.eventually(outdated)
    await asyncio.sleep(0.5)  # long enough for a controller that wrongly re-renders to do so
    still = await kube.get_policy(admin, ns, policy)
    assert still is not None
    assert still.spec is not None
    assert "8080" in str(still.spec.to_dict())

    preview = ok(await api.get(preview_path))
    assert preview == {
        "policy": policy,
        "template": name,
        "current_yaml": preview["current_yaml"],
        "proposed_yaml": preview["proposed_yaml"],
        "changed": True,
        # Its effect on traffic: see test_api_connectivity.py.
        "impact": preview["impact"],
        "impact_note": None,
    }
    assert "port: 8080" in preview["current_yaml"]
    assert "port: 9090" in preview["proposed_yaml"]
    assert "9090" not in preview["current_yaml"]

    body = ok(await api.post(f"/api/v1/namespaces/{ns}/policies/{policy}/update"), 202)
    assert name in body["message"]

    async def updated() -> bool:
        found = await kube.get_policy(admin, ns, policy)
        return found is not None and found.spec is not None and "9090" in str(found.spec.to_dict())

    await kube.eventually(updated)

    async def current() -> bool:
        detail = ok(await api.get(f"/api/v1/namespaces/{ns}"))
        row = next(p for p in detail["policies"] if p["name"] == policy)
        return bool(row["template_status"] == "current")

    await kube.eventually(current)

    # Only netfence's attachment policies can be updated.
    for other in (naming.DENY_ALL_INGRESS, "nonexistent"):
        problem(
            await api.get(f"/api/v1/namespaces/{ns}/policies/{other}/update-preview"),
            404,
            says="is not a policy netfence made from a template",
        )
        problem(
            await api.post(f"/api/v1/namespaces/{ns}/policies/{other}/update"),
            404,
            says="is not a policy netfence made from a template",
        )
    # A deleted template leaves nothing to update to.
    ok(await api.delete(f"/api/v1/templates/{name}"))
    problem(await api.get(preview_path), 404, says="no longer exists")


# --- templates --------------------------------------------------------------------------


async def test_templates_list_and_get(api: Api) -> None:
    body = ok(await api.get("/api/v1/templates"))
    assert body["permissions"] == {"edit_templates": True}
    assert body["resource_version"]
    names = {t["name"] for t in body["templates"]}
    assert set(DEFAULT_TEMPLATES) <= names
    http = next(t for t in body["templates"] if t["name"] == "http")
    assert http["policy_types"] == ["Ingress"]
    assert "TCP port 80" in http["description"]
    assert isinstance(http["used_by"], list)
    one = ok(await api.get("/api/v1/templates/dns"))
    assert one["policy_types"] == ["Egress"]
    assert "port: 53" in one["yaml"]
    problem(await api.get("/api/v1/templates/nope"), 404, says="template nope does not exist")


async def test_validate_reports_every_problem_by_field(api: Api) -> None:
    def check(name: str, text: str) -> dict[str, Any]:
        return {"name": name, "yaml": text}

    good = ok(await api.post("/api/v1/templates/validate", check("web", template_yaml(80))))
    assert good == {"valid": True, "errors": []}
    cases = {
        "description: [unclosed\n": "",
        "description: d\npodSelector: {}\ningress: [{}]\n": "podSelector",
        "description: d\ningres: []\n": "ingres",
        "description: d\ningress:\n- ports:\n  - port: 70000\n": "ingress[0].ports[0].port",
        "- a list\n": "",
    }
    for text, field in cases.items():
        body = ok(await api.post("/api/v1/templates/validate", check("web", text)))
        assert body["valid"] is False
        assert field in [e["field"] for e in body["errors"]], body
        assert all(e["message"] for e in body["errors"])
    fixed = ok(
        await api.post("/api/v1/templates/validate", check("web", "description: d\ningres: []\n"))
    )
    assert fixed["errors"][0]["fix"] == "did you mean 'ingress'?"
    for bad_name in ("x" * 64, "Bad_Name"):
        body = ok(await api.post("/api/v1/templates/validate", check(bad_name, template_yaml(80))))
        assert body["valid"] is False
        assert body["errors"][0]["field"] == "name"
    problem(
        await api.post("/api/v1/templates/validate", check("x" * 254, template_yaml(80))),
        422,
        field="name",
    )
    problem(await api.post("/api/v1/templates/validate", {"name": "web"}), 422, field="yaml")
    problem(
        await api.post("/api/v1/templates/validate", {**check("a", "b: c"), "x": 1}),
        422,
        field="x",
    )


async def test_put_creates_and_updates_with_optimistic_concurrency(
    api: Api, admin: AsyncClient
) -> None:
    name = f"{PREFIX}-put"
    created = ok(await api.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(5432)}))
    assert created["name"] == name
    assert created["policy_types"] == ["Ingress"]
    assert "port: 5432" in created["yaml"]
    assert created["used_by"] is None

    listed = ok(await api.get("/api/v1/templates"))
    version = listed["resource_version"]
    updated = await api.put(
        f"/api/v1/templates/{name}",
        {"yaml": template_yaml(5433), "resource_version": version},
    )
    assert "port: 5433" in ok(updated)["yaml"]
    # Someone else's edit happened since `version` was read: 409, nothing written.
    stale = await api.put(
        f"/api/v1/templates/{name}",
        {"yaml": template_yaml(5434), "resource_version": version},
    )
    problem(stale, 409, says="changed by someone else")
    assert "port: 5433" in (await catalog_data(admin))[name]
    assert "port: 5433" in ok(await api.get(f"/api/v1/templates/{name}"))["yaml"]


@pytest.mark.parametrize(
    ("name", "text", "field", "says"),
    [
        ("bad-yaml", "description: [unclosed\n", "", "invalid YAML"),
        ("unknown-field", "description: d\npodSelector: {}\ningress: [{}]\n", "podSelector", ""),
        ("typo", "description: d\ningres: []\n", "ingres", "did you mean 'ingress'"),
        ("bad-port", "description: d\ningress:\n- ports:\n  - port: 0\n", "", "not a port"),
        ("x" * 64, template_yaml(80), "name", "must be no more than 63 characters"),
        ("Bad_Name", template_yaml(80), "name", "e.g. 'bad-name'"),
    ],
)
async def test_put_refuses_bad_templates_and_writes_nothing(
    api: Api, admin: AsyncClient, name: str, text: str, field: str, says: str
) -> None:
    before = await catalog_data(admin)
    response = await api.put(f"/api/v1/templates/{name}", {"yaml": text})
    body = problem(response, 422, says=says)
    if field:
        assert body["field"] == field
    assert body["errors"]
    assert all({"field", "message", "fix"} == set(e) for e in body["errors"])
    assert await catalog_data(admin) == before


async def test_put_refuses_malformed_requests(api: Api) -> None:
    path = f"/api/v1/templates/{PREFIX}-req"
    problem(await api.put(path, {}), 422, field="yaml")
    problem(await api.put(path, {"yaml": 5}), 422, field="yaml")
    problem(await api.put(path, {"yaml": "a: b", "name": "x"}), 422, field="name")
    problem(await api.put(path, {"yaml": "x" * (256 * 1024 + 1)}), 422, field="yaml")
    response = await api.http.put(
        path,
        content=b"{not json",
        headers={"content-type": "application/json", "X-CSRF-Token": await api.csrf()},
    )
    problem(response, 422)


async def test_delete_template(api: Api, admin: AsyncClient) -> None:
    name = f"{PREFIX}-del"
    ok(await api.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(6000)}))
    version = ok(await api.get("/api/v1/templates"))["resource_version"]
    ok(await api.put(f"/api/v1/templates/{PREFIX}-del2", {"yaml": template_yaml(6001)}))
    # A stale version: someone changed the catalog since.
    problem(
        await api.delete(f"/api/v1/templates/{name}", params={"resource_version": version}),
        409,
        says="changed by someone else",
    )
    assert name in await catalog_data(admin)
    body = ok(await api.delete(f"/api/v1/templates/{name}"))
    assert body["message"] == f"Template {name} deleted; policies made from it stay as they are."
    assert name not in await catalog_data(admin)
    problem(await api.delete(f"/api/v1/templates/{name}"), 404, says="does not exist")
    problem(await api.get(f"/api/v1/templates/{name}"), 404, says="does not exist")


async def test_a_broken_template_in_the_catalog_is_shown_not_used(
    api: Api, admin: AsyncClient, managed_team: str
) -> None:
    name = f"{PREFIX}-broken"
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {name: "description: d\ningress:\n- ports:\n  - port: 99999\n"}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )

    # The console's cache sees a write made elsewhere a moment later.
    async def shown() -> dict[str, Any]:
        found = ok(await api.get("/api/v1/templates"))
        return found if any(t["name"] == name for t in found["invalid"]) else {}

    listed = await kube.eventually(shown)
    (broken,) = [t for t in listed["invalid"] if t["name"] == name]
    assert "99999" in broken["yaml"]
    assert broken["errors"][0]["field"] == "ingress[0].ports[0].port"
    assert name not in {t["name"] for t in listed["templates"]}
    problem(await api.get(f"/api/v1/templates/{name}"), 422, field="ingress[0].ports[0].port")
    problem(
        await api.post(
            f"/api/v1/namespaces/{managed_team}/controllers/deployment/web/templates",
            {"template": name},
        ),
        422,
        says="99999",
        field="template",
    )

    # The controller reports it, as an Event in its own namespace, shown by the API too.
    async def reported() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = ok(await api.get(f"/api/v1/namespaces/{NETFENCE_NS}/events"))
        return [r for r in rows if r["reason"] == "InvalidTemplate" and name in r["message"]]

    (row,) = await kube.eventually(reported)
    assert row["type"] == "Warning"
    assert "99999" in row["message"]
    # An admin can delete it through the API.
    ok(await api.delete(f"/api/v1/templates/{name}"))
    assert name not in await catalog_data(admin)
    # Other modules look for their own InvalidTemplate events there: this one goes.
    for event in await _invalid_template_events(admin, name):
        assert event.metadata is not None
        assert event.metadata.name is not None
        await admin.delete(Event, event.metadata.name, namespace=NETFENCE_NS)


async def _invalid_template_events(admin: AsyncClient, template: str) -> list[Event]:
    return [
        e
        for e in await kube.events(admin, NETFENCE_NS)
        if e.reason == "InvalidTemplate" and template in (e.message or "")
    ]


# --- the API as a whole -------------------------------------------------------------------


EXPECTED_OPERATIONS = {
    ("GET", "/api/v1/clusters"),
    ("GET", "/api/v1/clusters/{cluster}"),
    ("GET", "/api/v1/session"),
    ("GET", "/api/v1/stream"),
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/api/v1/namespaces"),
    ("GET", "/api/v1/namespaces/{namespace}"),
    ("GET", "/api/v1/namespaces/{namespace}/enable-preview"),
    ("POST", "/api/v1/namespaces/{namespace}/enable"),
    ("GET", "/api/v1/namespaces/{namespace}/disable-preview"),
    ("POST", "/api/v1/namespaces/{namespace}/disable"),
    ("GET", "/api/v1/namespaces/{namespace}/policies/{name}/update-preview"),
    ("POST", "/api/v1/namespaces/{namespace}/policies/{name}/update"),
    ("GET", "/api/v1/namespaces/{namespace}/events"),
    ("GET", "/api/v1/namespaces/{namespace}/controllers/{kind}/{name}"),
    ("POST", "/api/v1/namespaces/{namespace}/controllers/{kind}/{name}/templates"),
    ("DELETE", "/api/v1/namespaces/{namespace}/controllers/{kind}/{name}/templates/{template}"),
    ("GET", "/api/v1/templates"),
    ("GET", "/api/v1/templates/{name}"),
    ("PUT", "/api/v1/templates/{name}"),
    ("DELETE", "/api/v1/templates/{name}"),
    ("POST", "/api/v1/templates/validate"),
    # Tested in test_api_connectivity.py.
    ("GET", "/api/v1/namespaces/{namespace}/connectivity"),
    ("GET", "/api/v1/connectivity/explain"),
    ("GET", "/api/v1/connectivity/graph"),
    ("GET", "/api/v1/namespaces/{namespace}/findings"),
    ("GET", "/api/v1/probing"),
    ("POST", "/api/v1/namespaces/{namespace}/probe"),
    (
        "GET",
        "/api/v1/namespaces/{namespace}/controllers/{kind}/{name}/templates/{template}/preview",
    ),
}


async def test_the_cluster_of_the_kubeconfig_is_listed_and_served_by_name(
    api: Api, control_plane: ControlPlane, team: str
) -> None:
    """One context, one cluster: listed, served under its name as at the bare paths;
    several clusters against two control planes are in test_clusters.py."""
    listed = ok(await api.get("/api/v1/clusters"))
    [one] = listed["items"]
    assert one["server"] == control_plane.server and one["default"] is True
    assert listed["default"] == one["name"]
    assert ok(await api.get(f"/api/v1/clusters/{one['name']}")) == one
    named = ok(await api.get(f"/api/v1/clusters/{one['name']}/namespaces/{team}"))
    assert named["name"] == team
    problem(
        await api.get("/api/v1/clusters/elsewhere"),
        404,
        says="no cluster 'elsewhere'",
        field="cluster",
    )
    problem(
        await api.get(f"/api/v1/clusters/elsewhere/namespaces/{team}"),
        404,
        says=f"Its clusters: {one['name']}",
        field="cluster",
    )


async def test_openapi_documents_every_route(api: Api) -> None:
    schema = ok(await api.get("/api/openapi.json"))
    assert schema["info"]["title"] == "netfence"
    documented = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "delete", "patch"}
    }
    # Exactly these: a new route needs its entry here and its tests in this module
    # (or, tagged connectivity, in test_api_connectivity.py; tagged probing, in
    # test_probe.py, where a dataplane runs; tagged stream, in test_shared_cache.py,
    # against a real server, since a stream never ends).
    assert documented == EXPECTED_OPERATIONS
    # Every operation has its error shape and a summary people can read.
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert operation.get("summary"), (method, path)
    # The interactive docs are served too, from the app itself.
    docs = await api.get("/api/docs")
    assert docs.status_code == 200


async def test_unknown_api_paths_are_json_404s(api: Api) -> None:
    problem(await api.get("/api/v1/nothing-here"), 404, says="Not Found")
    problem(await api.send("PATCH", "/api/v1/templates"), 405, says="Method Not Allowed")


def test_the_namespace_views_selector_index_agrees_with_testing_every_pair() -> None:
    """The index behind each controller's "selected by" list (pure; no cluster needed)."""
    rng = random.Random(3)  # noqa: S311 - reproducible test data, not a secret
    keys, values = ("app", "tier", "team"), ("a", "b", "c")
    selectors: list[dict[str, Any]] = [
        {},
        {"matchLabels": {"app": "a"}},
        {"matchLabels": {"app": "a", "tier": "b"}},
        {"matchLabels": {"team": "c", "app": "b"}},
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "c"]}]},
        {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]},
        {"matchLabels": {"app": "c"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]},
    ]
    policies = [
        Policy("ns", f"p{i}", spec={"podSelector": sel} if sel else {})
        for i, sel in enumerate(selectors * 3)
    ] + [Policy("other", "elsewhere", spec={"podSelector": {}})]
    index = views.SelectorIndex(policies)
    for n in range(200):
        labels = {k: rng.choice(values) for k in keys if rng.random() < 0.7}
        workload = Workload("ns", WorkloadKind.DEPLOYMENT, f"w{n}", pod_labels=labels)
        expected = sorted(p.name for p in policies if summaries.selects(p, workload))
        assert index.selecting(workload) == expected, labels


# --- RBAC: a developer and an admin, with the chart's roles --------------------------------


@dataclass(frozen=True)
class Teams:
    a: str  # alice: netfence-developer; carol: netfence-developer
    b: str  # alice: Kubernetes' `view` only; carol: netfence-developer
    c: str  # alice: nothing; carol: netfence-admin only


def _user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


async def _absent(client: AsyncClient, manifest: dict[str, Any]) -> bool:
    obj = cast(Any, codecs.from_dict(manifest))
    meta = manifest["metadata"]
    try:
        await client.get(type(obj), meta["name"], namespace=meta.get("namespace"))
    except ApiError as e:
        if e.status.code == 404:
            return True
        raise
    return False


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


@pytest.fixture(scope="module")
async def teams(
    admin: AsyncClient, control_plane: ControlPlane, controller: object
) -> AsyncIterator[Teams]:
    """Three managed namespaces and the chart's user roles bound to alice and carol."""
    suffix = secrets.token_hex(3)
    found = Teams(*[f"team-{x}-{suffix}" for x in "abc"])
    for ns in (found.a, found.b, found.c):
        await make_team(admin, ns, managed=True)
    rendered = await asyncio.to_thread(
        helm.render,
        namespace=NETFENCE_NS,
        values={
            "rbac": {
                "create": False,
                "bindings": {
                    "admins": [_user("carol")],
                    "developers": [
                        {"namespace": found.a, "subjects": [_user("alice"), _user("carol")]},
                        {"namespace": found.b, "subjects": [_user("carol")]},
                    ],
                },
            }
        },
    )
    objects = [
        m
        for m in rendered
        if m["kind"] in ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")
    ]
    for manifest in objects:
        if manifest["kind"].endswith("Binding") and suffix not in manifest["metadata"]["name"]:
            # Bindings with fixed names get this module's own, so nothing else is touched.
            manifest["metadata"]["name"] += f"-{suffix}"
    objects.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": f"view-alice-{suffix}", "namespace": found.b},
            # `view` itself is filled by kube-controller-manager's aggregation, which this
            # control plane does not run; this is the built-in role it aggregates.
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "system:aggregate-to-view",
            },
            "subjects": [_user("alice")],
        }
    )
    # Roles already there (another test module applied the chart) are left in place.
    ours = [m for m in objects if m["kind"].endswith("Binding") or await _absent(admin, m)]
    try:
        for manifest in objects:
            obj = cast(Any, codecs.from_dict(manifest))
            await admin.apply(obj, field_manager=TEST_FIELD_MANAGER, force=True)
        await _wait_for_rbac(control_plane, found)
        yield found
    finally:
        for manifest in reversed(ours):
            obj = cast(Any, codecs.from_dict(manifest))
            meta = manifest["metadata"]
            try:
                await admin.delete(type(obj), meta["name"], namespace=meta.get("namespace"))
            except ApiError as e:
                if e.status.code != 404:
                    raise


async def _wait_for_rbac(cp: ControlPlane, teams: Teams) -> None:
    """RBAC reaches the authorizer through a watch: wait until the bindings are in effect."""
    config = KubeConfig.from_file(cp.kubeconfig)
    alice = connecting.make_client(connecting.with_token(config, cp.tokens["alice"]))
    carol = connecting.make_client(connecting.with_token(config, cp.tokens["carol"]))
    try:
        checks: list[tuple[AsyncClient, str, str, str, str]] = [
            (alice, "patch", "deployments", "apps", teams.a),
            (alice, "get", "deployments", "apps", teams.b),
            (carol, "patch", "namespaces", "", ""),
            (carol, "patch", "deployments", "apps", teams.b),
            (carol, "get", "configmaps", "", NETFENCE_NS),
        ]
        for check in checks:
            try:
                await kube.eventually(functools.partial(_allowed, *check))
            except AssertionError as e:
                raise AssertionError(f"not in effect: {check[1:]}") from e
    finally:
        await alice.close()
        await carol.close()


@pytest.fixture(scope="module")
async def alice(
    control_plane: ControlPlane, coverage: Coverage, teams: Teams, templates_cleanup: None
) -> AsyncIterator[Api]:
    """alice in a browser, signed in with her token (cookie session, CSRF token)."""
    async with Api.open(_settings(control_plane, AuthMode.TOKEN), coverage) as browser:
        await browser.sign_in(control_plane.tokens["alice"])
        yield browser


@pytest.fixture(scope="module")
async def carol(
    control_plane: ControlPlane, coverage: Coverage, teams: Teams, templates_cleanup: None
) -> AsyncIterator[Api]:
    """carol behind an authenticating proxy: her token in every request's Authorization."""
    async with Api.open(_settings(control_plane, AuthMode.TOKEN), coverage) as proxied:
        proxied.http.headers["Authorization"] = f"Bearer {control_plane.tokens['carol']}"
        yield proxied


async def test_the_developer_session_says_what_she_may_do(alice: Api, teams: Teams) -> None:
    session = ok(await alice.get("/api/v1/session"))
    assert session["user"] == "alice"
    assert session["permissions"] == {
        "enable_namespaces": False,
        "edit_templates": False,
        "read_backups": False,
    }
    own = ok(await alice.get(f"/api/v1/namespaces/{teams.a}"))
    assert own["permissions"] == {"enable_namespaces": False, "attach": True, "restore": False}
    assert own["backup"] is None  # backups hold other teams' policies: not hers to read
    assert {p["name"] for p in own["policies"]} == DEFAULTS
    other = ok(await alice.get(f"/api/v1/namespaces/{teams.b}"))
    assert other["permissions"] == {"enable_namespaces": False, "attach": False, "restore": False}
    controller = ok(await alice.get(f"/api/v1/namespaces/{teams.b}/controllers/deployment/web"))
    assert controller["permissions"] == {"attach": False}
    templates = ok(await alice.get("/api/v1/templates"))
    assert templates["permissions"] == {"edit_templates": False}
    assert set(DEFAULT_TEMPLATES) <= {t["name"] for t in templates["templates"]}
    assert all(t["used_by"] is None for t in templates["templates"])  # other teams' use
    # A namespace she may not see at all is refused in words.
    problem(
        await alice.get(f"/api/v1/namespaces/{teams.c}"),
        403,
        says=(f"You may not read namespace {teams.c}", "ask an admin for access"),
    )
    problem(
        await alice.get(f"/api/v1/namespaces/{teams.c}/events"),
        403,
        says=f"you may not read events in {teams.c}",
    )
    # No RoleBinding grants a cluster-wide list, so the cluster view (from the server's
    # shared cache) holds exactly the namespaces her bindings let her read, and not c.
    listed = ok(await alice.get("/api/v1/namespaces"))
    assert {row["name"] for row in listed["namespaces"]} == {teams.a, teams.b}
    assert listed["permissions"] == {"enable_namespaces": False}


async def test_the_developer_attaches_and_detaches_in_her_namespace(
    alice: Api, admin: AsyncClient, teams: Teams
) -> None:
    base = f"/api/v1/namespaces/{teams.a}/controllers/deployment/web"
    ok(await alice.post(f"{base}/templates", {"template": "http"}), 202)
    await kube.wait_for_policy(admin, teams.a, "deploy-web-http")
    assert ok(await alice.get(base))["templates"] == ["http"]
    preview = ok(
        await alice.get(f"/api/v1/namespaces/{teams.a}/policies/deploy-web-http/update-preview")
    )
    assert preview["changed"] is False
    ok(await alice.post(f"/api/v1/namespaces/{teams.a}/policies/deploy-web-http/update"), 202)
    events = ok(await alice.get(f"/api/v1/namespaces/{teams.a}/events"))
    assert any(e["reason"] == "TemplateApplied" for e in events)
    ok(await alice.delete(f"{base}/templates/http"), 202)
    await kube.eventually(lambda: _has_exactly(admin, teams.a, DEFAULTS))


async def test_the_developer_is_refused_in_another_namespace_and_nothing_changes(
    alice: Api, admin: AsyncClient, teams: Teams
) -> None:
    for ns in (teams.b, teams.c):
        base = f"/api/v1/namespaces/{ns}/controllers/deployment/web"
        problem(
            await alice.post(f"{base}/templates", {"template": "http"}),
            403,
            says=(
                f"You may not attach templates to controllers in namespace {ns}",
                "ask an admin for access to this namespace",
            ),
        )
        problem(
            await alice.delete(f"{base}/templates/http"),
            403,
            says=f"You may not detach templates from controllers in namespace {ns}",
        )
        assert not any(
            k.startswith(naming.TEMPLATE_LABEL_PREFIX)
            for k in await workload_labels(admin, ns, "web")
        )
        assert await kube.policy_names(admin, ns) == DEFAULTS


async def test_the_developer_cannot_enable_or_disable_namespaces(
    alice: Api, admin: AsyncClient, teams: Teams
) -> None:
    for ns in (teams.a, teams.b):
        problem(
            await alice.post(f"/api/v1/namespaces/{ns}/enable"),
            403,
            says="You may not enable namespaces; an admin can",
        )
        problem(
            await alice.post(f"/api/v1/namespaces/{ns}/disable", {"restore": False}),
            403,
            says="You may not disable namespaces; an admin can",
        )
        problem(
            await alice.post(f"/api/v1/namespaces/{ns}/disable", {"restore": True}),
            403,
            says=f"You may not restore the backup of {ns}",
        )
        assert (await ns_labels(admin, ns))[naming.MANAGED_NAMESPACE_LABEL] == "true"
        assert await kube.policy_names(admin, ns) == DEFAULTS


async def test_the_developer_cannot_edit_templates(alice: Api, admin: AsyncClient) -> None:
    before = await catalog_data(admin)
    problem(
        await alice.put(f"/api/v1/templates/{PREFIX}-alice", {"yaml": template_yaml(81)}),
        403,
        says="You may not edit templates; an admin can",
    )
    problem(
        await alice.put("/api/v1/templates/http", {"yaml": template_yaml(81)}),
        403,
        says="You may not edit templates; an admin can",
    )
    problem(
        await alice.delete("/api/v1/templates/http"),
        403,
        says="You may not delete templates; an admin can",
    )
    # Validating a draft writes nothing, so anyone signed in may.
    valid = ok(
        await alice.post("/api/v1/templates/validate", {"name": "x", "yaml": template_yaml(81)})
    )
    assert valid["valid"] is True
    assert await catalog_data(admin) == before


async def test_the_admin_can_do_all_of_it(
    carol: Api, admin: AsyncClient, teams: Teams, team: str
) -> None:
    session = ok(await carol.get("/api/v1/session"))
    assert session["signed_in"] is False  # a proxy's caller has no cookie session
    listed = ok(await carol.get("/api/v1/namespaces"))
    assert listed["permissions"] == {"enable_namespaces": True}
    assert {teams.a, teams.b, teams.c, team} <= {r["name"] for r in listed["namespaces"]}

    # Opt a namespace in, with its backup.
    preview = ok(await carol.get(f"/api/v1/namespaces/{team}/enable-preview"))
    assert preview["delete"] == ["legacy"]
    ok(await carol.post(f"/api/v1/namespaces/{team}/enable"), 202)
    await kube.eventually(lambda: _has_exactly(admin, team, DEFAULTS))
    detail = await kube.eventually(lambda: _managed_detail(carol, team))
    assert detail["backup"] == ["legacy"]
    assert detail["permissions"] == {"enable_namespaces": True, "attach": True, "restore": True}

    # Curate templates.
    name = f"{PREFIX}-carol"
    ok(await carol.put(f"/api/v1/templates/{name}", {"yaml": template_yaml(8443)}))
    templates = ok(await carol.get("/api/v1/templates"))
    assert templates["permissions"] == {"edit_templates": True}
    assert name in {t["name"] for t in templates["templates"]}

    # Attach where she is also a developer (team-a, team-b), and detach.
    for ns in (teams.a, teams.b):
        base = f"/api/v1/namespaces/{ns}/controllers/deployment/web"
        assert ok(await carol.get(base))["permissions"] == {"attach": True}
        ok(await carol.post(f"{base}/templates", {"template": name}), 202)
        await kube.wait_for_policy(
            admin, ns, naming.attachment_policy_name("Deployment", "web", name)
        )
        ok(await carol.delete(f"{base}/templates/{name}"), 202)
        await _eventually_exactly(admin, ns, DEFAULTS)
    ok(await carol.delete(f"/api/v1/templates/{name}"))
    assert name not in await catalog_data(admin)

    # Opt out and restore the backup: the admin's own rights recreate the policies.
    restored = ok(await carol.post(f"/api/v1/namespaces/{team}/disable", {"restore": True}))
    assert restored["restored"] == ["legacy"]
    assert "restored 1 policies" in restored["message"]
    assert naming.MANAGED_NAMESPACE_LABEL not in await ns_labels(admin, team)
    await kube.eventually(lambda: _has_exactly(admin, team, {"legacy"}))


async def _managed_detail(api: Api, ns: str) -> dict[str, Any]:
    """The namespace view once it is managed with its two defaults, else {} (keep polling).

    (The view reads the policies before the backup, so for a moment it may show the
    backup's "adopted" phase with a policy list from just before the defaults were made.)
    """
    detail: dict[str, Any] = ok(await api.get(f"/api/v1/namespaces/{ns}"))
    names = {p["name"] for p in detail["policies"]}
    return detail if detail["state"] == "managed" and names == DEFAULTS else {}


# --- last: every operation was exercised, succeeding and failing ------------------------


async def test_every_operation_was_seen_succeeding_and_failing(
    request: pytest.FixtureRequest, api: Api, coverage: Coverage
) -> None:
    module = sys.modules[__name__]
    defined = {
        n for n, _ in inspect.getmembers(module, inspect.isfunction) if n.startswith("test_")
    }
    ran = {
        item.originalname
        for item in request.session.items
        if isinstance(item, pytest.Function) and item.module is module
    }
    if ran != defined:
        pytest.skip("only meaningful when the whole module runs")
    # Connectivity and probing operations have their own modules and checks
    # (test_api_connectivity.py, test_probe.py).
    gaps = coverage.missing(operations(api.app, exclude_tags={"connectivity", "probing", "stream"}))
    # Reading one's own session never fails: it starts a session when there is none.
    if "GET /api/v1/session" in gaps.get("failure", []):
        gaps["failure"].remove("GET /api/v1/session")
    # Nor does listing the clusters: it reaches none (test_clusters.py covers the rest).
    if "GET /api/v1/clusters" in gaps.get("failure", []):
        gaps["failure"].remove("GET /api/v1/clusters")
    assert not any(gaps.values()), gaps
