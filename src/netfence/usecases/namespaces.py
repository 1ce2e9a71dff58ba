"""Use cases of namespaces: status, enabling (with its preview), disabling and restoring,
and the policies of one namespace. The CLI and the console call these and only render.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from netfence.core import backups, errors, naming, selectors, summaries
from netfence.core.conversion import UNPARSED
from netfence.core.objects import Backup, JsonDict, Namespace, Phase, Policy
from netfence.core.planning import ApplyPolicy, DeletePolicy, NamespaceState, Plan, plan_namespace
from netfence.core.templates import Catalog
from netfence.usecases import connectivity, permissions
from netfence.usecases.ports import (
    EMPTY_CATALOG,
    Cluster,
    ClusterChanges,
    ClusterReader,
    ClusterViews,
)

POLL_SECONDS = 0.2


def check_manageable(namespace: str, *, netfence_namespace: str) -> None:
    """Refuse, before anything is written, the namespaces netfence must never isolate."""
    if naming.is_reserved(namespace, netfence_namespace=netfence_namespace):
        raise errors.Refused(
            f"netfence will not manage namespace {namespace}: isolating a system namespace or "
            "netfence's own could break the cluster"
        )


async def existing(reader: ClusterReader, name: str) -> NamespaceState:
    """A namespace's state; NotFound when there is no such namespace."""
    state = await reader.namespace(name)
    if state.namespace is None:
        raise errors.NotFound(f"namespace {name} does not exist")
    return state


def is_managed(state: NamespaceState) -> bool:
    return state.namespace is not None and state.namespace.wants_management


def plan_enable(state: NamespaceState, catalog: Catalog, *, netfence_namespace: str) -> Plan:
    """What enabling a namespace would do, computed from its current state (pure)."""
    current = state.namespace or Namespace(state.name)
    labels = {**current.labels, naming.MANAGED_NAMESPACE_LABEL: naming.MANAGED_NAMESPACE_VALUE}
    labelled = dataclasses.replace(state, namespace=Namespace(current.name, labels))
    return plan_namespace(labelled, catalog, netfence_namespace=netfence_namespace)


# --- status ------------------------------------------------------------------------------


async def status(
    cluster: Cluster, *, selector: selectors.Selector = selectors.EVERYTHING
) -> list[summaries.NamespaceSummary]:
    """Every namespace the caller may see (those whose labels `selector` matches)."""
    states = await cluster.reader.namespaces()
    ns = cluster.netfence_namespace
    return [
        summaries.summarize_namespace(s, netfence_namespace=ns)
        for s in states
        if selector.matches(s.namespace.labels if s.namespace else {})
    ]


@dataclass(frozen=True, slots=True)
class NamespaceDetail:
    state: NamespaceState
    summary: summaries.NamespaceSummary
    catalog: Catalog
    permissions: dict[str, bool]
    # While an opt-in has not finished: why, in the controller's words.
    failures: tuple[str, ...] = ()


async def detail(cluster: Cluster, name: str) -> NamespaceDetail:
    ns = cluster.netfence_namespace
    state, stored, allowed = await asyncio.gather(
        existing(cluster.reader, name),
        cluster.reader.catalog(),
        permissions.answers(
            cluster.authorizer,
            {
                "enable_namespaces": permissions.enable_namespaces(),
                "attach": permissions.attach_in(name),
                # Restoring a backup recreates policies with the caller's own rights.
                "restore": permissions.restore_in(name),
            },
        ),
    )
    summary = summaries.summarize_namespace(state, netfence_namespace=ns)
    failures: tuple[str, ...] = ()
    if summary.state == "enabling":
        failures = (await failures_since(cluster.reader, name))[:3]
    return NamespaceDetail(state, summary, stored.catalog, allowed, failures)


async def policies(
    cluster: Cluster, name: str | None, *, selector: selectors.Selector = selectors.EVERYTHING
) -> list[summaries.PolicySummary]:
    """The policies of a namespace (of every namespace the caller may see, for None),
    managed and not, with their template status; only those `selector` matches."""
    if name is None:
        states = await cluster.reader.namespaces()
    else:
        states = [await existing(cluster.reader, name)]
    try:
        catalog = (await cluster.reader.catalog()).catalog
    except errors.NetfenceError:
        catalog = None  # the template status is optional detail
    return [
        summary
        for state in states
        for summary in summaries.summarize_policies(state, catalog or EMPTY_CATALOG.catalog)
        if selector.matches(summary.labels)
    ]


