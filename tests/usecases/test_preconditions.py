"""Each precondition of a person's use case, written once and pinned here with a fake cluster.

Where the CLI and the console used to disagree, the stricter rule won: attaching into an
unmanaged namespace is refused everywhere, and a restore the caller may not make is refused
before the namespace is disabled.
"""

from __future__ import annotations

import pytest

from netfence.core import errors, naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import Backup, Phase, Policy, Workload, WorkloadKind, WorkloadRef
from netfence.usecases import attachments, namespaces, templates
from tests.usecases.fakes import NETFENCE_NS, FakeCluster

WEB = WorkloadRef(WorkloadKind.DEPLOYMENT, "web")


def cluster(*, managed: bool = True, denied: tuple[str, ...] = ()) -> FakeCluster:
    fake = FakeCluster(denied=denied)
    fake.add_namespace("shop", managed=managed)
    fake.add_workload(
        Workload(
            "shop",
            WorkloadKind.DEPLOYMENT,
            "web",
            pod_selector={"matchLabels": {"app": "web"}},
            pod_labels={"app": "web"},
        )
    )
    fake.set_catalog(DEFAULT_TEMPLATES)
    return fake


# --- attaching -------------------------------------------------------------------------


async def test_attaching_into_an_unmanaged_namespace_is_refused_and_writes_nothing() -> None:
    fake = cluster(managed=False)
    with pytest.raises(errors.Refused, match=r"not managed by netfence.*netfence enable shop"):
        await attachments.attach(fake.ports(), "shop", WEB, "http")
    assert fake.writes == []


async def test_the_attach_preview_refuses_an_unmanaged_namespace_too() -> None:
    fake = cluster(managed=False)
    with pytest.raises(errors.Refused, match="not managed"):
        await attachments.preview(fake.ports(), "shop", WEB, "http", attach=True)


async def test_an_unknown_template_is_named_with_the_known_ones() -> None:
    fake = cluster()
    with pytest.raises(errors.NotFound, match="template htp does not exist; did you mean") as e:
        await attachments.attach(fake.ports(), "shop", WEB, "htp")
    assert e.value.field == "template"
    assert "did you mean http or https? known templates: dns," in str(e.value)
    assert fake.writes == []


async def test_a_broken_template_is_refused_with_its_problem() -> None:
    fake = cluster()
    fake.set_catalog({**DEFAULT_TEMPLATES, "bad": "ingress:\n- ports:\n  - port: 99999\n"})
    with pytest.raises(errors.Rejected, match="99999") as e:
        await attachments.attach(fake.ports(), "shop", WEB, "bad")
    assert e.value.field == "template"
    assert fake.writes == []


async def test_attaching_to_a_controller_that_does_not_exist_is_not_found() -> None:
    fake = cluster()
    with pytest.raises(errors.NotFound, match=r"Deployment nope does not exist in namespace shop$"):
        await attachments.attach(
            fake.ports(), "shop", WorkloadRef(WorkloadKind.DEPLOYMENT, "nope"), "http"
        )


async def test_attaching_labels_the_controller_and_names_the_policy() -> None:
    fake = cluster()
    policy = await attachments.attach(fake.ports(), "shop", WEB, "http")
    assert policy == "deploy-web-http"
    assert fake.writes == ["label Deployment/web http=True"]


async def test_detaching_a_template_that_is_not_attached_cannot_be_previewed() -> None:
    fake = cluster()
    with pytest.raises(errors.NotFound, match="template http is not attached to Deployment/web"):
        await attachments.preview(fake.ports(), "shop", WEB, "http", attach=False)


async def test_an_attach_preview_lists_the_policy_and_its_effect() -> None:
    fake = cluster()
    preview = await attachments.preview(fake.ports(), "shop", WEB, "http", attach=True)
    assert "deploy-web-http" in [m["metadata"]["name"] for m in preview.changes.created]
    assert not isinstance(preview.impact, str)
    assert fake.writes == []


async def test_the_impact_is_a_sentence_when_the_caller_may_read_nothing_more() -> None:
    fake = cluster(denied=("list namespaces",))
    preview = await attachments.preview(fake.ports(), "shop", WEB, "http", attach=True)
    # Only the namespace could be read: the impact is computed from it, and says so.
    assert not isinstance(preview.impact, str)
    assert preview.impact is not None
    assert not preview.impact.complete
    assert "only shop is analysed" in preview.impact.notes[0]


# --- enabling and disabling ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["kube-system", "kube-public", "kube-node-lease", NETFENCE_NS])
async def test_system_namespaces_are_never_enabled_nor_previewed(name: str) -> None:
    fake = cluster()
    fake.add_namespace(name)
    with pytest.raises(errors.Refused, match="will not manage"):
        await namespaces.enable(fake.ports(), name)
    with pytest.raises(errors.Refused, match="will not manage"):
        await namespaces.preview_enable(fake.ports(), name)
    assert fake.writes == []


