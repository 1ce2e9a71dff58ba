"""What `status` and `policies` show: pure summaries of namespace states."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netfence.core import naming, policies, selectors, templates
from netfence.core.errors import InvalidTemplate
from netfence.core.objects import Phase, Policy, Workload
from netfence.core.planning import NamespaceState


@dataclass(frozen=True, slots=True)
class ControllerSummary:
    kind: str
    name: str
    templates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceSummary:
    name: str
    managed: bool
    state: str
    managed_policies: int
    unmanaged_policies: int
    backed_up: int
    controllers: tuple[ControllerSummary, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    creation_timestamp: str | None = None


@dataclass(frozen=True, slots=True)
class PolicySummary:
    namespace: str
    name: str
    managed: bool
    role: str | None
    template: str | None
    controller: str | None
    template_status: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    # The pods it selects, in kubectl's selector syntax.
    pod_selector: str = ""
    creation_timestamp: str | None = None


def _state_word(state: NamespaceState, netfence_namespace: str) -> str:
    namespace = state.namespace
    assert namespace is not None
    wants = namespace.wants_management
    if naming.is_reserved(namespace.name, netfence_namespace=netfence_namespace):
        return "refused" if wants else "system"
    backup = state.backup
    if wants:
        if backup is not None:
            return "managed" if backup.phase is Phase.ADOPTED else "enabling"
        # No backup visible: a caller who may not read backups (a developer) still sees
        # the opt-in done once both baseline policies exist.
        baseline = {p.name for p in state.policies if p.role == naming.ROLE_BASELINE}
        return "managed" if baseline >= set(naming.BASELINE_POLICY_NAMES) else "enabling"
    if any(p.is_managed for p in state.policies):
        return "disabling"
    return "unmanaged"


def summarize_namespace(state: NamespaceState, *, netfence_namespace: str) -> NamespaceSummary:
    controllers = tuple(
        ControllerSummary(w.kind.value, w.name, w.attached_templates)
        for w in sorted(state.workloads, key=lambda w: (w.kind.value, w.name))
    )
    word = _state_word(state, netfence_namespace)
    return NamespaceSummary(
        name=state.name,
        managed=word == "managed",
        state=word,
        managed_policies=sum(1 for p in state.policies if p.is_managed),
        unmanaged_policies=sum(1 for p in state.policies if not p.is_managed),
        backed_up=len(state.backup.entries) if state.backup else 0,
        controllers=controllers,
        labels=dict(state.namespace.labels) if state.namespace else {},
        creation_timestamp=state.namespace.created if state.namespace else None,
    )


def template_status(policy: Policy, catalog: templates.Catalog) -> str | None:
    """`current`, `outdated` (the template changed since attach), `deleted`, or None."""
    if policy.role != naming.ROLE_ATTACHMENT or policy.template is None:
        return None
    current = catalog.templates.get(policy.template)
    if current is None:
        return "deleted" if policy.template not in catalog.broken else "invalid"
    snapshot = policy.annotations.get(naming.SNAPSHOT_ANNOTATION)
    if snapshot is None:
        return "unknown"
    try:
        attached = policies.template_from_snapshot(snapshot)
    except InvalidTemplate:
        return "unknown"
    return "current" if attached.to_document() == current.to_document() else "outdated"


def summarize_policies(state: NamespaceState, catalog: templates.Catalog) -> list[PolicySummary]:
    return [
        PolicySummary(
            namespace=p.namespace,
            name=p.name,
            managed=p.is_managed,
            role=p.role,
            template=p.template,
            controller=str(p.controller) if p.controller else None,
            template_status=template_status(p, catalog),
            labels=dict(p.labels),
            pod_selector=_selector_text(p.spec.get("podSelector")),
            creation_timestamp=p.created,
        )
        for p in sorted(state.policies, key=lambda p: (not p.is_managed, p.name))
    ]


def _selector_text(selector: object) -> str:
    if not isinstance(selector, Mapping):
        return ""
    parsed = selectors.parse(selector)
    return "" if parsed.matches_everything else str(parsed)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics (an empty selector matches everything)."""
    return selectors.parse(selector).matches(labels)


def selects(policy: Policy, workload: Workload) -> bool:
    """Whether a policy of the workload's namespace selects the workload's pods."""
    if policy.namespace != workload.namespace:
        return False
    return selector_matches(policy.spec.get("podSelector") or {}, workload.pod_labels)
