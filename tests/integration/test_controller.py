"""The controller against a real kube-apiserver: opt-in, templates, attach, cleanup, drift."""

from __future__ import annotations

import json

import pytest
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from netfence.controller.running import Controller
from netfence.core import naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from tests.integration import kube
from tests.integration.netfence_fixtures import NETFENCE_NS

# A template name with a dash: its policies carry a digest (see naming).
OLD_SNAP = naming.attachment_policy_name("Deployment", "old", "snap-test")
NEW_SNAP = naming.attachment_policy_name("Deployment", "new", "snap-test")

pytestmark = pytest.mark.usefixtures("controller")

DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}


async def label_template(
    client: AsyncClient, ns: str, name: str, template: str, value: str | None
) -> None:
    await client.patch(
        Deployment,
        name,
        {"metadata": {"labels": {naming.template_label_key(template): value}}},
        namespace=ns,
    )


async def test_the_default_templates_are_created_on_first_start(admin: AsyncClient) -> None:
    config_map = await admin.get(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
    data = config_map.data or {}
    assert set(DEFAULT_TEMPLATES) <= set(data)
    assert {"dns", "http", "https", "postgres", "mysql", "redis", "mongodb", "kafka"} <= set(data)


async def test_opting_in_backs_up_then_replaces_existing_policies(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("optin"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy-a"))
    await kube.create(admin, kube.foreign_policy(ns, "legacy-b"))

    await kube.set_namespace_label(admin, ns, "true")

    async def converged() -> bool:
        # The phase is the opt-in's last write, after the policies look right.
        found = await kube.backup(admin, ns, NETFENCE_NS)
        phase = (found.metadata.annotations or {}) if found and found.metadata else {}
        return (
            await kube.policy_names(admin, ns) == DEFAULTS
            and phase.get(naming.PHASE_ANNOTATION) == "adopted"
        )

    await kube.eventually(converged)
    backup = await kube.backup(admin, ns, NETFENCE_NS)
    assert backup is not None
    assert backup.metadata is not None
    assert backup.metadata.annotations == {naming.PHASE_ANNOTATION: "adopted"}
    assert set(backup.data or {}) == {"legacy-a.yaml", "legacy-b.yaml"}
    assert "10.0.0.0/8" in (backup.data or {})["legacy-a.yaml"]
    deny = await admin.get(NetworkPolicy, naming.DENY_ALL_INGRESS, namespace=ns)
    assert deny.spec is not None
    assert deny.spec.to_dict() == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = await admin.get(NetworkPolicy, naming.ALLOW_NAMESPACE_COMMUNICATION, namespace=ns)
    assert allow.spec is not None
    assert allow.spec.to_dict()["ingress"] == [{"from": [{"podSelector": {}}]}]
    reasons = await kube.eventually(lambda: kube.event_reasons(admin, ns))
    assert "PoliciesBackedUp" in reasons


async def test_attaching_creates_a_policy_on_the_controllers_selector(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("attach"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))

    policy = await kube.wait_for_policy(admin, ns, "deploy-web-http")
    assert policy.spec is not None
    assert policy.spec.to_dict()["podSelector"] == {"matchLabels": {"app": "web"}}
    assert policy.spec.policyTypes == ["Ingress"]
    assert policy.metadata is not None
    labels = policy.metadata.labels or {}
    assert labels[naming.MANAGED_BY_LABEL] == "netfence"
    assert labels[naming.TEMPLATE_LABEL] == "http"
    assert labels[naming.CONTROLLER_NAME_LABEL] == "web"
    snapshot = json.loads((policy.metadata.annotations or {})[naming.SNAPSHOT_ANNOTATION])
    assert snapshot["name"] == "http"
    # The controller's pod template was not touched, so no pod would restart.
    deployment = await admin.get(Deployment, "web", namespace=ns)
    assert deployment.metadata is not None
    assert deployment.metadata.generation == 1


async def test_removing_the_label_removes_the_policy(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("detach"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http", "dns")))
    await kube.wait_for_policy(admin, ns, "deploy-web-dns")

    await label_template(admin, ns, "web", "dns", None)

    async def gone() -> bool:
        return await kube.policy_names(admin, ns) == DEFAULTS | {"deploy-web-http"}

    await kube.eventually(gone)


async def test_deleting_the_controller_removes_its_policies(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("delctl"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
    await kube.wait_for_policy(admin, ns, "deploy-web-http")

    await admin.delete(Deployment, "web", namespace=ns)

    async def gone() -> bool:
        return await kube.policy_names(admin, ns) == DEFAULTS

    await kube.eventually(gone)


@pytest.mark.parametrize("kind", ["StatefulSet", "DaemonSet", "CronJob"])
async def test_every_controller_kind_can_carry_templates(admin: AsyncClient, kind: str) -> None:
    ns = await kube.create_namespace(admin, kube.unique(kind.lower()), managed=True)
    await kube.create(admin, kube.deployment(ns, "job", templates=("https",), kind=kind))
    prefix = {"StatefulSet": "sts", "DaemonSet": "ds", "CronJob": "cj"}[kind]
    policy = await kube.wait_for_policy(admin, ns, f"{prefix}-job-https")
    assert policy.spec is not None
    assert policy.spec.to_dict()["podSelector"] == {"matchLabels": {"app": "job"}}


async def test_template_edits_leave_existing_policies_and_apply_to_new_ones(
    admin: AsyncClient, controller: Controller
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("snap"), managed=True)
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"snap-test": "ingress:\n- ports:\n  - port: 1111\n"}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )
    await kube.eventually(lambda: _has_template(controller, "snap-test", 1111))
    await kube.create(admin, kube.deployment(ns, "old", templates=("snap-test",)))
    await kube.wait_for_policy(admin, ns, OLD_SNAP)

    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"snap-test": "ingress:\n- ports:\n  - port: 2222\n"}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )
    await kube.eventually(lambda: _has_template(controller, "snap-test", 2222))
    await kube.create(admin, kube.deployment(ns, "new", templates=("snap-test",)))
    new = await kube.wait_for_policy(admin, ns, NEW_SNAP)
    old = await kube.get_policy(admin, ns, OLD_SNAP)
    assert old is not None
    assert old.spec is not None
    assert new.spec is not None
    assert old.spec.to_dict()["ingress"][0]["ports"][0]["port"] == 1111
    assert new.spec.to_dict()["ingress"][0]["ports"][0]["port"] == 2222

    # Deleting the template keeps both policies too.
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"snap-test": None}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )
    await kube.eventually(lambda: _lacks_template(controller, "snap-test"))
    await admin.patch(
        Deployment, "new", {"metadata": {"annotations": {"touch": "1"}}}, namespace=ns
    )
    assert {OLD_SNAP, NEW_SNAP} <= await kube.policy_names(admin, ns)


async def _has_template(controller: Controller, name: str, port: int) -> bool:
    template = controller.cache.catalog.templates.get(name)
    return template is not None and template.ingress[0]["ports"][0]["port"] == port


async def _lacks_template(controller: Controller, name: str) -> bool:
    return name not in controller.cache.catalog.templates


async def test_drift_is_repaired_from_the_snapshot(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("drift"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
    await kube.wait_for_policy(admin, ns, "deploy-web-http")

    # Someone widens the policy by hand, adding a list netfence never sets.
    await admin.patch(
        NetworkPolicy,
        "deploy-web-http",
        {"spec": {"egress": [{}], "policyTypes": ["Ingress", "Egress"]}},
        namespace=ns,
        patch_type=PatchType.MERGE,
    )

    async def repaired() -> bool:
        policy = await kube.get_policy(admin, ns, "deploy-web-http")
        return (
            policy is not None
            and policy.spec is not None
            and policy.spec.to_dict().get("egress") is None
            and policy.spec.policyTypes == ["Ingress"]
        )

    await kube.eventually(repaired)

    await admin.delete(NetworkPolicy, naming.DENY_ALL_INGRESS, namespace=ns)
    await kube.wait_for_policy(admin, ns, naming.DENY_ALL_INGRESS)


async def test_opting_out_removes_netfences_policies_only(admin: AsyncClient) -> None:
    ns = await kube.create_namespace(admin, kube.unique("optout"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("http",)))
    await kube.wait_for_policy(admin, ns, "deploy-web-http")
    await kube.create(admin, kube.foreign_policy(ns, "added-later"))

    await kube.set_namespace_label(admin, ns, None)

    async def only_foreign_left() -> bool:
        return await kube.policy_names(admin, ns) == {"added-later"}

    await kube.eventually(only_foreign_left)


async def test_refusals_are_reported_as_events(admin: AsyncClient) -> None:
    await kube.set_namespace_label(admin, "kube-system", "true")
    try:
        reasons = await kube.eventually(lambda: _reason(admin, "kube-system", "RefusedNamespace"))
        assert "kube-system" in reasons[0]
        assert await kube.policy_names(admin, "kube-system") == set()
    finally:
        await kube.set_namespace_label(admin, "kube-system", None)

    ns = await kube.create_namespace(admin, kube.unique("refuse"), managed=True)
    await kube.create(admin, kube.deployment(ns, "web", templates=("no-such-template", "http")))
    messages = await kube.eventually(lambda: _reason(admin, ns, "UnknownTemplate"))
    assert "templates.netfence.io/no-such-template" in messages[0]
    # The valid template on the same controller still applies.
    await kube.wait_for_policy(admin, ns, "deploy-web-http")

    plain = await kube.create_namespace(admin, kube.unique("plain"))
    await kube.create(admin, kube.deployment(plain, "web", templates=("http",)))
    messages = await kube.eventually(lambda: _reason(admin, plain, "NamespaceNotManaged"))
    assert "netfence enable" in messages[0]
    assert await kube.policy_names(admin, plain) == set()


async def test_a_broken_template_is_reported_and_the_others_keep_working(
    admin: AsyncClient, controller: Controller
) -> None:
    await admin.patch(
        ConfigMap,
        naming.TEMPLATES_CONFIGMAP,
        {"data": {"hand-broken": "ingress:\n- ports:\n  - port: 99999\n"}},
        namespace=NETFENCE_NS,
        patch_type=PatchType.MERGE,
    )
    try:
        await kube.eventually(lambda: _broken(controller, "hand-broken"))
        # Other tests may have left InvalidTemplate events there: wait for this one's.
        messages = await kube.eventually(
            lambda: _mentioning(admin, NETFENCE_NS, "InvalidTemplate", "hand-broken")
        )
        assert any("99999" in m for m in messages)
        ns = await kube.create_namespace(admin, kube.unique("broken"), managed=True)
        await kube.create(admin, kube.deployment(ns, "web", templates=("hand-broken", "http")))
        await kube.wait_for_policy(admin, ns, "deploy-web-http")
        messages = await kube.eventually(lambda: _reason(admin, ns, "InvalidTemplate"))
        assert "hand-broken" in messages[0]
    finally:
        await admin.patch(
            ConfigMap,
            naming.TEMPLATES_CONFIGMAP,
            {"data": {"hand-broken": None}},
            namespace=NETFENCE_NS,
            patch_type=PatchType.MERGE,
        )


async def _broken(controller: Controller, name: str) -> bool:
    return name in controller.cache.catalog.broken


async def _mentioning(client: AsyncClient, namespace: str, reason: str, text: str) -> list[str]:
    return [m for m in await _reason(client, namespace, reason) if text in m]


async def _reason(client: AsyncClient, namespace: str, reason: str) -> list[str]:
    return (await kube.event_reasons(client, namespace)).get(reason, [])
