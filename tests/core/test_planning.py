"""The planner: what a namespace should hold, and the safe order of getting there."""

from __future__ import annotations

import dataclasses

from netfence.core import naming, policies, templates
from netfence.core.objects import Backup, Namespace, Phase, Policy, Workload, WorkloadKind
from netfence.core.planning import (
    ApplyPolicy,
    DeletePolicy,
    NamespaceState,
    Plan,
    WriteBackup,
    plan_namespace,
)

HTTP = "ingress:\n- ports:\n  - port: 80\n"
HTTP_8080 = "ingress:\n- ports:\n  - port: 8080\n"
CATALOG = templates.parse_catalog({"http": HTTP, "broken": "ingress: [{portz: []}]"})
MANAGED = Namespace("team-a", {naming.MANAGED_NAMESPACE_LABEL: "true"})
UNMANAGED = Namespace("team-a", {})
ADOPTED = Backup("team-a", Phase.ADOPTED, {})


def web(*templates_: str, namespace: str = "team-a") -> Workload:
    labels = {naming.template_label_key(t): "true" for t in templates_}
    return Workload(
        namespace=namespace,
        kind=WorkloadKind.DEPLOYMENT,
        name="web",
        labels=labels,
        pod_selector={"matchLabels": {"app": "web"}},
    )


def foreign(name: str) -> Policy:
    return Policy("team-a", name, {}, {}, {"podSelector": {}, "policyTypes": ["Ingress"]})


def as_existing(manifest: dict[str, object]) -> Policy:
    metadata = manifest["metadata"]
    assert isinstance(metadata, dict)
    spec = manifest["spec"]
    assert isinstance(spec, dict)
    return Policy(
        metadata["namespace"],
        metadata["name"],
        metadata.get("labels", {}),
        metadata.get("annotations", {}),
        spec,
    )


def plan(state: NamespaceState, catalog: templates.Catalog = CATALOG, **kw: object) -> Plan:
    return plan_namespace(state, catalog, netfence_namespace="netfence-system", **kw)  # type: ignore[arg-type]


def converged(state: NamespaceState, result: Plan) -> NamespaceState:
    """Apply a plan to a state the way the cluster would."""
    existing = {p.name: p for p in state.policies}
    backup = state.backup
    for step in result.steps:
        if isinstance(step, WriteBackup):
            backup = Backup(step.namespace, step.phase, dict(step.entries))
        elif isinstance(step, DeletePolicy):
            existing.pop(step.name, None)
        elif isinstance(step, ApplyPolicy):
            existing[step.name] = as_existing(step.manifest)
    return NamespaceState(
        state.name, state.namespace, state.workloads, list(existing.values()), backup
    )


def test_opting_in_backs_up_then_creates_the_defaults_before_it_deletes_anything() -> None:
    state = NamespaceState("team-a", MANAGED, policies=[foreign("old-a"), foreign("old-b")])
    result = plan(state)
    kinds = [type(step).__name__ for step in result.steps]
    assert kinds == [
        "WriteBackup",
        "ApplyPolicy",
        "ApplyPolicy",
        "DeletePolicy",
        "DeletePolicy",
        "WriteBackup",
    ]
    assert all(s.prune for s in result.steps if isinstance(s, DeletePolicy))
    first = result.steps[0]
    assert isinstance(first, WriteBackup)
    assert first.phase is Phase.PRUNING
    assert sorted(first.entries) == ["old-a", "old-b"]
    assert first.entries["old-a"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    created = [s.name for s in result.steps if isinstance(s, ApplyPolicy)]
    assert created == ["deny-all-ingress", "allow-namespace-communication"]
    last = result.steps[-1]
    assert isinstance(last, WriteBackup)
    assert last.phase is Phase.ADOPTED


def test_deletes_and_updates_carry_the_version_they_were_planned_from() -> None:
    old = dataclasses.replace(foreign("old-a"), uid="u-1", resource_version="41")
    result = plan(NamespaceState("team-a", MANAGED, policies=[old]))
    delete = next(s for s in result.steps if isinstance(s, DeletePolicy))
    assert (delete.uid, delete.resource_version) == ("u-1", "41")


def test_a_policy_being_adopted_under_a_default_name_is_replaced_in_one_write() -> None:
    same = dataclasses.replace(foreign(naming.DENY_ALL_INGRESS), uid="u-2", resource_version="7")
    result = plan(NamespaceState("team-a", MANAGED, policies=[same]))
    takeover = next(
        s for s in result.steps if isinstance(s, ApplyPolicy) and s.name == naming.DENY_ALL_INGRESS
    )
    assert takeover.takeover
    assert takeover.resource_version == "7"
    assert not [s for s in result.steps if isinstance(s, DeletePolicy)]
    backup = result.steps[0]
    assert isinstance(backup, WriteBackup)
    assert naming.DENY_ALL_INGRESS in backup.entries


def test_the_defaults_deny_ingress_and_allow_the_namespace() -> None:
    deny, allow = policies.baseline_policies("team-a")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert allow["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}]}],
    }
    assert deny["metadata"]["labels"][naming.MANAGED_BY_LABEL] == "netfence"


def test_a_converged_namespace_plans_nothing() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], policies=[foreign("old")])
    after = converged(state, plan(state))
    assert plan(after).steps == ()


