"""The connectivity API: a namespace's matrix, explain, findings and impact previews.

Against a real kube-apiserver with a controller running, as test_api.py does: the admin in
local mode (the kubeconfig's user), and alice in token mode, bound with the Helm chart's
netfence-developer role in one namespace only, so she can list nothing cluster-wide and
no pods at all. The last test checks that every connectivity operation was seen both
succeeding and failing.
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from lightkube import ApiError, AsyncClient, KubeConfig, codecs
from lightkube.models.authorization_v1 import ResourceAttributes, SelfSubjectAccessReviewSpec
from lightkube.resources.authorization_v1 import SelfSubjectAccessReview
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ControlPlane
from netfence.web import schemas
from netfence.web.settings import AuthMode, WebSettings
from tests.integration import helm, kube
from tests.integration.api_client import Api, Coverage, Served, ok, operations, problem
from tests.integration.netfence_fixtures import NETFENCE_NS

pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 120)

FIELD_MANAGER = "netfence-connectivity-api-test"
TEMPLATE = f"conn{secrets.token_hex(2)}"  # a template this module makes and removes


def workload(
    ns: str, name: str, port: int, port_name: str, *, kind: str = "Deployment", **templates: str
) -> dict[str, Any]:
    manifest = kube.deployment(ns, name, kind=kind, templates=tuple(templates.values()))
    spec = manifest["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else manifest["spec"]
    container = spec["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": port, "name": port_name}] if port else []
    return manifest


def bare_pod(ns: str, name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"run": name}},
        "spec": {
            "containers": [{"name": "main", "image": "app", "ports": [{"containerPort": port}]}]
        },
    }


def policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


@dataclass(frozen=True)
class World:
    shop: str  # managed: api (dns attached: egress only DNS), web, db, a bare pod
    outside: str  # not managed, no policy: client
    pitfalls: str  # not managed: policies with the usual mistakes
    plain: str  # not managed, no policy: srv, and nightly without ports, for enabling


@pytest.fixture(scope="module")
def coverage() -> Coverage:
    return Coverage()


def _settings(cp: ControlPlane, auth: AuthMode) -> Served:
    config = KubeConfig.from_file(cp.kubeconfig)
    return config, WebSettings(auth=auth, netfence_namespace=NETFENCE_NS)


@pytest.fixture(scope="module")
async def world(admin: AsyncClient, controller: object) -> World:
    found = World(
        shop=kube.unique("conn-shop"),
        outside=kube.unique("conn-out"),
        pitfalls=kube.unique("conn-pit"),
        plain=kube.unique("conn-plain"),
    )
    await kube.create_namespace(admin, found.shop, managed=True)
    for ns in (found.outside, found.pitfalls, found.plain):
        await kube.create_namespace(admin, ns)
    for manifest in (
        workload(found.shop, "api", 8080, "http", t="dns"),
        workload(found.shop, "web", 80, "http"),
        workload(found.shop, "db", 5432, "pg", kind="StatefulSet"),
        bare_pod(found.shop, "debug", 7000),
        workload(found.outside, "client", 9000, "main"),
        workload(found.plain, "srv", 80, "http"),
        workload(found.plain, "nightly", 0, "", kind="CronJob"),  # declares no port
        workload(found.outside, "batch", 0, "", kind="CronJob"),
        workload(found.pitfalls, "worker", 8080, "http"),
        policy(
            found.pitfalls,
            "worker-egress",  # egress-isolated, and no DNS
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "policyTypes": ["Egress"],
                "egress": [{"ports": [{"port": 5432}]}],
            },
        ),
        policy(
            found.pitfalls,
            "from-system",  # a label no namespace carries
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "ingress": [
                    {"from": [{"namespaceSelector": {"matchLabels": {"name": "kube-system"}}}]}
                ],
            },
        ),
        policy(
            found.pitfalls,
            "ghost",  # selects nothing
            {"podSelector": {"matchLabels": {"app": "ghost"}}, "ingress": [{}]},
        ),
        policy(
            found.pitfalls,
            "or-not-and",
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"team": "shop"}}},
                            {"podSelector": {"matchLabels": {"app": "worker"}}},
                        ]
                    }
                ],
            },
        ),
    ):
        await kube.create(admin, manifest)

    async def ready() -> bool:
        names = await kube.policy_names(admin, found.shop)
        return set(naming.BASELINE_POLICY_NAMES) | {"deploy-api-dns"} <= names

    await kube.eventually(ready)
    return found


@pytest.fixture(scope="module")
async def api(control_plane: ControlPlane, world: World, coverage: Coverage) -> AsyncIterator[Api]:
    """Local mode: the kubeconfig's user, the cluster admin."""
    async with Api.open(_settings(control_plane, AuthMode.LOCAL), coverage) as client:
        yield client


