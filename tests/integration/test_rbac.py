"""The Helm chart's RBAC, proven on a real kube-apiserver.

The chart is rendered with helm, its ServiceAccount and RBAC objects are applied, and the
controller then runs with a token of that ServiceAccount: the whole reference flow must
work under exactly those permissions, and nothing beyond them may be allowed. The
user-facing roles (netfence-admin, netfence-developer) are checked the same way, bound
through the chart's own `rbac.bindings` values to ServiceAccounts made for the test.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import AsyncIterable, AsyncIterator, Awaitable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from lightkube import ALL_NS, ApiError, AsyncClient, codecs
from lightkube.models.authentication_v1 import TokenRequestSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import (
    ConfigMap,
    Event,
    Namespace,
    Pod,
    Secret,
    ServiceAccount,
    ServiceAccountToken,
)
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import ClusterRole
from lightkube.types import PatchType

from netfence.core import naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.kube import connecting
from netfence.localcluster import ControlPlane
from tests.integration import helm, kube
from tests.integration.netfence_fixtures import NETFENCE_NS, running_controller

# The first run builds helm (minutes); the tests that wait for it get that much longer.
pytestmark = pytest.mark.timeout(helm.BUILD_TIMEOUT_SECONDS + 180 if helm.needs_build() else 180)

RELEASE = "netfence"
SA_NAME = "netfence-controller"
DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")
TEST_FIELD_MANAGER = "netfence-rbac-test"

Manifest = dict[str, Any]


def _rule(groups: list[str], resources: list[str], verbs: list[str], **extra: Any) -> Manifest:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


# What the controller calls on the API, and nothing else (see docs/deploy.md).
CONTROLLER_CLUSTER_RULES = [
    _rule([""], ["namespaces"], ["get", "list", "watch"]),
    _rule(
        ["networking.k8s.io"],
        ["networkpolicies"],
        ["get", "list", "watch", "create", "update", "patch", "delete"],
    ),
    _rule(["apps"], ["deployments", "statefulsets", "daemonsets"], ["get", "list", "watch"]),
    _rule(["batch"], ["cronjobs"], ["get", "list", "watch"]),
    _rule([""], ["events"], ["create"]),
]
CONTROLLER_NAMESPACE_RULES = [
    _rule([""], ["configmaps"], ["get", "list", "watch", "create", "patch"]),
    _rule(["coordination.k8s.io"], ["leases"], ["create"]),
    _rule(
        ["coordination.k8s.io"],
        ["leases"],
        ["get", "update"],
        resourceNames=[naming.LEADER_LEASE],
    ),
]


def _key(manifest: Manifest) -> tuple[str, str, str | None]:
    meta = manifest["metadata"]
    return manifest["kind"], meta["name"], meta.get("namespace")


def _one(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    """The chart with its default values, for release `netfence` in netfence-system."""
    return helm.render(release=RELEASE, namespace=NETFENCE_NS)


# --- the chart as rendered ------------------------------------------------------------


def test_helm_lint_passes_with_default_and_with_every_option() -> None:
    assert "0 chart(s) failed" in helm.lint()
    everything = {
        "createNamespace": True,
        "rbac": {
            "bindings": {
                "admins": [{"kind": "Group", "name": "ops"}],
                "developers": [
                    {"namespace": "team-a", "subjects": [{"kind": "Group", "name": "a"}]}
                ],
            }
        },
    }
    assert "0 chart(s) failed" in helm.lint(values=everything)


def test_the_chart_holds_exactly_the_expected_objects(manifests: list[Manifest]) -> None:
    controller = "netfence-controller"
    assert sorted(_key(m) for m in manifests) == sorted(
        [
            ("ServiceAccount", controller, NETFENCE_NS),
            ("ClusterRole", controller, None),
            ("ClusterRoleBinding", controller, None),
            ("Role", controller, NETFENCE_NS),
            ("RoleBinding", controller, NETFENCE_NS),
            ("ClusterRole", "netfence-admin", None),
            ("Role", "netfence-admin", NETFENCE_NS),
            ("ClusterRole", "netfence-developer", None),
            ("Role", "netfence-developer", NETFENCE_NS),
            ("Deployment", controller, NETFENCE_NS),
            ("Service", f"{controller}-metrics", NETFENCE_NS),
        ]
    )
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "netfence"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/version"] == "0.1.0"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "netfence-0.2.0"

    assert _one(manifests, "ClusterRole", controller)["rules"] == CONTROLLER_CLUSTER_RULES
    assert _one(manifests, "Role", controller)["rules"] == CONTROLLER_NAMESPACE_RULES
    sa = {"kind": "ServiceAccount", "name": SA_NAME, "namespace": NETFENCE_NS}
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        binding = _one(manifests, kind, controller)
        assert binding["subjects"] == [sa]
        assert binding["roleRef"]["name"] == controller

    # Optional objects appear only when asked for.
    more = helm.render(
        values={
            "createNamespace": True,
            "rbac": {
                "bindings": {
                    "admins": [{"kind": "Group", "name": "ops"}],
                    "developers": [
                        {"namespace": "team-a", "subjects": [{"kind": "Group", "name": "a"}]}
                    ],
                }
            },
        }
    )
    extra = {_key(m) for m in more} - {_key(m) for m in manifests}
    assert extra == {
        ("Namespace", NETFENCE_NS, None),
        ("ClusterRoleBinding", "netfence-admin", None),
        ("RoleBinding", "netfence-admin", NETFENCE_NS),
        ("RoleBinding", "netfence-developer", "team-a"),
        ("RoleBinding", "netfence-developer-team-a", NETFENCE_NS),
    }


def test_the_deployment_runs_the_controller_unprivileged_as_its_service_account(
    manifests: list[Manifest],
) -> None:
    deployment = _one(manifests, "Deployment", "netfence-controller")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == SA_NAME
    assert pod["automountServiceAccountToken"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["image"] == "netfence/netfence:0.1.0"
    assert [*container["command"], *container["args"][:1]] == ["netfence", "controller"]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}) for e in container["env"]}
    assert env["POD_NAME"] == {"fieldPath": "metadata.name"}
    assert env["NETFENCE_NAMESPACE"] == {"fieldPath": "metadata.namespace"}
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    limits = container["resources"]["limits"]
    assert limits["memory"] == "256Mi"


async def test_helm_installs_and_uninstalls_the_chart_on_a_real_api_server(
    control_plane: ControlPlane, admin: AsyncClient
) -> None:
    """Every object the chart makes is accepted by the API server as rendered.

    The user roles are left out: they have fixed cluster-wide names, which the other tests
    here apply without Helm. No pod runs (the control plane has no scheduler or kubelet),
    so this release's controller never competes for the Lease.
    """
    ns = kube.unique("helm-install")
    release = kube.unique("nf")
    kubeconfig = str(control_plane.kubeconfig)
    target = ["--namespace", ns, "--kubeconfig", kubeconfig]
    await asyncio.to_thread(
        helm.run,
        "install",
        release,
        str(helm.CHART_DIR),
        *target,
        "--create-namespace",
        "--set",
        "rbac.userRoles=false",
    )
    try:
        deployment = await admin.get(Deployment, f"{release}-netfence-controller", namespace=ns)
        assert deployment.spec is not None
        assert deployment.spec.replicas == 2
        role = f"{release}-netfence-controller"
        assert await _get_cluster_role(admin, role) is not None
        status = await asyncio.to_thread(helm.run, "status", release, *target)
        assert "STATUS: deployed" in status
    finally:
        await asyncio.to_thread(helm.run, "uninstall", release, *target)
    assert await _get_cluster_role(admin, role) is None


async def _get_cluster_role(client: AsyncClient, name: str) -> ClusterRole | None:
    try:
        return await client.get(ClusterRole, name)
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise


# --- the chart's RBAC on a real API server ---------------------------------------------


async def _apply_all(client: AsyncClient, manifests: list[Manifest]) -> None:
    for manifest in manifests:
        obj = cast(Any, codecs.from_dict(manifest))
        await client.apply(obj, field_manager=TEST_FIELD_MANAGER, force=True)


async def _delete_all(client: AsyncClient, manifests: list[Manifest]) -> None:
    for manifest in reversed(manifests):
        obj = cast(Any, codecs.from_dict(manifest))
        meta = manifest["metadata"]
        try:
            if "namespace" in meta:
                await client.delete(type(obj), meta["name"], namespace=meta["namespace"])
            else:
                await client.delete(type(obj), meta["name"])
        except ApiError as e:
            if e.status.code != 404:
                raise


async def _token_for(client: AsyncClient, name: str, namespace: str) -> str:
    """A short-lived token for a ServiceAccount, from the TokenRequest API."""
    request = ServiceAccountToken(
        metadata=ObjectMeta(), spec=TokenRequestSpec(audiences=[], expirationSeconds=3600)
    )
    issued = await client.create(request, name, namespace=namespace)
    assert issued.status is not None
    assert issued.status.token
    return issued.status.token


def _kubeconfig(cp: ControlPlane, user: str, token: str, path: Path) -> Path:
    ca_data = base64.b64encode(cp.ca_file.read_bytes()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "local",
                "cluster": {"server": cp.server, "certificate-authority-data": ca_data},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class Identities:
    """Clients that authenticate with ServiceAccount tokens, closed at the end."""

    def __init__(self, cp: ControlPlane, admin: AsyncClient, directory: Path) -> None:
        self._cp = cp
        self._admin = admin
        self._dir = directory
        self._clients: list[AsyncClient] = []

    async def client(self, name: str, namespace: str) -> AsyncClient:
        token = await _token_for(self._admin, name, namespace)
        path = _kubeconfig(self._cp, name, token, self._dir / f"{namespace}-{name}.yaml")
        client = connecting.client_for(path)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.close()


@pytest.fixture(scope="module")
async def identities(
    control_plane: ControlPlane, admin: AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Identities]:
    found = Identities(control_plane, admin, tmp_path_factory.mktemp("rbac"))
    yield found
    await found.close()


@pytest.fixture(scope="module")
async def installed(admin: AsyncClient, manifests: list[Manifest]) -> AsyncIterator[list[Manifest]]:
    """The chart's ServiceAccount and RBAC objects, applied as `helm install` would."""
    objects = [m for m in manifests if m["kind"] in RBAC_KINDS]
    await _apply_all(admin, objects)
    try:
        yield objects
    finally:
        await _delete_all(admin, objects)