async def test_the_enable_preview_plans_once_and_lists_what_it_backs_up() -> None:
    fake = cluster(managed=False)
    fake.add_policy(Policy("shop", "old", spec={"podSelector": {}}))
    preview = await namespaces.preview_enable(fake.ports(), "shop")
    assert [p.name for p in preview.backed_up] == ["old"]
    assert preview.deletes == ["old"]
    assert sorted(s.name for s in preview.creates) == sorted(
        [naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION]
    )
    assert fake.writes == []


async def test_enabling_a_missing_namespace_is_not_found() -> None:
    fake = cluster()
    with pytest.raises(errors.NotFound, match="namespace nope does not exist"):
        await namespaces.enable(fake.ports(), "nope")


async def test_a_restore_the_caller_may_not_make_is_refused_before_anything_changes() -> None:
    fake = cluster(denied=("create networkpolicies",))
    with pytest.raises(errors.AccessDenied, match="Nothing was changed"):
        await namespaces.disable(fake.ports(), "shop", restore=True)
    assert fake.writes == []
    assert fake.namespace_objects["shop"].wants_management


async def test_disabling_with_restore_recreates_only_what_is_missing() -> None:
    fake = cluster()
    fake.add_policy(Policy("shop", "kept", spec={"podSelector": {}}))
    entries = {
        "kept": Policy("shop", "kept", spec={"podSelector": {}}).manifest(),
        "gone": Policy("shop", "gone", spec={"podSelector": {}}).manifest(),
        "garbled": {"$unparsed": "{not: yaml"},
    }
    fake.backups["shop"] = Backup("shop", Phase.ADOPTED, entries)
    result = await namespaces.disable(fake.ports(), "shop", restore=True, wait=1)
    assert result.was_managed
    assert result.restore is not None
    assert result.restore.restored == ["gone"]
    assert result.restore.skipped == {
        "kept": "a policy of that name exists",
        "garbled": "its backup entry is not valid YAML",
    }


# --- templates -------------------------------------------------------------------------


async def test_a_template_written_on_a_stale_catalog_is_refused_not_lost() -> None:
    fake = cluster()
    stale = (await fake.catalog()).resource_version
    fake.set_catalog({**DEFAULT_TEMPLATES, "someone-else": "egress:\n- ports:\n  - port: 1\n"})
    with pytest.raises(errors.Conflict):
        await templates.apply(
            fake.ports(), {"mine": "egress:\n- ports:\n  - port: 2\n"}, resource_version=stale
        )
    assert fake.catalog_data is not None
    assert "someone-else" in fake.catalog_data
    assert "mine" not in fake.catalog_data


async def test_one_bad_template_in_a_batch_writes_none() -> None:
    fake = cluster()
    with pytest.raises(errors.InvalidTemplate):
        await templates.apply(
            fake.ports(),
            {"good": "egress:\n- ports:\n  - port: 2\n", "bad": "egress:\n- ports:\n  - port: 0\n"},
        )
    assert fake.writes == []


async def test_deleting_an_unknown_template_is_not_found() -> None:
    fake = cluster()
    with pytest.raises(errors.NotFound, match="template nope does not exist"):
        await templates.delete(fake.ports(), "nope")


async def test_the_first_template_creates_the_catalog() -> None:
    fake = FakeCluster()
    applied = await templates.apply(fake.ports(), {"mine": "egress:\n- ports:\n  - port: 2\n"})
    assert applied.created == ["mine"]
    assert fake.writes == ["create catalog"]


async def test_a_caller_who_may_not_label_controllers_is_refused_and_nothing_changes() -> None:
    fake = cluster(denied=("patch deployments",))
    with pytest.raises(errors.AccessDenied, match="may not patch deployments"):
        await attachments.attach(fake.ports(), "shop", WEB, "http")
    assert fake.writes == []


async def test_a_caller_who_may_not_read_the_namespace_is_told_they_may_not_attach() -> None:
    fake = cluster(denied=("get namespaces",))
    with pytest.raises(errors.AccessDenied, match="may not attach templates to controllers in"):
        await attachments.attach(fake.ports(), "shop", WEB, "http")
    assert fake.writes == []


async def test_enabling_is_refused_to_who_may_not_label_namespaces_even_if_managed() -> None:
    fake = cluster(managed=True, denied=("patch namespaces",))
    with pytest.raises(errors.AccessDenied, match="may not patch namespaces"):
        await namespaces.enable(fake.ports(), "shop")


async def test_the_enable_preview_says_when_the_backup_needs_several_configmaps() -> None:
    fake = cluster(managed=False)
    blocks = [{"ipBlock": {"cidr": f"10.{i // 256}.{i % 256}.0/24"}} for i in range(9000)]
    for index in range(3):
        fake.add_policy(
            Policy("shop", f"big-{index}", spec={"podSelector": {}, "ingress": [{"from": blocks}]})
        )
    preview = await namespaces.preview_enable(fake.ports(), "shop", impact=False)
    assert any(
        "written as 2 ConfigMaps" in w or "written as 3 ConfigMaps" in w for w in preview.warnings
    ), preview.warnings