@pytest.fixture(scope="module")
async def template(admin: AsyncClient, api: Api) -> AsyncIterator[str]:
    """A template of this module's own (ingress on 8080 from every namespace), removed at
    the end so the shared catalog is as it was."""
    ok(await api.put(f"/api/v1/templates/{TEMPLATE}", {"yaml": _ingress_from_anywhere(8080)}))
    yield TEMPLATE
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {TEMPLATE: None}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )


def _ingress_from_anywhere(port: int) -> str:
    return (
        f"description: Ingress on TCP {port} from every namespace.\n"
        "ingress:\n"
        "- from:\n"
        "  - namespaceSelector: {}\n"
        "  ports:\n"
        "  - protocol: TCP\n"
        f"    port: {port}\n"
    )


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


@pytest.fixture(scope="module")
async def alice(
    admin: AsyncClient, control_plane: ControlPlane, world: World, coverage: Coverage
) -> AsyncIterator[Api]:
    """alice in a browser, signed in, a netfence-developer in the shop namespace only."""
    user = {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
    rendered = await asyncio.to_thread(
        helm.render,
        namespace=NETFENCE_NS,
        values={
            "rbac": {
                "create": False,
                "bindings": {"developers": [{"namespace": world.shop, "subjects": [user]}]},
            }
        },
    )
    suffix = secrets.token_hex(3)
    objects = [m for m in rendered if m["kind"] in ("ClusterRole", "Role", "RoleBinding")]
    objects = [m for m in objects if m["metadata"]["name"].startswith("netfence-developer")]
    for manifest in objects:
        if manifest["kind"] == "RoleBinding":
            manifest["metadata"]["name"] += f"-{suffix}"
    ours = [m for m in objects if m["kind"] == "RoleBinding" or await _absent(admin, m)]
    config = KubeConfig.from_file(control_plane.kubeconfig)
    as_alice = connecting.make_client(connecting.with_token(config, control_plane.tokens["alice"]))
    try:
        for manifest in objects:
            obj = cast(Any, codecs.from_dict(manifest))
            await admin.apply(obj, field_manager=FIELD_MANAGER, force=True)
        await kube.eventually(lambda: _allowed(as_alice, "list", "deployments", "apps", world.shop))
        async with Api.open(_settings(control_plane, AuthMode.TOKEN), coverage) as browser:
            await browser.sign_in(control_plane.tokens["alice"])
            yield browser
    finally:
        await as_alice.close()
        for manifest in reversed(ours):
            obj = cast(Any, codecs.from_dict(manifest))
            meta = manifest["metadata"]
            try:
                await admin.delete(type(obj), meta["name"], namespace=meta.get("namespace"))
            except ApiError as e:
                if e.status.code != 404:
                    raise


def cell(matrix: dict[str, Any], source: str, destination: str) -> tuple[str, list[bool]]:
    """(verdict word, per-port verdicts) of one cell, found by the endpoints' ids."""
    ids = [e["id"] for e in matrix["endpoints"]]
    row = next(r for r in matrix["rows"] if r["source"] == source)
    column = ids.index(destination)
    return row["verdicts"][column], row["ports"][column]


def connections(impact: dict[str, Any], which: str) -> set[tuple[str, str, int]]:
    return {(c["source"], c["destination"], c["port"]) for c in impact[which]}


# --- the matrix ----------------------------------------------------------------------------


async def test_the_matrix_of_a_namespace_with_its_verdicts_per_port(api: Api, world: World) -> None:
    ns = world.shop
    matrix = ok(await api.get(f"/api/v1/namespaces/{ns}/connectivity"))
    # The body is written directly (it can be large); it is what the schema documents.
    assert schemas.ConnectivityMatrix.model_validate(matrix).model_dump() == matrix
    assert matrix["namespace"] == ns
    assert matrix["complete"] is True
    assert matrix["notes"] == []
    by_id = {e["id"]: e for e in matrix["endpoints"]}
    assert set(by_id) == {
        f"{ns}/Deployment/api",
        f"{ns}/Deployment/web",
        f"{ns}/StatefulSet/db",
        f"{ns}/debug",  # a pod no controller runs counts on its own
    }
    assert by_id[f"{ns}/StatefulSet/db"]["ports"] == [
        {"port": 5432, "protocol": "TCP", "name": "pg"}
    ]
    assert by_id[f"{ns}/debug"]["kind"] == "Pod"
    assert [r["source"] for r in matrix["rows"]] == list(by_id)
    # Inside the namespace everything may connect (allow-namespace-communication) ...
    assert cell(matrix, f"{ns}/Deployment/web", f"{ns}/StatefulSet/db") == ("allowed", [True])
    assert cell(matrix, f"{ns}/debug", f"{ns}/Deployment/api") == ("allowed", [True])
    # ... except from api, whose only egress is the dns template's.
    for destination in by_id:
        assert cell(matrix, f"{ns}/Deployment/api", destination) == ("denied", [False])
    assert matrix["counts"] == {"allowed": 12, "denied": 4, "partial": 0, "no-ports": 0}

    # Other namespaces: deny-all-ingress keeps every one of them out.
    others = matrix["others"]
    assert others["sources"] >= 1
    assert others["verdicts"] == ["denied"] * 4
    assert others["ports"] == [[0]] * 4
    assert all(others["denied_examples"])


async def test_every_cell_agrees_with_explain(api: Api, world: World) -> None:
    matrix = ok(await api.get(f"/api/v1/namespaces/{world.shop}/connectivity"))
    for row in matrix["rows"]:
        for destination, ports in zip(matrix["endpoints"], row["ports"], strict=True):
            for port, allowed in zip(destination["ports"], ports, strict=True):
                verdict = ok(
                    await api.get(
                        "/api/v1/connectivity/explain",
                        params={
                            "source": row["source"],
                            "destination": destination["id"],
                            "port": str(port["port"]),
                            "protocol": port["protocol"],
                        },
                    )
                )
                assert verdict["allowed"] is allowed, verdict["headline"]


async def test_the_matrix_shows_what_other_namespaces_may_reach(api: Api, world: World) -> None:
    ns = world.plain
    matrix = ok(await api.get(f"/api/v1/namespaces/{ns}/connectivity"))
    srv, nightly = f"{ns}/Deployment/srv", f"{ns}/CronJob/nightly"
    assert [e["id"] for e in matrix["endpoints"]] == [nightly, srv]
    # No policy: everyone may connect, from everywhere; nightly declares nothing to reach.
    assert cell(matrix, nightly, srv) == ("allowed", [True])
    assert cell(matrix, srv, nightly) == ("no-ports", [])
    others = matrix["others"]
    # (Some other module's workloads may be egress-isolated: then partial.)
    assert others["verdicts"][1] in ("allowed", "partial")
    assert others["ports"][1][0] >= 1
    assert f"{world.outside}/Deployment/client" in others["allowed_examples"][1] or (
        len(others["allowed_examples"][1]) == 3
    )
    assert others["verdicts"][0] == "no-ports"
    assert others["ports"][0] == []


async def test_the_matrix_refuses_unknown_namespaces(api: Api) -> None:
    problem(
        await api.get("/api/v1/namespaces/no-such-ns-here/connectivity"),
        404,
        says="namespace no-such-ns-here does not exist",
    )


# --- explain -------------------------------------------------------------------------------


async def test_explain_says_why_in_words_and_structure(api: Api, world: World) -> None:
    explain = "/api/v1/connectivity/explain"
    denied = ok(
        await api.get(
            explain,
            params={
                "source": f"{world.outside}/Deployment/client",
                "destination": f"{world.shop}/StatefulSet/db",
                "port": "pg",  # a named port of the destination
            },
        )
    )
    assert denied["allowed"] is False
    assert denied["port"] == 5432
    assert denied["protocol"] == "TCP"
    assert denied["headline"].endswith("on 5432/TCP: denied")
    assert denied["egress"]["isolated"] is False
    assert denied["egress"]["allowed"] is True
    assert "is not restricted" in denied["egress"]["reasons"][0]
    ingress = denied["ingress"]
    assert ingress["isolated"] is True
    assert ingress["allowed"] is False
    assert set(ingress["policies"]) == {
        f"{world.shop}/{naming.DENY_ALL_INGRESS}",
        f"{world.shop}/{naming.ALLOW_NAMESPACE_COMMUNICATION}",
    }
    (rule,) = ingress["rules"]
    assert rule["policy"] == f"{world.shop}/{naming.ALLOW_NAMESPACE_COMMUNICATION}"
    assert rule["allows"] is False
    assert rule["peer_matched"] is False
    assert rule["port_matched"] is True
    assert any("no rule allows it" in line for line in denied["reasons"])

    allowed = ok(
        await api.get(
            explain,
            params={
                "source": f"{world.shop}/Deployment/web",
                "destination": f"{world.shop}/sts/db",  # the CLI's short kinds work too
                "port": "5432",
                "protocol": "tcp",
            },
        )
    )
    assert allowed["allowed"] is True
    assert allowed["destination"] == f"{world.shop}/StatefulSet/db"
    allowing = [r for r in allowed["ingress"]["rules"] if r["allows"]]
    assert [r["policy"] for r in allowing] == [
        f"{world.shop}/{naming.ALLOW_NAMESPACE_COMMUNICATION}"
    ]
    assert any(line.strip().startswith("allowed by") for line in allowed["ingress"]["reasons"])


async def test_explain_refuses_bad_input_in_words(api: Api, world: World) -> None:
    explain = "/api/v1/connectivity/explain"
    db = f"{world.shop}/StatefulSet/db"
    web = f"{world.shop}/Deployment/web"

    async def asking(**params: str) -> Any:
        return await api.get(explain, params=params)

    problem(
        await asking(source=web, destination=f"{world.shop}/Deployment/nope", port="80"),
        404,
        says=f"there is no Deployment nope in namespace {world.shop}",
    )
    problem(
        await asking(source="no-such-ns-x/Deployment/a", destination=db, port="5432"),
        404,
        says="no-such-ns-x",
    )
    problem(
        await asking(source=web, destination=f"{world.shop}/Widget/db", port="5432"),
        404,
        says="unknown controller kind",
    )
    problem(
        await asking(source=web, destination=db, port="70000"),
        422,
        field="port",
        says="out of range",
    )
    problem(
        await asking(source=web, destination=db, port="http"),
        422,
        field="port",
        says="declares no TCP port named 'http'",
    )
    problem(
        await asking(source=web, destination=db, port="5432", protocol="ICMP"),
        422,
        field="protocol",
        says="unknown protocol",
    )
    problem(await asking(source="web", destination=db, port="5432"), 422, field="source")
    problem(await asking(source=web, destination=f"{db}/x", port="5432"), 422, field="destination")
    problem(await asking(source=web, destination=db), 422, field="query.port")


# --- findings ------------------------------------------------------------------------------


async def test_findings_of_a_namespace_with_objects_and_fixes(api: Api, world: World) -> None:
    body = ok(await api.get(f"/api/v1/namespaces/{world.pitfalls}/findings"))
    assert body["complete"] is True
    kinds = {f["kind"]: f for f in body["findings"]}
    assert set(kinds) == {
        "egress-without-dns",
        "namespace-selector-matches-nothing",
        "policy-selects-no-pods",
        "peers-ored-where-and-was-likely-meant",
        "no-networkpolicy-enforcing-plugin",
    }
    no_dns = kinds["egress-without-dns"]
    assert f"NetworkPolicy {world.pitfalls}/worker-egress" in no_dns["objects"]
    assert f"{world.pitfalls}/Deployment/worker" in no_dns["objects"]
    assert "dns template" in no_dns["fix"]
    assert "kubernetes.io/metadata.name" in kinds["namespace-selector-matches-nothing"]["fix"]
    assert kinds["policy-selects-no-pods"]["objects"] == [f"NetworkPolicy {world.pitfalls}/ghost"]
    # This control plane runs no network plugin: nothing would enforce the policies.
    plugin = kinds["no-networkpolicy-enforcing-plugin"]
    assert plugin["scope"] == "cluster"
    assert plugin["objects"] == []
    assert all(f["scope"] == "namespace" for f in body["findings"] if f is not plugin)

    # Another namespace's findings are its own.
    shop = ok(await api.get(f"/api/v1/namespaces/{world.shop}/findings"))
    assert [f["kind"] for f in shop["findings"]] == ["no-networkpolicy-enforcing-plugin"]


async def test_findings_refuse_unknown_namespaces(api: Api) -> None:
    problem(
        await api.get("/api/v1/namespaces/no-such-ns-here/findings"),
        404,
        says="namespace no-such-ns-here does not exist",
    )


# --- impact previews -------------------------------------------------------------------------


async def test_the_enable_preview_lists_the_connections_it_would_deny(
    api: Api, admin: AsyncClient, world: World
) -> None:
    ns = world.plain
    body = ok(await api.get(f"/api/v1/namespaces/{ns}/enable-preview"))
    impact = body["impact"]
    assert impact["complete"] is True
    denied = connections(impact, "newly_denied")
    assert (f"{world.outside}/Deployment/client", f"{ns}/Deployment/srv", 80) in denied
    # Inside the namespace nothing changes: allow-namespace-communication.
    assert (f"{ns}/Deployment/srv", f"{ns}/Deployment/srv", 80) not in denied
    assert len(impact["newly_denied"]) == min(impact["newly_denied_total"], 500)
    assert impact["newly_allowed"] == []
    # Of the controllers without ports, the namespace's are named (not the client's batch).
    assert impact["not_covered"] == [f"{ns}/CronJob/nightly"]
    assert await kube.policy_names(admin, ns) == set()  # a preview changes nothing


async def test_the_attach_and_detach_previews_show_the_policy_and_its_effect(
    api: Api, admin: AsyncClient, world: World
) -> None:
    base = f"/api/v1/namespaces/{world.shop}/controllers"
    attach = ok(await api.get(f"{base}/deployment/web/templates/http/preview?action=attach"))
    assert attach["action"] == "attach"
    assert attach["controller"] == "Deployment/web"
    assert attach["policy"] == "deploy-web-http"
    assert [c["name"] for c in attach["create"]] == ["deploy-web-http"]
    assert "port: 80" in attach["create"][0]["yaml"]
    assert attach["delete"] == []
    assert attach["warnings"] == []
    impact = attach["impact"]
    assert (
        f"{world.outside}/Deployment/client",
        f"{world.shop}/Deployment/web",
        80,
    ) in connections(impact, "newly_allowed")
    assert impact["newly_denied"] == []

    detach = ok(await api.get(f"{base}/deployment/api/templates/dns/preview?action=detach"))
    assert detach["create"] == []
    assert detach["delete"] == ["deploy-api-dns"]
    opened = connections(detach["impact"], "newly_allowed")
    assert (f"{world.shop}/Deployment/api", f"{world.shop}/StatefulSet/db", 5432) in opened
    assert (f"{world.shop}/Deployment/api", f"{world.outside}/Deployment/client", 9000) in opened
    # Previews change nothing.
    assert "deploy-web-http" not in await kube.policy_names(admin, world.shop)
    assert "deploy-api-dns" in await kube.policy_names(admin, world.shop)


async def test_the_attachment_preview_refuses_bad_input(api: Api, world: World) -> None:
    base = f"/api/v1/namespaces/{world.shop}/controllers"
    problem(
        await api.get(f"{base}/deployment/web/templates/nope/preview?action=attach"),
        404,
        field="template",
        says="Template nope does not exist",
    )
    problem(
        await api.get(f"{base}/deployment/web/templates/https/preview?action=detach"),
        404,
        field="template",
        says="Template https is not attached to Deployment/web",
    )
    problem(
        await api.get(f"{base}/deployment/nope/templates/http/preview?action=attach"),
        404,
        says="Deployment nope does not exist",
    )
    problem(
        await api.get(f"{base}/widget/web/templates/http/preview?action=attach"),
        404,
        field="kind",
    )
    problem(
        await api.get(f"{base}/deployment/web/templates/http/preview?action=delete"),
        422,
        field="query.action",
    )
    problem(
        await api.get(
            "/api/v1/namespaces/no-such-ns-here/controllers/deployment/web/templates/http/"
            "preview?action=attach"
        ),
        404,
    )


async def test_the_update_preview_lists_what_the_new_version_changes(
    api: Api, admin: AsyncClient, world: World, template: str
) -> None:
    ns = world.shop
    controller = f"/api/v1/namespaces/{ns}/controllers/statefulset/db"
    ok(await api.post(f"{controller}/templates", {"template": template}), 202)
    name = naming.attachment_policy_name("StatefulSet", "db", template)
    try:
        await kube.wait_for_policy(admin, ns, name)
        ok(await api.put(f"/api/v1/templates/{template}", {"yaml": _ingress_from_anywhere(5432)}))
        body = ok(await api.get(f"/api/v1/namespaces/{ns}/policies/{name}/update-preview"))
        assert body["changed"] is True
        assert body["impact_note"] is None
        # The new version opens the database's port to every other namespace.
        opened = connections(body["impact"], "newly_allowed")
        assert (f"{world.outside}/Deployment/client", f"{ns}/StatefulSet/db", 5432) in opened
        assert body["impact"]["newly_denied"] == []
    finally:
        ok(await api.delete(f"{controller}/templates/{template}"), 202)
        await kube.eventually(lambda: _gone(admin, ns, name))


async def _gone(client: AsyncClient, ns: str, name: str) -> bool:
    return name not in await kube.policy_names(client, ns)


# --- who may see what --------------------------------------------------------------------------


async def test_a_developer_sees_her_namespace_and_is_told_what_is_missing(
    alice: Api, api: Api, world: World
) -> None:
    ns = world.shop
    mine = ok(await alice.get(f"/api/v1/namespaces/{ns}/connectivity"))
    assert schemas.ConnectivityMatrix.model_validate(mine).model_dump() == mine
    assert mine["complete"] is False
    assert mine["others"] is None
    notes = " ".join(mine["notes"])
    assert "You may not read every namespace" in notes
    assert "You may not list pods" in notes
    # The same verdicts as the admin's, for what she may see: no pods, so no bare pod.
    full = ok(await api.get(f"/api/v1/namespaces/{ns}/connectivity"))
    assert [e["id"] for e in mine["endpoints"]] == [
        e["id"] for e in full["endpoints"] if e["kind"] != "Pod"
    ]
    for row in mine["rows"]:
        for destination in mine["endpoints"]:
            assert cell(mine, row["source"], destination["id"]) == cell(
                full, row["source"], destination["id"]
            )

    explained = ok(
        await alice.get(
            "/api/v1/connectivity/explain",
            params={
                "source": f"{ns}/Deployment/web",
                "destination": f"{ns}/StatefulSet/db",
                "port": "5432",
            },
        )
    )
    assert explained["allowed"] is True

    findings = ok(await alice.get(f"/api/v1/namespaces/{ns}/findings"))
    assert findings["complete"] is False
    assert findings["findings"] == []  # the plugin check needs the whole cluster
    assert any("were not checked" in n for n in findings["notes"])

    # Her previews are computed within her namespace, and say so.
    attach = ok(
        await alice.get(
            f"/api/v1/namespaces/{ns}/controllers/deployment/api/templates/dns/preview",
            params={"action": "detach"},
        )
    )
    assert attach["impact"]["complete"] is False
    opened = connections(attach["impact"], "newly_allowed")
    assert (f"{ns}/Deployment/api", f"{ns}/StatefulSet/db", 5432) in opened
    assert all(c[1].startswith(f"{ns}/") for c in opened)


async def test_a_developer_is_refused_other_namespaces_in_words(alice: Api, world: World) -> None:
    problem(
        await alice.get(f"/api/v1/namespaces/{world.outside}/connectivity"),
        403,
        says=f"You may not read namespace {world.outside}",
    )
    problem(
        await alice.get(f"/api/v1/namespaces/{world.outside}/findings"),
        403,
        says=f"You may not read namespace {world.outside}",
    )
    problem(
        await alice.get(
            "/api/v1/connectivity/explain",
            params={
                "source": f"{world.outside}/Deployment/client",
                "destination": f"{world.shop}/Deployment/web",
                "port": "80",
            },
        ),
        403,
        says=f"You may not read namespace {world.outside}",
    )
    problem(
        await alice.get(
            f"/api/v1/namespaces/{world.outside}/controllers/deployment/client/templates/http/"
            "preview?action=attach"
        ),
        403,
    )


async def test_signed_out_callers_are_asked_to_sign_in(
    control_plane: ControlPlane, coverage: Coverage, world: World
) -> None:
    async with Api.open(_settings(control_plane, AuthMode.TOKEN), coverage) as browser:
        for path in (
            f"/api/v1/namespaces/{world.shop}/connectivity",
            f"/api/v1/namespaces/{world.shop}/findings",
            f"/api/v1/connectivity/explain?source={world.shop}/a&destination={world.shop}/b&port=1",
            f"/api/v1/namespaces/{world.shop}/controllers/deployment/web/templates/http/preview"
            "?action=attach",
        ):
            problem(await browser.get(path), 401, says="Sign in")


# --- the graph ------------------------------------------------------------------------------


async def test_the_graph_of_a_namespace_agrees_with_its_matrix(api: Api, world: World) -> None:
    ns = world.shop
    graph = ok(await api.get("/api/v1/connectivity/graph", params={"namespace": ns}))
    assert schemas.ConnectivityGraph.model_validate(graph).model_dump() == graph
    assert graph["namespaces"] == [ns]
    assert graph["complete"] is True
    assert {world.shop, world.outside} <= set(graph["known_namespaces"])
    shown = {n["id"] for n in graph["nodes"] if n["shown"]}
    matrix = ok(await api.get(f"/api/v1/namespaces/{ns}/connectivity"))
    assert shown == {e["id"] for e in matrix["endpoints"]}
    api_node = next(n for n in graph["nodes"] if n["id"] == f"{ns}/Deployment/api")
    assert f"{ns}/deploy-api-dns" in api_node["egress_policies"]
    assert f"{ns}/{naming.DENY_ALL_INGRESS}" in api_node["ingress_policies"]
    # Every allowed cell between the namespace's own endpoints is one of its edges.
    members = {ns: shown}

    def stands_for(edge: dict[str, Any]) -> set[str]:
        source = edge["source"]
        found = members.get(source[:-2], set()) if source.endswith("/*") else {source}
        if source == "*":
            found = shown
        return (
            found
            - set(edge["excepted"])
            - {x for g in edge["excepted"] if g.endswith("/*") for x in members.get(g[:-2], set())}
        )

    drawn = {
        (s, e["destination"], p["port"])
        for e in graph["edges"]
        if e["allowed"]
        for s in stands_for(e)
        for p in e["ports"]
    }
    ids = [e["id"] for e in matrix["endpoints"]]
    for row in matrix["rows"]:
        for j, destination in enumerate(matrix["endpoints"]):
            for k, allowed in enumerate(row["ports"][j]):
                key = (row["source"], ids[j], destination["ports"][k]["port"])
                assert (key in drawn) == allowed, key
    # The port filter and the denied connections, on demand.
    only = ok(
        await api.get(
            "/api/v1/connectivity/graph",
            params={"namespace": ns, "port": "5432/tcp", "denied": "1"},
        )
    )
    assert {p["port"] for e in only["edges"] for p in e["ports"]} == {5432}
    assert any(not e["allowed"] for e in only["edges"])
    assert only["hidden"] > 0


async def test_the_graph_refuses_bad_input_in_words(api: Api, alice: Api, world: World) -> None:
    problem(
        await api.get("/api/v1/connectivity/graph", params={"namespace": "Not_A_Name"}),
        422,
        says="namespace 'Not_A_Name'",
    )
    problem(
        await api.get("/api/v1/connectivity/graph", params={"namespace": "no-such-ns-graph"}),
        404,
        says="namespace no-such-ns-graph does not exist",
    )
    problem(
        await api.get("/api/v1/connectivity/graph", params={"port": "http"}),
        422,
        says="is not PORT or PORT/PROTOCOL",
    )
    problem(
        await api.get("/api/v1/connectivity/graph", params={"port": "53/ICMP"}),
        422,
        says="unknown protocol",
    )
    # A developer bound to one namespace may not draw them all, and is told what to ask.
    problem(
        await alice.get("/api/v1/connectivity/graph"),
        403,
        says="name the namespaces you may read",
    )
    problem(
        await alice.get("/api/v1/connectivity/graph", params={"namespace": world.outside}),
        403,
        says=f"You may not read namespace {world.outside}",
    )
    mine = ok(await alice.get("/api/v1/connectivity/graph", params={"namespace": world.shop}))
    assert mine["complete"] is False
    assert any("You may not read every namespace" in n for n in mine["notes"])


# --- last: every connectivity operation was exercised, succeeding and failing -----------------


async def test_every_connectivity_operation_was_seen_succeeding_and_failing(
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
    documented = operations(api.app, tags={"connectivity"})
    assert documented == {
        ("GET", "/api/v1/namespaces/{namespace}/connectivity"),
        ("GET", "/api/v1/connectivity/explain"),
        ("GET", "/api/v1/connectivity/graph"),
        ("GET", "/api/v1/namespaces/{namespace}/findings"),
        (
            "GET",
            "/api/v1/namespaces/{namespace}/controllers/{kind}/{name}/templates/{template}/preview",
        ),
    }
    gaps = coverage.missing(documented)
    assert not any(gaps.values()), gaps
