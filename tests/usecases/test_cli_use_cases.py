"""The use cases behind the CLI's kubectl conventions: did-you-mean, who leads, selectors,
dry runs of disable and of a template apply."""

from __future__ import annotations

import datetime

import pytest

from netfence.core import errors, naming, selectors
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import (
    Backup,
    Namespace,
    Phase,
    Policy,
    Workload,
    WorkloadKind,
    WorkloadRef,
)
from netfence.usecases import attachments, leadership, namespaces, templates
from netfence.usecases.ports import LeaseRecord
from tests.usecases.fakes import NETFENCE_NS, FakeCluster

NOW = datetime.datetime(2026, 12, 2, 1, 0, tzinfo=datetime.UTC)
LEASE = f"{NETFENCE_NS}/{naming.LEADER_LEASE}"


def shop() -> FakeCluster:
    fake = FakeCluster()
    fake.add_namespace("shop", managed=True)
    for kind, name in ((WorkloadKind.DEPLOYMENT, "frontend"), (WorkloadKind.STATEFULSET, "db")):
        fake.add_workload(Workload("shop", kind, name, pod_selector={"matchLabels": {"app": name}}))
    fake.set_catalog(DEFAULT_TEMPLATES)
    return fake


# --- did you mean ------------------------------------------------------------------------


async def test_a_mistyped_controller_is_answered_with_the_close_one() -> None:
    with pytest.raises(errors.NotFound, match=r"did you mean deployment/frontend\?$"):
        await attachments.attach(
            shop().ports(), "shop", WorkloadRef(WorkloadKind.DEPLOYMENT, "frontnd"), "http"
        )


async def test_a_controller_of_another_kind_is_suggested_by_its_name() -> None:
    with pytest.raises(errors.NotFound, match=r"did you mean statefulset/db\?$"):
        await attachments.preview(
            shop().ports(), "shop", WorkloadRef(WorkloadKind.DEPLOYMENT, "db"), "http", attach=True
        )


async def test_showing_a_mistyped_template_suggests_the_close_ones() -> None:
    with pytest.raises(errors.NotFound) as e:
        await templates.show(shop().ports(), "htp")
    assert str(e.value).startswith("template htp does not exist; did you mean http or https?")


async def test_a_name_like_nothing_known_gets_no_suggestion() -> None:
    with pytest.raises(errors.NotFound) as e:
        await templates.delete(shop().ports(), "zzzzzz")
    assert "did you mean" not in str(e.value)
    assert "known templates: dns" in str(e.value)


# --- who leads ---------------------------------------------------------------------------


async def test_without_a_lease_no_controller_ever_ran() -> None:
    found = await leadership.leadership(shop(), netfence_namespace=NETFENCE_NS, now=NOW)
    assert found.live is False
    assert found.problem is not None
    assert f"the Lease {LEASE} does not exist" in found.problem


async def test_a_lease_renewed_within_its_duration_has_a_live_holder() -> None:
    fake = shop()
    renewed = NOW - datetime.timedelta(seconds=10)
    fake.lease = LeaseRecord(NETFENCE_NS, naming.LEADER_LEASE, "pod-a", renewed, 15)
    found = await leadership.leadership(fake, netfence_namespace=NETFENCE_NS, now=NOW)
    assert (found.live, found.holder, found.problem) == (True, "pod-a", None)


async def test_a_lease_not_renewed_for_longer_than_its_duration_is_held_by_no_one() -> None:
    fake = shop()
    renewed = NOW - datetime.timedelta(minutes=5)
    fake.lease = LeaseRecord(NETFENCE_NS, naming.LEADER_LEASE, "pod-a", renewed, 15)
    found = await leadership.leadership(fake, netfence_namespace=NETFENCE_NS, now=NOW)
    assert found.live is False
    assert found.problem is not None
    assert "last renewed 5m ago by pod-a" in found.problem


async def test_a_released_lease_says_the_last_controller_stopped() -> None:
    fake = shop()
    fake.lease = LeaseRecord(NETFENCE_NS, naming.LEADER_LEASE, None, None, 15)
    found = await leadership.leadership(fake, netfence_namespace=NETFENCE_NS, now=NOW)
    assert found.live is False
    assert found.problem is not None
    assert "released by the last controller that stopped" in found.problem


async def test_a_caller_who_may_not_read_the_lease_is_told_nothing_either_way() -> None:
    fake = FakeCluster(denied=("get leases",))
    found = await leadership.leadership(fake, netfence_namespace=NETFENCE_NS, now=NOW)
    assert (found.live, found.problem) == (None, None)


# --- selectors ---------------------------------------------------------------------------


async def test_status_and_policies_keep_what_the_selector_matches() -> None:
    fake = shop()
    fake.namespace_objects["team-b"] = Namespace("team-b", {"team": "b"})
    fake.add_policy(Policy("shop", "legacy", labels={"tier": "old"}))
    fake.add_policy(Policy("team-b", "other"))
    team = selectors.parse_query("team=b")
    assert [s.name for s in await namespaces.status(fake.ports(), selector=team)] == ["team-b"]
    old = selectors.parse_query("tier in (old,older)")
    assert [p.name for p in await namespaces.policies(fake.ports(), None, selector=old)] == [
        "legacy"
    ]
    everywhere = await namespaces.policies(fake.ports(), None)
    assert {(p.namespace, p.name) for p in everywhere} == {("shop", "legacy"), ("team-b", "other")}


# --- dry runs ----------------------------------------------------------------------------


async def test_the_disable_preview_lists_what_goes_and_what_comes_back_and_writes_nothing() -> None:
    fake = shop()
    fake.add_policy(
        Policy(
            "shop",
            naming.DENY_ALL_INGRESS,
            labels={
                naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
                naming.ROLE_LABEL: naming.ROLE_BASELINE,
            },
        )
    )
    fake.add_policy(Policy("shop", "kept"))
    fake.backups["shop"] = Backup(
        "shop",
        Phase.ADOPTED,
        {
            "kept": Policy("shop", "kept").manifest(),
            "legacy": Policy("shop", "legacy", spec={"podSelector": {}}).manifest(),
        },
    )
    preview = await namespaces.preview_disable(fake.ports(), "shop", restore=True, impact=False)
    assert preview.was_managed
    assert preview.deletes == (naming.DENY_ALL_INGRESS,)
    assert preview.restores == ("legacy",)
    assert preview.skipped == {"kept": "a policy of that name exists"}
    assert fake.writes == []
    assert fake.namespace_objects["shop"].wants_management


async def test_the_disable_preview_refuses_a_restore_the_caller_may_not_make() -> None:
    fake = shop()
    fake.denied.add("create networkpolicies")
    with pytest.raises(errors.AccessDenied, match="disable without restoring it"):
        await namespaces.preview_disable(fake.ports(), "shop", restore=True)


async def test_a_template_dry_run_validates_and_says_what_would_change_writing_nothing() -> None:
    fake = shop()
    before = fake.catalog_version
    applied = await templates.apply(
        fake.ports(),
        {"http": DEFAULT_TEMPLATES["http"], "mine": "egress:\n- ports:\n  - port: 2\n"},
        dry_run=True,
    )
    assert (applied.created, applied.configured) == (["mine"], ["http"])
    assert fake.catalog_version == before
    with pytest.raises(errors.InvalidTemplate):
        await templates.apply(fake.ports(), {"bad": "egress: 3\n"}, dry_run=True)
