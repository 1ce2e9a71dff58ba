"""Desired state for one namespace, diffed against what exists: the heart of reconciliation.

`plan_namespace` is purely computational, no side effects. It receives everything the
cluster holds for one namespace and returns the ordered steps that make it right, plus the
refusals to report. The steps are ordered for safety, so a namespace is never less
restricted than before, even for a moment: the backup is written first; then what
protects is created (the defaults and the attachments' policies); only then are the old
policies it replaces deleted. The executor (`usecases.reconciling.execute`) stops at a
failed backup write, and skips every pruning delete once any step before it failed, so a
refused create leaves the old policies in place. Deletes and updates carry the uid and
resourceVersion they were planned from. Every step is idempotent, so re-planning after a
crash at any point converges.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netfence.core import backups, errors, naming, policies, suggestions, templates
from netfence.core.errors import InvalidTemplate
from netfence.core.objects import Backup, JsonDict, Namespace, Phase, Policy, Workload

AttachmentKey = tuple[str, str, str]
"""(controller kind, controller name, template name) inside one namespace."""


class Severity(enum.StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell people, as a Kubernetes Event on the object it concerns."""

    kind: str
    namespace: str | None
    name: str
    severity: Severity
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class WriteBackup:
    namespace: str
    phase: Phase
    entries: Mapping[str, JsonDict]
    notice: Notice | None = None

    def describe(self) -> str:
        names = ", ".join(sorted(self.entries)) or "nothing"
        return f"record backup of {self.namespace} ({self.phase.value}): {names}"


@dataclass(frozen=True, slots=True)
class DeletePolicy:
    namespace: str
    name: str
    notice: Notice | None = None
    # Preconditions: the object and the version of it this step was planned from.
    uid: str | None = None
    resource_version: str | None = None
    # A policy netfence did not make, backed up and replaced by what was created before
    # it: deleted only when every step before it succeeded.
    prune: bool = False

    def describe(self) -> str:
        return f"delete NetworkPolicy {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ApplyPolicy:
    manifest: JsonDict
    exists: bool
    notice: Notice | None = None
    # For an existing policy, the version planned from (a precondition of the update).
    resource_version: str | None = None
    # An existing policy netfence did not make, backed up and replaced in one write (a
    # default of the same name as a policy being adopted).
    takeover: bool = False

    @property
    def name(self) -> str:
        return str(self.manifest["metadata"]["name"])

    @property
    def namespace(self) -> str:
        return str(self.manifest["metadata"]["namespace"])

    def describe(self) -> str:
        verb = "restore" if self.exists else "create"
        return f"{verb} NetworkPolicy {self.namespace}/{self.name}"


Step = WriteBackup | DeletePolicy | ApplyPolicy