# --- enable ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnablePreview:
    """What enabling would back up, delete and create, and (when asked) its effect."""

    namespace: str
    state: NamespaceState
    plan: Plan
    impact: connectivity.Impact | str | None = None

    @property
    def already_managed(self) -> bool:
        return is_managed(self.state)

    @property
    def backed_up(self) -> list[Policy]:
        return sorted((p for p in self.state.policies if not p.is_managed), key=lambda p: p.name)

    @property
    def deletes(self) -> list[str]:
        return [s.name for s in self.plan.steps if isinstance(s, DeletePolicy)]

    @property
    def creates(self) -> list[ApplyPolicy]:
        return [s for s in self.plan.steps if isinstance(s, ApplyPolicy)]

    @property
    def warnings(self) -> list[str]:
        found = [n.message for n in self.plan.refusals]
        entries = {p.name: p.manifest() for p in self.backed_up}
        try:
            parts = backups.part_count(entries)
        except errors.Refused as e:
            found.append(f"enabling would be refused before anything is deleted: {e}")
        else:
            if parts > 1:
                found.append(
                    f"the backup is over one ConfigMap's 1 MiB: it would be written as {parts} "
                    "ConfigMaps, every one before any policy is deleted"
                )
        return found


async def preview_enable(cluster: Cluster, name: str, *, impact: bool = True) -> EnablePreview:
    """Enabling `name`, planned once from its current state; changes nothing.

    The same plan gives the policies changed and (with `impact`) their effect on traffic.
    """
    ns = cluster.netfence_namespace
    check_manageable(name, netfence_namespace=ns)
    state = await existing(cluster.reader, name)
    catalog = (await cluster.reader.catalog()).catalog
    plan = plan_enable(state, catalog, netfence_namespace=ns)
    effect = None
    if impact:
        effect = await connectivity.impact_of(
            cluster.reader, name, lambda inventory: connectivity.preview_plan(inventory, plan)
        )
    return EnablePreview(name, state, plan, effect)


async def enable(cluster: Cluster, name: str) -> bool:
    """Label the namespace managed (the controller does the rest); False if it already was.

    The label is written even when it is there, so the cluster's RBAC answers every caller
    the same way: one who may not enable namespaces is refused, managed or not.
    """
    check_manageable(name, netfence_namespace=cluster.netfence_namespace)
    state = await existing(cluster.reader, name)
    await cluster.changes.set_namespace_managed(name, managed=True)
    return not is_managed(state)


# Why the controller could not finish what it was asked to do, as it reports it.
FAILURE_REASONS = frozenset({"ReconcileFailed", "PolicyNameTaken"})


@dataclass(frozen=True, slots=True)
class Progress:
    """How an opt-in went: adopted (its backup), or the controller's reasons why not yet."""

    backup: Backup | None
    problems: tuple[str, ...] = ()


async def until_enabled(
    reader: ClusterViews, name: str, *, timeout: float, since: datetime.datetime
) -> Progress:
    """Wait for the opt-in to be recorded, or for the controller to say why it cannot
    finish (a create the API server refused, say): its Warning events since `since`."""
    deadline = time.monotonic() + timeout
    while True:
        backup = await reader.backup(name)
        if backup is not None and backup.phase is Phase.ADOPTED:
            return Progress(backup)
        problems = await failures_since(reader, name, since)
        if problems or time.monotonic() >= deadline:
            return Progress(None, problems)
        await asyncio.sleep(POLL_SECONDS)


async def failures_since(
    reader: ClusterViews, name: str, since: datetime.datetime | None = None
) -> tuple[str, ...]:
    """The controller's failure reports on a namespace (newest first), since a time."""
    try:
        events = await reader.events(name)
    except errors.NetfenceError:
        return ()  # events are optional detail; the wait still says it did not finish
    found = [
        e
        for e in events
        if e.type == "Warning"
        and e.reason in FAILURE_REASONS
        and (since is None or (e.time is not None and e.time >= since))
    ]
    found.sort(key=lambda e: e.time or since or datetime.datetime.min, reverse=True)
    return tuple(dict.fromkeys(e.message for e in found))


# --- disable -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisablePreview:
    """What disabling would remove and (with a restore) recreate, and its effect."""

    namespace: str
    was_managed: bool
    # netfence's policies the controller would delete.
    deletes: tuple[str, ...]
    # With a restore: whether a backup exists, the policies it would recreate and the
    # ones it would leave out (and why).
    restore: bool
    has_backup: bool = False
    restores: tuple[str, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)
    impact: connectivity.Impact | str | None = None
    # For the console: the policies the backup holds (restore or not), the manifests a
    # restore recreates, and the policies left in the namespace afterwards.
    backed_up: tuple[str, ...] = ()
    restored: tuple[JsonDict, ...] = ()
    remaining: tuple[str, ...] = ()

    @property
    def warnings(self) -> list[str]:
        if not self.was_managed:
            return [f"netfence does not manage {self.namespace}: disabling changes nothing."]
        if not self.remaining:
            return [
                f"No NetworkPolicy would be left in {self.namespace}: every pod there would "
                "accept traffic from anywhere."
            ]
        return []


