"""Deciding a caller's visibility: which questions go to the cluster, and what they decide.

The fake is a small RBAC authorizer: cluster-wide grants, per-namespace grants and the
bindings that nominate namespaces, answering SelfSubjectAccessReview and
SelfSubjectRulesReview as the API server would for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from netfence.core import naming
from netfence.core.visibility import (
    DEPLOYMENTS,
    NAMESPACE_VIEW,
    NAMESPACES,
    PODS,
    POLICIES,
    ResourceRule,
    Visibility,
)
from netfence.usecases.ports import Question, RulesAnswer
from netfence.usecases.visibility import visibility_of

NETFENCE_NS = "netfence-system"
READER = ResourceRule(
    verbs=("get", "list", "watch"),
    api_groups=("", "apps", "batch", "networking.k8s.io"),
    resources=(
        "pods",
        "events",
        "networkpolicies",
        "deployments",
        "statefulsets",
        "daemonsets",
        "cronjobs",
        "namespaces",
    ),
)


@dataclass
class FakeRbac:
    user: str = "bob"
    groups: tuple[str, ...] = ("devs", "system:authenticated")
    everywhere: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource)
    grants: dict[str, tuple[ResourceRule, ...]] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)
    bound: dict[str, frozenset[str]] = field(default_factory=dict)  # subject -> namespaces
    asked: list[Question] = field(default_factory=list)
    reviewed: list[str] = field(default_factory=list)

    async def can(self, question: Question) -> bool:
        self.asked.append(question)
        if (question.verb, question.resource) in self.everywhere:
            return True
        if question.namespace is None and question.resource == "namespaces" and question.name:
            rules = self.grants.get(question.name, ())
            return any("get" in r.verbs and "namespaces" in r.resources for r in rules)
        if question.namespace is None:
            return False
        rules = self.grants.get(question.namespace, ())
        return any(question.verb in r.verbs and question.resource in r.resources for r in rules)

    async def rules(self, namespace: str) -> RulesAnswer:
        self.reviewed.append(namespace)
        if namespace in self.incomplete:
            return RulesAnswer((), incomplete=True)
        return RulesAnswer(self.grants.get(namespace, ()))

    async def whoami(self) -> tuple[str, tuple[str, ...]]:
        return self.user, self.groups

    def nominated(self, user: str, groups: Sequence[str]) -> frozenset[str]:
        found: set[str] = set()
        for subject in (user, *groups):
            found |= self.bound.get(subject, frozenset())
        return frozenset(found)


async def seen(rbac: FakeRbac) -> Visibility:
    return await visibility_of(rbac, rbac, rbac, rbac, netfence_namespace=NETFENCE_NS)


async def test_a_developer_sees_the_namespaces_his_bindings_grant_and_no_other() -> None:
    rbac = FakeRbac(grants={"team-a": (READER,)}, bound={"bob": frozenset({"team-a", "team-b"})})
    found = await seen(rbac)
    assert found.can_read_namespace("team-a")
    assert found.can_list(PODS, "team-a")
    # Bound in team-b, but the binding grants nothing he could list there.
    assert not found.can_read_namespace("team-b")
    assert not found.can_read_namespace("team-c")
    assert not found.can_list_everywhere(POLICIES)
    # One rules review per nominated namespace, none for the rest of the cluster.
    assert sorted(rbac.reviewed) == ["team-a", "team-b"]


async def test_a_group_binding_nominates_too() -> None:
    rbac = FakeRbac(grants={"shared": (READER,)}, bound={"devs": frozenset({"shared"})})
    assert (await seen(rbac)).can_read_namespace("shared")


async def test_an_admin_who_may_list_everything_costs_no_rules_review() -> None:
    everything = {("list", r) for _, r in (NAMESPACES, *NAMESPACE_VIEW, PODS, ("", "events"))}
    rbac = FakeRbac(everywhere=everything, bound={"bob": frozenset({"team-a"})})
    found = await seen(rbac)
    assert found.can_list_everywhere(NAMESPACES, *NAMESPACE_VIEW, PODS)
    assert found.namespace_objects.everywhere
    assert rbac.reviewed == []


async def test_a_rules_review_an_authorizer_could_not_complete_is_asked_kind_by_kind() -> None:
    rbac = FakeRbac(
        grants={"team-a": (READER,)},
        incomplete={"team-a"},
        bound={"bob": frozenset({"team-a"})},
    )
    found = await seen(rbac)
    assert found.can_read_namespace("team-a")
    assert any(q.namespace == "team-a" and q.resource == "deployments" for q in rbac.asked)


async def test_netfence_objects_follow_their_own_questions() -> None:
    rbac = FakeRbac(
        grants={
            NETFENCE_NS: (
                ResourceRule(("get",), ("",), ("configmaps",), (naming.TEMPLATES_CONFIGMAP,)),
            )
        }
    )
    found = await seen(rbac)
    assert found.catalog
    assert not found.backups
    assert not found.lease


@pytest.mark.parametrize("resource", [DEPLOYMENTS, POLICIES])
async def test_a_cluster_wide_list_of_one_kind_is_everywhere_for_that_kind_only(
    resource: tuple[str, str],
) -> None:
    rbac = FakeRbac(everywhere={("list", resource[1])})
    found = await seen(rbac)
    assert found.scope(resource).everywhere
    assert not found.can_list_everywhere(PODS)