@pytest.fixture(scope="module")
async def controller_client(installed: list[Manifest], identities: Identities) -> AsyncClient:
    """A client that is the chart's controller ServiceAccount and has only its rights."""
    return await identities.client(SA_NAME, NETFENCE_NS)


async def _lease_is_free(admin: AsyncClient) -> bool:
    try:
        lease = await admin.get(Lease, naming.LEADER_LEASE, namespace=NETFENCE_NS)
    except ApiError as e:
        if e.status.code == 404:
            return True
        raise
    spec = lease.spec
    if spec is None or not spec.holderIdentity or spec.renewTime is None:
        return True
    expiry = spec.renewTime + datetime.timedelta(seconds=spec.leaseDurationSeconds or 15)
    return expiry < datetime.datetime.now(datetime.UTC)


async def _reason_count(client: AsyncClient, namespace: str, reason: str) -> int:
    return len((await kube.event_reasons(client, namespace)).get(reason, []))


async def test_the_controller_does_the_whole_flow_with_only_the_charts_permissions(
    admin: AsyncClient, controller_client: AsyncClient
) -> None:
    # Another controller (say, one acting as the admin) would hold the Lease and do the
    # work, proving nothing about these permissions.
    await kube.eventually(lambda: _lease_is_free(admin), timeout=20, interval=0.5)
    # Without a catalog the controller must create it: one more permission exercised.
    try:
        await admin.delete(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
    except ApiError as e:
        if e.status.code != 404:
            raise
    refusals_before = await _reason_count(admin, "kube-system", "RefusedNamespace")
    ns = await kube.create_namespace(admin, kube.unique("rbac"))
    await kube.create(admin, kube.deployment(ns, "web"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy"))

    async with running_controller(controller_client) as controller:
        lease = await admin.get(Lease, naming.LEADER_LEASE, namespace=NETFENCE_NS)
        assert lease.spec is not None
        assert lease.spec.holderIdentity == controller.settings.identity

        catalog = await kube.eventually(
            lambda: _get(admin, ConfigMap, naming.TEMPLATES_CONFIGMAP, NETFENCE_NS)
        )
        assert set(DEFAULT_TEMPLATES) <= set(catalog.data or {})

        # Opt-in: back up, delete what was there, create the two defaults.
        await kube.set_namespace_label(admin, ns, "true")

        async def adopted() -> bool:
            return await kube.policy_names(admin, ns) == DEFAULTS

        await kube.eventually(adopted)
        backup = await kube.backup(admin, ns, NETFENCE_NS)
        assert backup is not None
        assert set(backup.data or {}) == {"legacy.yaml"}

        # Attach a template by labelling the Deployment.
        await _label(admin, ns, "web", "http", "true")
        await kube.wait_for_policy(admin, ns, "deploy-web-http")

        # Drift is repaired with a full replace (the `update` verb).
        await admin.patch(
            NetworkPolicy,
            "deploy-web-http",
            {"spec": {"egress": [{}], "policyTypes": ["Ingress", "Egress"]}},
            namespace=ns,
            patch_type=PatchType.MERGE,
        )
        await kube.eventually(lambda: _repaired(admin, ns, "deploy-web-http"))

        # Detach: the policy goes away.
        await _label(admin, ns, "web", "http", None)

        async def detached() -> bool:
            return await kube.policy_names(admin, ns) == DEFAULTS

        await kube.eventually(detached)

        # Refusals are posted as Events in the refused namespace itself.
        await kube.set_namespace_label(admin, "kube-system", "true")
        try:

            async def refused() -> bool:
                count = await _reason_count(admin, "kube-system", "RefusedNamespace")
                return count > refusals_before

            await kube.eventually(refused)
        finally:
            await kube.set_namespace_label(admin, "kube-system", None)

        # Opt-out: netfence's policies go, the backup is marked released.
        await kube.set_namespace_label(admin, ns, None)

        async def released() -> bool:
            if await kube.policy_names(admin, ns):
                return False
            backup = await kube.backup(admin, ns, NETFENCE_NS)
            annotations = (backup.metadata.annotations or {}) if backup and backup.metadata else {}
            return annotations.get(naming.PHASE_ANNOTATION) == "released"

        await kube.eventually(released)

        # Every step was reported as an Event, posted with the ServiceAccount's rights.
        reasons = await kube.eventually(lambda: _reasons_at_least(admin, ns, 5))
        assert {
            "PoliciesBackedUp",
            "PolicyCreated",
            "TemplateApplied",
            "PolicyRepaired",
            "PolicyDeleted",
        } <= set(reasons)
        templated = [e for e in await kube.events(admin, ns) if e.reason == "TemplateApplied"]
        assert templated[0].involvedObject.kind == "Deployment"
        assert templated[0].involvedObject.name == "web"


async def _get(client: AsyncClient, resource: Any, name: str, namespace: str) -> Any:
    try:
        return await client.get(resource, name, namespace=namespace)
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise


async def _label(client: AsyncClient, ns: str, name: str, template: str, value: str | None) -> None:
    await client.patch(
        Deployment,
        name,
        {"metadata": {"labels": {naming.template_label_key(template): value}}},
        namespace=ns,
    )


async def _repaired(client: AsyncClient, ns: str, name: str) -> bool:
    policy = await kube.get_policy(client, ns, name)
    return (
        policy is not None
        and policy.spec is not None
        and policy.spec.to_dict().get("egress") is None
        and policy.spec.policyTypes == ["Ingress"]
    )


async def _reasons_at_least(client: AsyncClient, ns: str, count: int) -> dict[str, list[str]]:
    reasons = await kube.event_reasons(client, ns)
    return reasons if len(reasons) >= count else {}


async def _status(call: Awaitable[object]) -> int:
    """The HTTP status an API call ends with (200 when it succeeds)."""
    try:
        await call
    except ApiError as e:
        return e.status.code or 0
    return 200


async def _drain(items: AsyncIterable[object]) -> None:
    async for _ in items:
        pass


async def test_the_controller_can_do_nothing_more(
    admin: AsyncClient, controller_client: AsyncClient
) -> None:
    sa = controller_client
    ns = await kube.create_namespace(admin, kube.unique("rbac-deny"))
    await kube.create(admin, kube.deployment(ns, "web"))
    await admin.create(
        Secret(metadata=ObjectMeta(name="db", namespace=ns), stringData={"password": "x"})
    )

    # It reads no Secret anywhere, its own namespace included.
    assert await _status(_drain(sa.list(Secret, namespace=ns))) == 403
    assert await _status(_drain(sa.list(Secret, namespace=NETFENCE_NS))) == 403
    assert await _status(sa.get(Secret, "db", namespace=ns)) == 403
    # It never modifies a controller (that could restart pods), nor deletes one.
    label = {"metadata": {"labels": {"x": "y"}}}
    assert await _status(sa.patch(Deployment, "web", label, namespace=ns)) == 403
    assert await _status(sa.delete(Deployment, "web", namespace=ns)) == 403
    # It creates no namespace and changes none.
    new_ns = Namespace(metadata=ObjectMeta(name=kube.unique("rbac-new")))
    assert await _status(sa.create(new_ns)) == 403
    assert await _status(sa.patch(Namespace, ns, label)) == 403
    # ConfigMaps only in its own namespace, and it never deletes them (backups stay).
    # (Authorization comes first: 403, not 404, for an object that does not exist.)
    foreign = ConfigMap(metadata=ObjectMeta(name="x", namespace=ns), data={"a": "b"})
    assert await _status(sa.create(foreign)) == 403
    assert await _status(sa.get(ConfigMap, "x", namespace=ns)) == 403
    assert await _status(_drain(sa.list(ConfigMap, namespace=ns))) == 403
    assert (
        await _status(sa.delete(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS))
        == 403
    )
    # It reads Events nowhere and cannot rewrite them, it only posts them.
    assert await _status(_drain(sa.list(Event, namespace=ns))) == 403
    # No other Lease, and it cannot hand itself more rights.
    assert await _status(sa.get(Lease, "someone-else", namespace=NETFENCE_NS)) == 403
    assert await _status(sa.delete(Lease, naming.LEADER_LEASE, namespace=NETFENCE_NS)) == 403
    binding = codecs.from_dict(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": kube.unique("escalate")},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "cluster-admin",
            },
            "subjects": [{"kind": "ServiceAccount", "name": SA_NAME, "namespace": NETFENCE_NS}],
        }
    )
    assert await _status(sa.create(cast(Any, binding))) == 403
    # ... while what it needs still works (the denials above are not a broken client).
    assert await _status(sa.get(Namespace, ns)) == 200
    assert await _status(sa.get(Deployment, "web", namespace=ns)) == 200


# --- the roles for people ----------------------------------------------------------------


@pytest.fixture(scope="module")
async def people(
    admin: AsyncClient, installed: list[Manifest], identities: Identities
) -> AsyncIterator[tuple[str, str, AsyncClient, AsyncClient]]:
    """(team namespace, other namespace, an admin's client, a team developer's client).

    They are bound as docs/deploy.md says, through the chart's `rbac.bindings` values, to
    ServiceAccounts made for the test (the control plane's static users are shared).
    """
    home = await kube.create_namespace(admin, kube.unique("people"))
    team = await kube.create_namespace(admin, kube.unique("team"))
    other = await kube.create_namespace(admin, kube.unique("other"))
    for name in ("ops", "dev"):
        await admin.create(ServiceAccount(metadata=ObjectMeta(name=name, namespace=home)))
    values = {
        "rbac": {
            "bindings": {
                "admins": [{"kind": "ServiceAccount", "name": "ops", "namespace": home}],
                "developers": [
                    {
                        "namespace": team,
                        "subjects": [{"kind": "ServiceAccount", "name": "dev", "namespace": home}],
                    }
                ],
            }
        }
    }
    rendered = helm.render(release=RELEASE, namespace=NETFENCE_NS, values=values)
    bindings = [
        m
        for m in rendered
        if m["kind"] in ("ClusterRoleBinding", "RoleBinding")
        and m["metadata"]["name"].startswith(("netfence-admin", "netfence-developer"))
    ]
    assert len(bindings) == 4
    await _apply_all(admin, bindings)
    try:
        ops = await identities.client("ops", home)
        dev = await identities.client("dev", home)
        yield team, other, ops, dev
    finally:
        await _delete_all(admin, bindings)


async def _ensure_catalog(admin: AsyncClient) -> None:
    catalog = ConfigMap(
        metadata=ObjectMeta(name=naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS),
        data=dict(DEFAULT_TEMPLATES),
    )
    try:
        await admin.create(catalog)
    except ApiError as e:
        if e.status.code != 409:
            raise


def _managed(value: str | None) -> dict[str, Any]:
    return {"metadata": {"labels": {naming.MANAGED_NAMESPACE_LABEL: value}}}


def _template_label(value: str | None) -> dict[str, Any]:
    return {"metadata": {"labels": {naming.template_label_key("http"): value}}}


def _netpol(namespace: str) -> NetworkPolicy:
    return cast(NetworkPolicy, codecs.from_dict(kube.foreign_policy(namespace, "by-hand")))


async def test_netfence_admin_opts_namespaces_in_curates_templates_attaches_and_restores(
    admin: AsyncClient, people: tuple[str, str, AsyncClient, AsyncClient]
) -> None:
    team, _other, ops, _dev = people
    await _ensure_catalog(admin)
    await kube.create(admin, kube.deployment(team, "api"))

    # Opting a namespace in and out is a label on it, anywhere in the cluster.
    assert await _status(_drain(ops.list(Namespace))) == 200
    assert await _status(ops.patch(Namespace, team, _managed("true"))) == 200
    assert await _status(ops.patch(Namespace, team, _managed(None))) == 200
    # Templates: the catalog ConfigMap is editable ...
    edit = {"data": {"rbac-test": "ingress:\n- ports:\n  - port: 7000\n"}}
    undo = {"data": {"rbac-test": None}}
    cm = naming.TEMPLATES_CONFIGMAP
    merge = PatchType.MERGE
    assert (
        await _status(ops.patch(ConfigMap, cm, edit, namespace=NETFENCE_NS, patch_type=merge))
        == 200
    )
    assert (
        await _status(ops.patch(ConfigMap, cm, undo, namespace=NETFENCE_NS, patch_type=merge))
        == 200
    )
    # ... the backups are readable, but not writable, and nothing else can be made there.
    assert await _status(_drain(ops.list(ConfigMap, namespace=NETFENCE_NS))) == 200
    backup = naming.backup_configmap_name(team)
    assert (
        await _status(ops.patch(ConfigMap, backup, edit, namespace=NETFENCE_NS, patch_type=merge))
        == 403
    )
    made = ConfigMap(metadata=ObjectMeta(name="x", namespace=NETFENCE_NS))
    assert await _status(ops.create(made)) == 403
    # Policies: visible everywhere; an admin may create them (restoring a backup) but not
    # edit or delete them, which is netfence's job.
    assert await _status(_drain(ops.list(NetworkPolicy, namespace=team))) == 200
    assert await _status(ops.create(_netpol(team))) == 200
    assert await _status(ops.delete(NetworkPolicy, "by-hand", namespace=team)) == 403
    # Controllers: an admin may attach templates anywhere (a label), nothing more.
    assert (
        await _status(ops.patch(Deployment, "api", _template_label("true"), namespace=team)) == 200
    )
    assert await _status(ops.delete(Deployment, "api", namespace=team)) == 403
    assert await _status(_drain(ops.list(Secret, namespace=team))) == 403
    # Pods are readable everywhere, for connectivity analysis.
    assert await _status(_drain(ops.list(Pod, namespace=ALL_NS))) == 200


async def test_netfence_developer_attaches_templates_in_its_namespace_only(
    admin: AsyncClient, people: tuple[str, str, AsyncClient, AsyncClient]
) -> None:
    team, other, _ops, dev = people
    await _ensure_catalog(admin)
    await kube.create(admin, kube.deployment(team, "web"))
    await kube.create(admin, kube.deployment(other, "web"))

    # Attaching a template is a label on a controller of its own namespace ...
    assert (
        await _status(dev.patch(Deployment, "web", _template_label("true"), namespace=team)) == 200
    )
    assert await _status(dev.patch(Deployment, "web", _template_label(None), namespace=team)) == 200
    # ... and of no other namespace.
    assert (
        await _status(dev.patch(Deployment, "web", _template_label("true"), namespace=other)) == 403
    )
    # It sees its namespace, its policies and what netfence reported there.
    assert await _status(dev.get(Namespace, team)) == 200
    assert await _status(_drain(dev.list(NetworkPolicy, namespace=team))) == 200
    assert await _status(_drain(dev.list(Event, namespace=team))) == 200
    assert await _status(dev.get(Namespace, other)) == 403
    assert await _status(_drain(dev.list(NetworkPolicy, namespace=other))) == 403
    # Opting in is the admin's call, and policies are netfence's to write.
    assert await _status(dev.patch(Namespace, team, _managed("true"))) == 403
    assert await _status(dev.create(_netpol(team))) == 403
    # It reads the template catalog, and nothing else in netfence's namespace.
    cm = naming.TEMPLATES_CONFIGMAP
    assert await _status(dev.get(ConfigMap, cm, namespace=NETFENCE_NS)) == 200
    edit = {"data": {"rbac-test": "ingress: []\n"}}
    merge = PatchType.MERGE
    assert (
        await _status(dev.patch(ConfigMap, cm, edit, namespace=NETFENCE_NS, patch_type=merge))
        == 403
    )
    backup = naming.backup_configmap_name(team)
    assert await _status(dev.get(ConfigMap, backup, namespace=NETFENCE_NS)) == 403
    assert await _status(_drain(dev.list(ConfigMap, namespace=NETFENCE_NS))) == 403