async def preview_disable(
    cluster: Cluster, name: str, *, restore: bool, impact: bool = True
) -> DisablePreview:
    """Disabling `name` (and restoring its backup), planned from its current state; changes
    nothing, and refuses what `disable` would refuse (a restore the caller may not make)."""
    if restore and not await cluster.authorizer.can(permissions.restore_in(name)):
        raise errors.AccessDenied(
            f"You may not restore the backup of {name}: that recreates NetworkPolicies "
            "there, which your role does not allow; disable without restoring it, or ask "
            "someone who may create NetworkPolicies in this namespace."
        )
    state = await existing(cluster.reader, name)
    assert state.namespace is not None
    labels = {
        k: v for k, v in state.namespace.labels.items() if k != naming.MANAGED_NAMESPACE_LABEL
    }
    unlabelled = dataclasses.replace(state, namespace=Namespace(name, labels))
    plan = plan_namespace(
        unlabelled, EMPTY_CATALOG.catalog, netfence_namespace=cluster.netfence_namespace
    )
    deletes = tuple(s.name for s in plan.steps if isinstance(s, DeletePolicy))
    restores: list[str] = []
    skipped: dict[str, str] = {}
    creates: list[ApplyPolicy] = []
    backup = state.backup
    staying = {p.name for p in state.policies if not p.is_managed}
    if restore and backup is not None:
        for policy_name, manifest in sorted(backup.entries.items()):
            if UNPARSED in manifest:
                skipped[policy_name] = "its backup entry is not valid YAML"
            elif policy_name in staying:
                skipped[policy_name] = "a policy of that name exists"
            else:
                restores.append(policy_name)
                metadata = {**manifest.get("metadata", {}), "namespace": name, "name": policy_name}
                creates.append(ApplyPolicy({**manifest, "metadata": metadata}, exists=False))
    whole = dataclasses.replace(plan, steps=(*plan.steps, *creates))
    effect = None
    if impact:
        effect = await connectivity.impact_of(
            cluster.reader, name, lambda inventory: connectivity.preview_plan(inventory, whole)
        )
    return DisablePreview(
        namespace=name,
        was_managed=is_managed(state),
        deletes=deletes,
        restore=restore,
        has_backup=backup is not None,
        restores=tuple(restores),
        skipped=skipped,
        impact=effect,
        backed_up=tuple(sorted(backup.entries)) if backup is not None else (),
        restored=tuple(c.manifest for c in creates),
        remaining=tuple(sorted(staying | set(restores))),
    )


@dataclass(slots=True)
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DisableResult:
    namespace: str
    # The label was there and was removed (False: the namespace was not managed).
    was_managed: bool
    waited: bool
    # netfence's policies still there after the wait; nothing was restored then.
    remaining: tuple[str, ...] = ()
    # With a restore: None when there was no backup, else what was restored and skipped.
    restore: RestoreReport | None = None


async def disable(
    cluster: Cluster, name: str, *, restore: bool, wait: float = 15.0
) -> DisableResult:
    """Remove the label; with `restore` (or a wait), wait for netfence's policies to go,
    then recreate the backed-up ones that are not there.

    The restore permission is asked before anything changes: refusing the restore after
    the label is gone would report a failure for a namespace that was in fact disabled.
    """
    if restore and not await cluster.authorizer.can(permissions.restore_in(name)):
        raise errors.AccessDenied(
            f"You may not restore the backup of {name}: that recreates NetworkPolicies "
            "there, which your role does not allow. Nothing was changed; disable without "
            "restoring, or ask someone who may create NetworkPolicies in this namespace."
        )
    state = await existing(cluster.reader, name)
    was_managed = is_managed(state)
    if was_managed:
        await cluster.changes.set_namespace_managed(name, managed=False)
    if not restore and wait <= 0:
        return DisableResult(name, was_managed, waited=False)
    state = await until_released(cluster.reader, name, timeout=max(wait, 1.0))
    remaining = tuple(p.name for p in state.policies if p.is_managed)
    if remaining or not restore:
        return DisableResult(name, was_managed, waited=True, remaining=remaining)
    backup = state.backup
    if backup is None or not backup.entries:
        return DisableResult(name, was_managed, waited=True)
    report = await restore_backup(
        cluster.changes, name, backup, existing={p.name for p in state.policies}
    )
    return DisableResult(name, was_managed, waited=True, restore=report)


async def until_released(reader: ClusterReader, name: str, *, timeout: float) -> NamespaceState:
    """Re-read a namespace until the controller has removed every policy it made there
    (or `timeout` passes); the caller decides what remaining managed policies mean."""
    deadline = time.monotonic() + timeout
    while True:
        state = await existing(reader, name)
        if not any(p.is_managed for p in state.policies) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(POLL_SECONDS)


async def restore_backup(
    changes: ClusterChanges, namespace: str, backup: Backup, *, existing: set[str]
) -> RestoreReport:
    """Recreate backed-up policies that are not there; never overwrite one that is."""
    report = RestoreReport()
    for name, manifest in sorted(backup.entries.items()):
        if UNPARSED in manifest:
            report.skipped[name] = "its backup entry is not valid YAML"
            continue
        if name in existing:
            report.skipped[name] = "a policy of that name exists"
            continue
        metadata = {**manifest.get("metadata", {}), "namespace": namespace, "name": name}
        if await changes.create_policy({**manifest, "metadata": metadata}):
            report.restored.append(name)
        else:
            report.skipped[name] = "a policy of that name exists"
    return report
