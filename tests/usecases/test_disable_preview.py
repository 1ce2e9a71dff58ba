"""The disable preview: what opting out deletes, what restoring puts back, and the effect.

(The fake's controllers declare container port 8080.)
"""

from __future__ import annotations

import pytest

from netfence.core import errors, naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import Backup, JsonDict, Phase, Policy, Workload, WorkloadKind
from netfence.usecases import connectivity, namespaces
from tests.usecases.fakes import FakeCluster

WEB = Workload(
    "shop",
    WorkloadKind.DEPLOYMENT,
    "web",
    pod_selector={"matchLabels": {"app": "web"}},
    pod_labels={"app": "web"},
)
CLIENT = Workload(
    "other",
    WorkloadKind.DEPLOYMENT,
    "client",
    pod_selector={"matchLabels": {"app": "client"}},
    pod_labels={"app": "client"},
)
OWN_NAMESPACE_ONLY: JsonDict = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "legacy", "namespace": "shop"},
    "spec": {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
}


def _baseline(name: str) -> Policy:
    labels = {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.ROLE_LABEL: naming.ROLE_BASELINE,
    }
    spec: dict[str, object] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    if name == naming.ALLOW_NAMESPACE_COMMUNICATION:
        spec["ingress"] = [{"from": [{"podSelector": {}}]}]
    return Policy("shop", name, labels=labels, spec=spec)


def opted_in(*, backup: dict[str, JsonDict] | None) -> FakeCluster:
    fake = FakeCluster()
    fake.add_namespace("shop", managed=True)
    fake.add_namespace("other")
    fake.add_workload(WEB)
    fake.add_workload(CLIENT)
    fake.set_catalog(DEFAULT_TEMPLATES)
    for name in naming.BASELINE_POLICY_NAMES:
        fake.add_policy(_baseline(name))
    if backup is not None:
        fake.backups["shop"] = Backup("shop", Phase.ADOPTED, backup)
    return fake


def _newly_allowed(preview: namespaces.DisablePreview) -> set[tuple[str, str, int]]:
    assert isinstance(preview.impact, connectivity.Impact), preview.impact
    return {(c.source.key, c.destination.key, c.port) for c in preview.impact.report.newly_allowed}


async def test_restoring_puts_the_backup_back_and_keeps_what_it_allowed() -> None:
    fake = opted_in(backup={"legacy": OWN_NAMESPACE_ONLY})
    restoring = await namespaces.preview_disable(fake.ports(), "shop", restore=True)
    assert sorted(restoring.deletes) == sorted(naming.BASELINE_POLICY_NAMES)
    assert restoring.restores == ("legacy",)
    assert [m["metadata"]["name"] for m in restoring.restored] == ["legacy"]
    assert restoring.remaining == ("legacy",)
    assert restoring.warnings == []
    # legacy lets only shop reach shop, as the defaults did: nothing opens up.
    assert _newly_allowed(restoring) == set()

    plain = await namespaces.preview_disable(fake.ports(), "shop", restore=False)
    assert plain.restored == ()
    assert ("other/Deployment/client", "shop/Deployment/web", 8080) in _newly_allowed(plain)
    assert any("every pod there would accept traffic from anywhere" in w for w in plain.warnings)
    assert fake.writes == []


async def test_a_backed_up_policy_whose_name_is_taken_is_skipped_as_the_restore_would() -> None:
    fake = opted_in(backup={"legacy": OWN_NAMESPACE_ONLY})
    fake.add_policy(Policy("shop", "legacy", spec={"podSelector": {}}))
    preview = await namespaces.preview_disable(fake.ports(), "shop", restore=True, impact=False)
    assert preview.restored == ()
    assert preview.skipped == {"legacy": "a policy of that name exists"}


async def test_a_restore_the_caller_may_not_make_is_refused_by_the_preview_too() -> None:
    fake = opted_in(backup={"legacy": OWN_NAMESPACE_ONLY})
    fake.denied.add("create networkpolicies")
    with pytest.raises(errors.AccessDenied, match="You may not restore the backup of shop"):
        await namespaces.preview_disable(fake.ports(), "shop", restore=True)
    plain = await namespaces.preview_disable(fake.ports(), "shop", restore=False, impact=False)
    assert plain.backed_up == ("legacy",)


async def test_without_a_backup_there_is_nothing_to_restore() -> None:
    fake = opted_in(backup=None)
    preview = await namespaces.preview_disable(fake.ports(), "shop", restore=True, impact=False)
    assert not preview.has_backup
    assert preview.restored == ()
    assert sorted(preview.deletes) == sorted(naming.BASELINE_POLICY_NAMES)


async def test_an_unmanaged_namespace_previews_no_change() -> None:
    fake = opted_in(backup=None)
    fake.add_namespace("shop", managed=False)
    fake.policies.clear()
    preview = await namespaces.preview_disable(fake.ports(), "shop", restore=False)
    assert preview.deletes == ()
    assert preview.warnings == ["netfence does not manage shop: disabling changes nothing."]
    assert _newly_allowed(preview) == set()