def test_a_crash_after_the_backup_resumes_without_losing_the_policy() -> None:
    state = NamespaceState("team-a", MANAGED, policies=[foreign("old")])
    first = plan(state)
    # Only the backup write landed before the crash.
    crashed = NamespaceState(
        "team-a",
        MANAGED,
        policies=state.policies,
        backup=Backup("team-a", Phase.PRUNING, dict(first.steps[0].entries)),  # type: ignore[union-attr]
    )
    resumed = plan(crashed)
    assert not any(isinstance(s, WriteBackup) and s.phase is Phase.PRUNING for s in resumed.steps)
    assert [s.name for s in resumed.steps if isinstance(s, DeletePolicy)] == ["old"]
    assert isinstance(resumed.steps[-1], WriteBackup)
    assert "old" in resumed.steps[-1].entries


def test_a_crash_after_the_delete_still_creates_the_defaults_and_keeps_the_backup() -> None:
    entry = foreign("old").manifest()
    crashed = NamespaceState(
        "team-a", MANAGED, policies=[], backup=Backup("team-a", Phase.PRUNING, {"old": entry})
    )
    resumed = plan(crashed)
    assert [s.name for s in resumed.steps if isinstance(s, ApplyPolicy)] == [
        "deny-all-ingress",
        "allow-namespace-communication",
    ]
    last = resumed.steps[-1]
    assert isinstance(last, WriteBackup)
    assert last.entries == {"old": entry}


def test_a_policy_made_after_opt_in_by_someone_else_is_left_alone() -> None:
    state = NamespaceState("team-a", MANAGED, policies=[foreign("theirs")], backup=ADOPTED)
    result = plan(state)
    assert not any(isinstance(s, DeletePolicy) for s in result.steps)
    assert not any(isinstance(s, WriteBackup) for s in result.steps)


def test_attaching_a_template_selects_pods_through_the_controllers_selector() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    applies = [s for s in plan(state).steps if isinstance(s, ApplyPolicy)]
    policy = applies[-1].manifest
    assert policy["metadata"]["name"] == "deploy-web-http"
    assert policy["spec"] == {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}]}],
    }
    labels = policy["metadata"]["labels"]
    assert labels[naming.TEMPLATE_LABEL] == "http"
    assert labels[naming.CONTROLLER_KIND_LABEL] == "deployment"
    assert labels[naming.CONTROLLER_NAME_LABEL] == "web"
    annotations = policy["metadata"]["annotations"]
    assert annotations[naming.CONTROLLER_ANNOTATION] == "Deployment/web"
    assert policies.template_from_snapshot(annotations[naming.SNAPSHOT_ANNOTATION]).ingress == (
        {"ports": [{"port": 80}]},
    )


def test_editing_a_template_does_not_change_an_existing_policy() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    state = converged(state, plan(state))
    edited = templates.parse_catalog({"http": HTTP_8080})
    assert plan(state, edited).steps == ()


def test_a_deleted_policy_comes_back_from_its_snapshot_not_from_the_new_template() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    first = plan(state)
    state = converged(state, first)
    gone = NamespaceState(
        "team-a",
        MANAGED,
        state.workloads,
        [p for p in state.policies if p.name != "deploy-web-http"],
        ADOPTED,
    )
    edited = templates.parse_catalog({"http": HTTP_8080})
    again = plan(gone, edited, remembered=first.snapshots)
    (restored,) = [s for s in again.steps if isinstance(s, ApplyPolicy)]
    assert restored.manifest["spec"]["ingress"] == [{"ports": [{"port": 80, "protocol": "TCP"}]}]


