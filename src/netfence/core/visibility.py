"""What one caller may see of a cluster, as Kubernetes' authorization decided it.

The console answers views from one shared watch cache that its own account fills; each
caller is shown only what the API server would let them list themselves. That decision is
Kubernetes', asked per caller (SelfSubjectAccessReview for cluster-wide lists,
SelfSubjectRulesReview per namespace); this module holds the answers and the pure rules to
read them, so the filtering itself is exact and testable without a cluster.

RBAC bindings only *nominate* the namespaces worth asking about (a RoleBinding naming the
caller, one of their groups or their ServiceAccount): asking about every namespace of a
large cluster for every caller would cost the API server more than the views save. An
authorizer other than RBAC that grants more is therefore not seen, and the caller sees
less, never more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The kinds the console reads, as RBAC names them: (API group, resource).
NAMESPACES = ("", "namespaces")
PODS = ("", "pods")
POLICIES = ("networking.k8s.io", "networkpolicies")
DEPLOYMENTS = ("apps", "deployments")
STATEFULSETS = ("apps", "statefulsets")
DAEMONSETS = ("apps", "daemonsets")
CRONJOBS = ("batch", "cronjobs")
EVENTS = ("", "events")
CONFIGMAPS = ("", "configmaps")
LEASES = ("coordination.k8s.io", "leases")

Resource = tuple[str, str]
WORKLOADS: tuple[Resource, ...] = (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, CRONJOBS)
# What a namespace's own view lists in it: it is readable when all of these are (pods and
# events are optional extras, shown when they may be listed too).
NAMESPACE_VIEW: tuple[Resource, ...] = (POLICIES, *WORKLOADS)
# Every kind whose list the console may filter for a caller.
LISTED: tuple[Resource, ...] = (NAMESPACES, *NAMESPACE_VIEW, PODS, EVENTS)


@dataclass(frozen=True, slots=True)
class ResourceRule:
    """One rule of a SelfSubjectRulesReview answer."""

    verbs: tuple[str, ...]
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    resource_names: tuple[str, ...] = ()


def _matches(values: tuple[str, ...], wanted: str) -> bool:
    return "*" in values or wanted in values


def rules_allow(
    rules: Iterable[ResourceRule], verb: str, resource: Resource, name: str | None = None
) -> bool:
    """Whether any rule grants `verb` on `resource` (of `name`, when the request names one).

    As RBAC reads rules: a rule with resourceNames grants only requests naming one of them,
    so it never grants a list.
    """
    group, plural = resource
    for rule in rules:
        if not (_matches(rule.verbs, verb) and _matches(rule.api_groups, group)):
            continue
        if not _matches(rule.resources, plural):
            continue
        if rule.resource_names and (name is None or name not in rule.resource_names):
            continue
        return True
    return False


@dataclass(frozen=True, slots=True)
class Subject:
    """A RoleBinding's subject: kind User, Group or ServiceAccount."""

    kind: str
    name: str
    namespace: str = ""


def binds(subjects: Iterable[Subject], user: str, groups: Iterable[str]) -> bool:
    """Whether a binding with these subjects applies to this user (as RBAC matches them)."""
    member_of = set(groups)
    for subject in subjects:
        if subject.kind == "User" and subject.name == user:
            return True
        if subject.kind == "Group" and subject.name in member_of:
            return True
        if (
            subject.kind == "ServiceAccount"
            and user == f"system:serviceaccount:{subject.namespace}:{subject.name}"
        ):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a caller may list one kind: everywhere, or in these namespaces."""

    everywhere: bool = False
    namespaces: frozenset[str] = frozenset()

    def covers(self, namespace: str) -> bool:
        return self.everywhere or namespace in self.namespaces


NOWHERE = Scope()
EVERYWHERE = Scope(everywhere=True)


@dataclass(frozen=True, slots=True)
class Visibility:
    """One caller's answers: where each kind may be listed, which Namespace objects may be
    read, and netfence's own objects (template catalog, backups, the controller's Lease)."""

    user: str
    lists: Mapping[Resource, Scope] = field(default_factory=dict)
    # Namespace objects the caller may get (everywhere when they may list namespaces).
    namespace_objects: Scope = NOWHERE
    catalog: bool = False
    backups: bool = False
    lease: bool = False

    def scope(self, resource: Resource) -> Scope:
        return self.lists.get(resource, NOWHERE)

    def can_list(self, resource: Resource, namespace: str) -> bool:
        return self.scope(resource).covers(namespace)

    def can_list_everywhere(self, *resources: Resource) -> bool:
        return all(self.scope(r).everywhere for r in resources)

    def can_read_namespace(self, namespace: str) -> bool:
        """The namespace object and every kind its views list in it."""
        return self.namespace_objects.covers(namespace) and all(
            self.can_list(r, namespace) for r in NAMESPACE_VIEW
        )

    def fingerprint(self) -> tuple[object, ...]:
        """Equal for callers who see exactly the same, so their answers can be shared."""
        return (
            tuple(
                (r, s.everywhere, tuple(sorted(s.namespaces)))
                for r, s in sorted(self.lists.items())
            ),
            self.namespace_objects.everywhere,
            tuple(sorted(self.namespace_objects.namespaces)),
            self.catalog,
            self.backups,
            self.lease,
        )


def scope_from(everywhere: bool, namespaces: Iterable[str]) -> Scope:
    return EVERYWHERE if everywhere else Scope(namespaces=frozenset(namespaces))
