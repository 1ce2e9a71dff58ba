"""How RBAC rules and bindings are read to decide what a caller sees of the shared cache."""

from __future__ import annotations

from netfence.core.visibility import (
    DEPLOYMENTS,
    EVERYWHERE,
    NAMESPACES,
    PODS,
    POLICIES,
    ResourceRule,
    Scope,
    Subject,
    Visibility,
    binds,
    rules_allow,
)


def rule(verbs: str, groups: str, resources: str, names: str = "") -> ResourceRule:
    return ResourceRule(
        tuple(verbs.split()),
        tuple(groups.split(",")),
        tuple(resources.split()),
        tuple(names.split()),
    )


def test_a_rule_grants_its_verbs_on_its_resources_of_its_group() -> None:
    rules = [rule("get list watch", "apps", "deployments")]
    assert rules_allow(rules, "list", DEPLOYMENTS)
    assert not rules_allow(rules, "list", PODS)
    assert not rules_allow(rules, "delete", DEPLOYMENTS)
    # The same plural in another group is another resource.
    assert not rules_allow([rule("list", "extensions", "deployments")], "list", DEPLOYMENTS)


def test_wildcards_grant_every_verb_group_and_resource() -> None:
    assert rules_allow([rule("*", "*", "*")], "list", POLICIES)
    assert rules_allow([rule("list", "networking.k8s.io", "*")], "list", POLICIES)


def test_a_rule_with_resource_names_never_grants_a_list() -> None:
    named = [rule("get list", "", "namespaces", "team-a")]
    assert not rules_allow(named, "list", NAMESPACES)
    assert rules_allow(named, "get", NAMESPACES, "team-a")
    assert not rules_allow(named, "get", NAMESPACES, "team-b")


def test_the_core_group_is_the_empty_string() -> None:
    assert rules_allow([rule("list", "", "pods")], "list", PODS)
    assert not rules_allow([rule("list", "apps", "pods")], "list", PODS)


def test_bindings_match_users_groups_and_service_accounts_as_rbac_does() -> None:
    assert binds([Subject("User", "bob")], "bob", ())
    assert not binds([Subject("User", "bob")], "bobby", ())
    assert binds([Subject("Group", "devs")], "alice", ("devs", "system:authenticated"))
    assert not binds([Subject("Group", "devs")], "devs", ())  # a user is not a group
    sa = [Subject("ServiceAccount", "ci", "build")]
    assert binds(sa, "system:serviceaccount:build:ci", ())
    assert not binds(sa, "system:serviceaccount:other:ci", ())


def test_a_namespace_is_readable_when_its_object_and_every_listed_kind_are() -> None:
    own = Scope(namespaces=frozenset({"a"}))
    seen = Visibility(
        user="bob",
        lists={POLICIES: own, DEPLOYMENTS: own},
        namespace_objects=own,
    )
    # Only some controller kinds are listable: the namespace view would be partial.
    assert not seen.can_read_namespace("a")
    from netfence.core.visibility import NAMESPACE_VIEW

    complete = Visibility(
        user="bob", lists=dict.fromkeys(NAMESPACE_VIEW, own), namespace_objects=own
    )
    assert complete.can_read_namespace("a")
    assert not complete.can_read_namespace("b")
    admin = Visibility(
        user="root", lists=dict.fromkeys(NAMESPACE_VIEW, EVERYWHERE), namespace_objects=EVERYWHERE
    )
    assert admin.can_read_namespace("anything")


def test_callers_who_see_the_same_share_a_fingerprint() -> None:
    own = Scope(namespaces=frozenset({"a", "b"}))
    one = Visibility(user="bob", lists={PODS: own}, namespace_objects=own)
    two = Visibility(
        user="alice", lists={PODS: Scope(namespaces=frozenset({"b", "a"}))}, namespace_objects=own
    )
    assert one.fingerprint() == two.fingerprint()
    assert one.fingerprint() != Visibility(user="bob", lists={PODS: EVERYWHERE}).fingerprint()