def test_a_reattach_after_detach_uses_the_current_template() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    state = converged(state, plan(state))
    detached = NamespaceState("team-a", MANAGED, [web()], state.policies, ADOPTED)
    detach_plan = plan(detached)
    assert [s.name for s in detach_plan.steps if isinstance(s, DeletePolicy)] == ["deploy-web-http"]
    state = converged(detached, detach_plan)
    reattached = NamespaceState("team-a", MANAGED, [web("http")], state.policies, ADOPTED)
    edited = templates.parse_catalog({"http": HTTP_8080})
    (created,) = [
        s
        for s in plan(reattached, edited, remembered=detach_plan.snapshots).steps
        if isinstance(s, ApplyPolicy)
    ]
    assert created.manifest["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_an_edited_managed_policy_is_put_back() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    state = converged(state, plan(state))
    tampered = [
        Policy(p.namespace, p.name, p.labels, p.annotations, {"podSelector": {}})
        if p.name == "deploy-web-http"
        else p
        for p in state.policies
    ]
    result = plan(NamespaceState("team-a", MANAGED, state.workloads, tampered, ADOPTED))
    (repair,) = result.steps
    assert isinstance(repair, ApplyPolicy)
    assert repair.exists
    assert repair.notice is not None
    assert repair.notice.reason == "PolicyRepaired"


def test_the_api_servers_defaults_are_not_mistaken_for_drift() -> None:
    desired = policies.attachment_policy(web("http"), CATALOG.templates["http"])
    stored_spec = {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"ports": [{"port": 80, "protocol": "TCP"}], "from": []}],
    }
    metadata = desired["metadata"]
    assert not policies.differs(
        desired, labels=metadata["labels"], annotations=metadata["annotations"], spec=stored_spec
    )


def test_opting_out_removes_only_what_netfence_made_and_keeps_the_backup() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], policies=[foreign("old")])
    state = converged(state, plan(state))
    state = NamespaceState(
        "team-a", UNMANAGED, state.workloads, [*state.policies, foreign("new")], state.backup
    )
    result = plan(state)
    deleted = sorted(s.name for s in result.steps if isinstance(s, DeletePolicy))
    assert deleted == ["allow-namespace-communication", "deny-all-ingress", "deploy-web-http"]
    released = result.steps[-1]
    assert isinstance(released, WriteBackup)
    assert released.phase is Phase.RELEASED
    assert "old" in released.entries
    assert [n.reason for n in result.refusals] == ["NamespaceNotManaged"]


def test_system_namespaces_and_netfences_own_are_refused_untouched() -> None:
    for name in ("kube-system", "kube-public", "kube-node-lease", "netfence-system"):
        namespace = Namespace(name, {naming.MANAGED_NAMESPACE_LABEL: "true"})
        result = plan(NamespaceState(name, namespace, policies=[foreign("x")]))
        assert result.steps == ()
        (refusal,) = result.refusals
        assert refusal.reason == "RefusedNamespace"
        assert name in refusal.message


def test_a_missing_template_is_reported_and_the_others_still_apply() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http", "nope")], backup=ADOPTED)
    result = plan(state)
    assert [s.name for s in result.steps if isinstance(s, ApplyPolicy)] == [
        "deny-all-ingress",
        "allow-namespace-communication",
        "deploy-web-http",
    ]
    (refusal,) = result.refusals
    assert refusal.reason == "UnknownTemplate"
    assert "templates.netfence.io/nope" in refusal.message
    assert "http" in refusal.message
    assert "did you mean" not in refusal.message  # nothing is close to "nope"


def test_a_mistyped_template_name_gets_the_close_one_suggested() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("htpp")], backup=ADOPTED)
    (refusal,) = plan(state).refusals
    assert refusal.reason == "UnknownTemplate"
    assert refusal.message.startswith(
        "template htpp does not exist and was not applied; did you mean http?"
    ), refusal.message


def test_a_broken_template_is_reported_with_its_field() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("broken")], backup=ADOPTED)
    (refusal,) = plan(state).refusals
    assert refusal.reason == "InvalidTemplate"
    assert "portz" in refusal.message


def test_a_deleted_controller_loses_its_policy() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    state = converged(state, plan(state))
    result = plan(NamespaceState("team-a", MANAGED, [], state.policies, ADOPTED))
    (delete,) = result.steps
    assert isinstance(delete, DeletePolicy)
    assert delete.notice is not None
    assert "no longer exists" in delete.notice.message


def test_a_foreign_policy_holding_netfences_name_is_never_overwritten() -> None:
    state = NamespaceState(
        "team-a",
        MANAGED,
        workloads=[web("http")],
        policies=[foreign("deploy-web-http")],
        backup=ADOPTED,
    )
    result = plan(state)
    assert "deploy-web-http" not in [s.name for s in result.steps if isinstance(s, ApplyPolicy)]
    assert [n.reason for n in result.refusals] == ["PolicyNameTaken"]