@dataclass(frozen=True, slots=True)
class Plan:
    namespace: str
    steps: tuple[Step, ...] = ()
    refusals: tuple[Notice, ...] = ()
    # Template snapshots of every live attachment, so that a policy deleted behind
    # netfence's back is put back as it was attached, not from today's template.
    snapshots: Mapping[AttachmentKey, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.steps


@dataclass(frozen=True, slots=True)
class NamespaceState:
    """Everything the cluster holds that decides one namespace's policies."""

    name: str
    namespace: Namespace | None
    workloads: Sequence[Workload] = ()
    policies: Sequence[Policy] = ()
    backup: Backup | None = None


def plan_namespace(
    state: NamespaceState,
    catalog: templates.Catalog,
    *,
    netfence_namespace: str,
    remembered: Mapping[AttachmentKey, str] | None = None,
) -> Plan:
    """Compute the steps that bring one namespace to its desired set of policies."""
    namespace = state.namespace
    if namespace is None:
        # The namespace is gone and its policies with it. Its backup stays, released, so a
        # namespace of the same name created later is opted in from scratch.
        backup = state.backup
        if backup is None or backup.phase is Phase.RELEASED:
            return Plan(state.name)
        return Plan(state.name, steps=(WriteBackup(state.name, Phase.RELEASED, backup.entries),))
    if not namespace.wants_management:
        return _plan_unmanaged(state)
    if naming.is_reserved(namespace.name, netfence_namespace=netfence_namespace):
        return Plan(state.name, refusals=(_refuse_namespace(namespace.name, netfence_namespace),))
    return _plan_managed(state, catalog, remembered or {})


def _refuse_namespace(name: str, netfence_namespace: str) -> Notice:
    why = (
        "it is netfence's own namespace"
        if name == netfence_namespace
        else ("it is a Kubernetes system namespace")
    )
    return namespace_warning(
        name,
        "RefusedNamespace",
        (
            f"netfence will not manage namespace {name}: {why}, and isolating it could break "
            f"the cluster; remove the label {naming.MANAGED_NAMESPACE_LABEL}. Nothing was changed."
        ),
    )


def _plan_unmanaged(state: NamespaceState) -> Plan:
    steps: list[Step] = []
    for policy in sorted(state.policies, key=lambda p: p.name):
        if policy.is_managed:
            steps.append(
                DeletePolicy(
                    state.name,
                    policy.name,
                    _namespace_normal(
                        state.name,
                        "PolicyDeleted",
                        f"Deleted NetworkPolicy {policy.name}: namespace is no longer managed",
                    ),
                    uid=policy.uid,
                    resource_version=policy.resource_version,
                )
            )
    backup = state.backup
    if backup is not None and backup.phase is not Phase.RELEASED:
        steps.append(
            WriteBackup(
                state.name,
                Phase.RELEASED,
                backup.entries,
                _namespace_normal(
                    state.name,
                    "NamespaceReleased",
                    f"netfence no longer manages {state.name}; the backup of "
                    f"{len(backup.entries)} policies is kept "
                    f"(restore with: netfence disable {state.name} --restore)",
                ),
            )
        )
    refusals = tuple(
        Notice(
            kind=workload.kind.value,
            namespace=state.name,
            name=workload.name,
            severity=Severity.WARNING,
            reason="NamespaceNotManaged",
            message=(
                f"templates {', '.join(workload.attached_templates)} are not applied: namespace "
                f"{state.name} is not managed by netfence; an admin can enable it with "
                f"netfence enable {state.name}"
            ),
        )
        for workload in state.workloads
        if workload.attached_templates
    )
    return Plan(state.name, steps=tuple(steps), refusals=refusals)


def _plan_managed(
    state: NamespaceState,
    catalog: templates.Catalog,
    remembered: Mapping[AttachmentKey, str],
) -> Plan:
    """The steps, in this order: while adopting, back up the policies netfence did not make;
    create or repair the desired policies; while adopting, delete the backed-up ones they
    replace; delete netfence's own unwanted ones; and, while adopting, record the backup
    as adopted."""
    steps: list[Step] = []
    existing = {policy.name: policy for policy in state.policies}
    adopting = state.backup is None or state.backup.phase is not Phase.ADOPTED
    entries: dict[str, JsonDict] = dict(state.backup.entries) if state.backup else {}
    unmanaged: list[Policy] = []
    if adopting:
        unmanaged = sorted((p for p in state.policies if not p.is_managed), key=lambda p: p.name)
        for policy in unmanaged:
            entries[policy.name] = policy.manifest()
        steps.extend(_backup(state, entries, unmanaged))

    desired, refusals, snapshots = _desired_policies(state, catalog, remembered)
    adopted = {p.name for p in unmanaged}
    applies, taken = _apply_desired(state.name, desired, existing, adopted=adopted)
    steps.extend(applies)
    refusals.extend(taken)
    taken_over = {s.name for s in applies if isinstance(s, ApplyPolicy) and s.takeover}
    steps.extend(_prune(state.name, [p for p in unmanaged if p.name not in taken_over]))
    steps.extend(_delete_unwanted(state, desired))
    if adopting:
        steps.append(_adopted(state.name, entries))
    return Plan(state.name, steps=tuple(steps), refusals=tuple(refusals), snapshots=snapshots)


def _backup(
    state: NamespaceState, entries: Mapping[str, JsonDict], unmanaged: Sequence[Policy]
) -> list[Step]:
    """Record ``entries`` as the backup being pruned, unless it already is."""
    steps: list[Step] = []
    backup = state.backup
    if backup is None or backup.phase is not Phase.PRUNING or dict(backup.entries) != entries:
        steps.append(
            WriteBackup(
                state.name,
                Phase.PRUNING,
                entries,
                None
                if not unmanaged
                else _namespace_normal(
                    state.name,
                    "PoliciesBackedUp",
                    f"Backed up {len(unmanaged)} existing NetworkPolicies "
                    f"to {_backup_where(state.name, entries)}",
                ),
            )
        )
    return steps


def _backup_where(namespace: str, entries: Mapping[str, JsonDict]) -> str:
    head = naming.backup_configmap_name(namespace)
    try:
        parts = backups.part_count(entries)
    except errors.Refused:
        parts = 1  # the writer refuses it, with the reason, before anything is deleted
    return f"ConfigMap {head}" if parts == 1 else f"{parts} ConfigMaps ({head} and its parts)"


def _prune(namespace: str, unmanaged: Sequence[Policy]) -> list[Step]:
    """Delete the backed-up policies, each only if it is still the version backed up."""
    return [
        DeletePolicy(
            namespace,
            policy.name,
            _namespace_normal(
                namespace,
                "PolicyDeleted",
                f"Deleted NetworkPolicy {policy.name} (kept in the backup)",
            ),
            uid=policy.uid,
            resource_version=policy.resource_version,
            prune=True,
        )
        for policy in unmanaged
    ]


def _apply_desired(
    namespace: str,
    desired: Sequence[JsonDict],
    existing: Mapping[str, Policy],
    *,
    adopted: set[str],
) -> tuple[list[Step], list[Notice]]:
    """Create what is missing and restore what drifted. A desired name held by a policy
    netfence did not make is refused, never overwritten, unless that policy is being
    adopted (backed up first): then it is replaced in one write, so the name is never
    without a policy."""
    steps: list[Step] = []
    refusals: list[Notice] = []
    for manifest in desired:
        name = manifest["metadata"]["name"]
        current = existing.get(name)
        if current is None:
            steps.append(ApplyPolicy(manifest, exists=False, notice=_created_notice(manifest)))
        elif not current.is_managed:
            if name not in adopted:
                refusals.append(_name_taken(namespace, manifest))
                continue
            steps.append(
                ApplyPolicy(
                    manifest,
                    exists=True,
                    notice=_created_notice(manifest),
                    resource_version=current.resource_version,
                    takeover=True,
                )
            )
        elif policies.differs(
            manifest, labels=current.labels, annotations=current.annotations, spec=current.spec
        ):
            steps.append(
                ApplyPolicy(
                    manifest,
                    exists=True,
                    notice=_repaired_notice(manifest),
                    resource_version=current.resource_version,
                )
            )
    return steps, refusals


def _delete_unwanted(state: NamespaceState, desired: Sequence[JsonDict]) -> list[Step]:
    """Delete the policies netfence made that are no longer desired, in name order."""
    wanted = {manifest["metadata"]["name"] for manifest in desired}
    return [
        DeletePolicy(
            state.name,
            policy.name,
            _removed_notice(state, policy),
            uid=policy.uid,
            resource_version=policy.resource_version,
        )
        for policy in sorted(state.policies, key=lambda p: p.name)
        if policy.is_managed and policy.name not in wanted
    ]


def _adopted(namespace: str, entries: Mapping[str, JsonDict]) -> WriteBackup:
    return WriteBackup(
        namespace,
        Phase.ADOPTED,
        entries,
        _namespace_normal(
            namespace,
            "NamespaceManaged",
            f"netfence now manages {namespace}: ingress is denied except from "
            f"inside the namespace and from attached templates",
        ),
    )


def _desired_policies(
    state: NamespaceState,
    catalog: templates.Catalog,
    remembered: Mapping[AttachmentKey, str],
) -> tuple[list[JsonDict], list[Notice], dict[AttachmentKey, str]]:
    desired: list[JsonDict] = list(policies.baseline_policies(state.name))
    refusals: list[Notice] = []
    snapshots: dict[AttachmentKey, str] = {}
    on_cluster: dict[AttachmentKey, str] = {}
    for policy in state.policies:
        controller, attached = policy.controller, policy.template
        text = policy.annotations.get(naming.SNAPSHOT_ANNOTATION)
        if controller is not None and attached is not None and text is not None:
            on_cluster[(controller.kind.value, controller.name, attached)] = text

    for workload in sorted(state.workloads, key=lambda w: (w.kind.value, w.name)):
        for name in workload.attached_templates:
            key: AttachmentKey = (workload.kind.value, workload.name, name)
            if workload.pod_selector is None:
                refusals.append(
                    _warn(
                        workload,
                        "NoPodSelector",
                        f"cannot apply template {name}: {workload.ref} has no pod labels to select "
                        f"its pods by; add labels to spec.jobTemplate.spec.template.metadata.labels",
                    )
                )
                continue
            template, snapshot = _resolve(
                key, catalog, on_cluster, remembered, refresh=workload.refresh_requests.get(name)
            )
            if template is None:
                refusals.append(_missing_template(workload, name, catalog))
                continue
            desired.append(policies.attachment_policy(workload, template, snapshot=snapshot))
            snapshots[key] = snapshot if snapshot is not None else policies.snapshot_of(template)
    return desired, refusals, snapshots


def _resolve(
    key: AttachmentKey,
    catalog: templates.Catalog,
    on_cluster: Mapping[AttachmentKey, str],
    remembered: Mapping[AttachmentKey, str],
    *,
    refresh: str | None = None,
) -> tuple[templates.Template | None, str | None]:
    """Which template an attachment renders: its own snapshot first, today's template last.

    The one exception is an explicit update: the controller carries the version of the
    current template someone asked for, and only while that version is still current does
    it replace the snapshot. A later template edit therefore never spreads on its own.
    """
    current = catalog.templates.get(key[2])
    if refresh is not None and current is not None and policies.version_of(current) == refresh:
        return current, None
    for source in (on_cluster, remembered):
        text = source.get(key)
        if text is None:
            continue
        try:
            return policies.template_from_snapshot(text), text
        except InvalidTemplate:
            continue
    return current, None


def _missing_template(workload: Workload, name: str, catalog: templates.Catalog) -> Notice:
    broken = catalog.broken.get(name)
    if broken is not None:
        details = "; ".join(str(error) for error in broken.errors[:3])
        return _warn(
            workload,
            "InvalidTemplate",
            f"template {name} is invalid and was not applied: {details}",
        )
    known = ", ".join(sorted(catalog.templates)) or "none"
    return _warn(
        workload,
        "UnknownTemplate",
        f"template {name} does not exist and was not applied"
        f"{suggestions.did_you_mean(name, catalog.templates)}; "
        f"remove the label {naming.template_label_key(name)} or use one of: {known}",
    )


def _name_taken(namespace: str, manifest: JsonDict) -> Notice:
    name = manifest["metadata"]["name"]
    return namespace_warning(
        namespace,
        "PolicyNameTaken",
        (
            f"NetworkPolicy {name} was not created: a policy of that name exists that "
            f"netfence did not make, and netfence never touches those; rename or delete it"
        ),
    )


def _created_notice(manifest: JsonDict) -> Notice:
    metadata = manifest["metadata"]
    controller = metadata.get("annotations", {}).get(naming.CONTROLLER_ANNOTATION)
    if controller:
        kind, _, name = controller.partition("/")
        template = metadata["labels"][naming.TEMPLATE_LABEL]
        return _normal(
            kind,
            metadata["namespace"],
            name,
            "TemplateApplied",
            f"Created NetworkPolicy {metadata['name']} from template {template}",
        )
    return _namespace_normal(
        metadata["namespace"],
        "PolicyCreated",
        f"Created NetworkPolicy {metadata['name']}",
    )


def _repaired_notice(manifest: JsonDict) -> Notice:
    metadata = manifest["metadata"]
    return namespace_warning(
        metadata["namespace"],
        "PolicyRepaired",
        (
            f"NetworkPolicy {metadata['name']} was changed outside netfence and has been "
            f"put back; change the template or detach it instead"
        ),
    )


def _removed_notice(state: NamespaceState, policy: Policy) -> Notice:
    controller = policy.controller
    if controller is None:
        return _namespace_normal(
            state.name,
            "PolicyDeleted",
            f"Deleted NetworkPolicy {policy.name}: no longer wanted",
        )
    present = any(w.kind == controller.kind and w.name == controller.name for w in state.workloads)
    why = (
        f"template {policy.template} was detached from {controller}"
        if present
        else f"{controller} no longer exists"
    )
    return _namespace_normal(
        state.name,
        "PolicyDeleted",
        f"Deleted NetworkPolicy {policy.name}: {why}",
    )


def namespace_warning(namespace: str, reason: str, message: str) -> Notice:
    """A Warning event on a Namespace (recorded in that namespace)."""
    return Notice(
        kind="Namespace",
        namespace=None,
        name=namespace,
        severity=Severity.WARNING,
        reason=reason,
        message=message,
    )


def _warn(workload: Workload, reason: str, message: str) -> Notice:
    return Notice(
        kind=workload.kind.value,
        namespace=workload.namespace,
        name=workload.name,
        severity=Severity.WARNING,
        reason=reason,
        message=message,
    )


def _namespace_normal(namespace: str, reason: str, message: str) -> Notice:
    return _normal("Namespace", None, namespace, reason, message)


def _normal(kind: str, namespace: str | None, name: str, reason: str, message: str) -> Notice:
    return Notice(
        kind=kind,
        namespace=namespace,
        name=name,
        severity=Severity.NORMAL,
        reason=reason,
        message=message,
    )