def test_a_cronjob_without_pod_labels_is_refused_with_the_fix() -> None:
    job = Workload(
        "team-a", WorkloadKind.CRONJOB, "nightly", {naming.template_label_key("http"): "true"}, None
    )
    state = NamespaceState("team-a", MANAGED, workloads=[job], backup=ADOPTED)
    (refusal,) = plan(state).refusals
    assert refusal.reason == "NoPodSelector"
    assert "spec.jobTemplate.spec.template.metadata.labels" in refusal.message


def test_long_names_still_make_valid_policy_names_and_labels() -> None:
    name = "w" * 250
    policy_name = naming.attachment_policy_name("Deployment", name, "http")
    assert len(policy_name) <= 253
    assert len(naming.label_value_for(name)) <= 63
    assert naming.label_value_for(name) != naming.label_value_for(name + "x")


def test_opting_in_an_empty_namespace_reports_no_backup() -> None:
    result = plan(NamespaceState("team-a", MANAGED))
    first = result.steps[0]
    assert isinstance(first, WriteBackup)
    assert first.notice is None
    assert [s.notice.reason for s in result.steps if s.notice][-1] == "NamespaceManaged"


def test_an_explicit_update_renders_the_current_template_and_only_that_version() -> None:
    state = NamespaceState("team-a", MANAGED, workloads=[web("http")], backup=ADOPTED)
    state = converged(state, plan(state))
    edited = templates.parse_catalog({"http": HTTP_8080})
    version = policies.version_of(edited.templates["http"])
    asked = Workload(
        namespace="team-a",
        kind=WorkloadKind.DEPLOYMENT,
        name="web",
        labels=web("http").labels,
        pod_selector=web("http").pod_selector,
        refresh_requests={"http": version},
    )
    updated = plan(NamespaceState("team-a", MANAGED, [asked], state.policies, ADOPTED), edited)
    (step,) = updated.steps
    assert isinstance(step, ApplyPolicy)
    assert step.manifest["spec"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    state = converged(NamespaceState("team-a", MANAGED, [asked], state.policies, ADOPTED), updated)
    # A later edit of the template does not ride on the old request.
    later = templates.parse_catalog({"http": "ingress:\n- ports:\n  - port: 9999\n"})
    assert plan(state, later).steps == ()


def test_a_deleted_namespace_releases_its_backup_so_a_namesake_starts_afresh() -> None:
    entry = foreign("old").manifest()
    result = plan(
        NamespaceState("team-a", None, backup=Backup("team-a", Phase.ADOPTED, {"old": entry}))
    )
    (step,) = result.steps
    assert isinstance(step, WriteBackup)
    assert step.phase is Phase.RELEASED
    assert step.entries == {"old": entry}


def test_a_caller_who_cannot_read_backups_still_sees_a_managed_namespace() -> None:
    from netfence.core.summaries import summarize_namespace

    state = NamespaceState("team-a", MANAGED, workloads=[web("http")])
    state = converged(state, plan(state))
    unreadable = NamespaceState("team-a", MANAGED, state.workloads, state.policies, None)
    summary = summarize_namespace(unreadable, netfence_namespace="netfence-system")
    assert summary.state == "managed"
    assert (
        summarize_namespace(
            NamespaceState("team-a", MANAGED), netfence_namespace="netfence-system"
        ).state
        == "enabling"
    )


def test_attachment_policy_names_are_one_per_controller_and_template() -> None:
    import random

    rng = random.Random(7)  # noqa: S311 - reproducible test data
    parts = ["a", "web", "api", "web-api", "api-http", "http", "x-y-z", "db"]
    seen: dict[str, tuple[str, str, str]] = {}
    for _ in range(4000):
        kind = rng.choice(["Deployment", "StatefulSet", "DaemonSet", "CronJob"])
        controller = "-".join(rng.choice(parts) for _ in range(rng.randint(1, 3)))
        template = "-".join(rng.choice(parts) for _ in range(rng.randint(1, 2)))
        name = naming.attachment_policy_name(kind, controller, template)
        assert len(name) <= 253
        assert seen.setdefault(name, (kind, controller, template)) == (kind, controller, template)
    # The reported collision: two pairs that used to share deploy-web-api-http.
    assert naming.attachment_policy_name("Deployment", "web-api", "http") != (
        naming.attachment_policy_name("Deployment", "web", "api-http")
    )
    # Readable where it can be: a template without a dash keeps the plain name.
    assert naming.attachment_policy_name("Deployment", "web-api", "http") == "deploy-web-api-http"
    long = naming.attachment_policy_name("Deployment", "w" * 250, "http")
    assert len(long) == 253
