"""Use cases built from the pure core and the ports: no client library is imported here."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

from netfence.core import naming, templates
from netfence.core import policies as rendering
from netfence.core.errors import NotFound, Refused
from netfence.core.objects import JsonDict, Namespace, WorkloadRef
from netfence.core.planning import (
    ApplyPolicy,
    DeletePolicy,
    NamespaceState,
    Notice,
    Plan,
    Step,
    WriteBackup,
    plan_namespace,
)
from netfence.ports import NoticeBoard, PolicyWriter

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What executing a plan did: the steps done, and each failed step with its error."""

    done: list[Step] = field(default_factory=list)
    failures: list[tuple[Step, Exception]] = field(default_factory=list)
    skipped: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped


async def execute(plan: Plan, *, writer: PolicyWriter, board: NoticeBoard | None = None) -> Outcome:
    """Carry out a plan's steps in order; the order is what keeps every change safe.

    - A failed backup write stops everything after it: nothing is deleted without its backup.
    - Any other failed step is reported and the independent steps after it still run, so one
      bad attachment does not hold up the rest of the namespace.
    - A phase is recorded (backup written again) only when every step before it succeeded;
      otherwise the next pass resumes the opt-in or opt-out from where it stands.

    The caller re-plans from fresh state and retries; every step is idempotent.
    """
    outcome = Outcome()
    for index, step in enumerate(plan.steps):
        if isinstance(step, WriteBackup) and outcome.failures:
            outcome.skipped.extend(plan.steps[index:])
            break
        try:
            await _run(step, writer)
        except Exception as e:  # noqa: BLE001 - reported per step; the caller retries
            outcome.failures.append((step, e))
            logger.warning(
                "step failed: %s: %s", step.describe(), e, extra={"namespace": plan.namespace}
            )
            if isinstance(step, WriteBackup):
                outcome.skipped.extend(plan.steps[index + 1 :])
                break
            continue
        outcome.done.append(step)
        if board is not None and step.notice is not None:
            await _publish(board, step.notice)
    return outcome


async def _run(step: Step, writer: PolicyWriter) -> None:
    match step:
        case WriteBackup():
            await writer.write_backup(step)
        case DeletePolicy(namespace=namespace, name=name):
            await writer.delete_policy(namespace, name)
        case ApplyPolicy(manifest=manifest):
            await writer.apply_policy(manifest)


async def _publish(board: NoticeBoard, notice: Notice) -> None:
    try:
        await board.publish(notice)
    except Exception as e:  # noqa: BLE001 - an event never stops work
        logger.warning("could not publish event %s: %s", notice.reason, e)


def check_manageable(namespace: str, *, netfence_namespace: str) -> None:
    """Refuse, before anything is written, the namespaces netfence must never isolate."""
    if naming.is_reserved(namespace, netfence_namespace=netfence_namespace):
        raise Refused(
            f"netfence will not manage namespace {namespace}: isolating a system namespace or "
            "netfence's own could break the cluster"
        )


def preview_enable(
    state: NamespaceState, catalog: templates.Catalog, *, netfence_namespace: str
) -> Plan:
    """What enabling a namespace would do, computed from its current state; writes nothing."""
    current = state.namespace or Namespace(state.name)
    labels = {**current.labels, naming.MANAGED_NAMESPACE_LABEL: naming.MANAGED_NAMESPACE_VALUE}
    labelled = dataclasses.replace(state, namespace=Namespace(current.name, labels))
    return plan_namespace(labelled, catalog, netfence_namespace=netfence_namespace)


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateProposal:
    """Re-rendering one attachment from its template's current version (nothing written)."""

    policy: str
    controller: WorkloadRef
    template: templates.Template
    version: str
    current_spec: JsonDict
    proposed_spec: JsonDict

    @property
    def changed(self) -> bool:
        return self.current_spec != self.proposed_spec


def propose_update(
    state: NamespaceState, catalog: templates.Catalog, policy_name: str
) -> UpdateProposal:
    policy = next((p for p in state.policies if p.name == policy_name), None)
    if policy is None or policy.controller is None or policy.template is None:
        raise NotFound(
            f"{policy_name} is not a policy netfence made from a template in {state.name}"
        )
    template = catalog.templates.get(policy.template)
    if template is None:
        raise NotFound(
            f"template {policy.template} no longer exists, so there is nothing to update to"
        )
    ref = policy.controller
    workload = next((w for w in state.workloads if w.ref == ref), None)
    if workload is None or workload.pod_selector is None:
        raise NotFound(f"{ref} no longer exists in {state.name}")
    proposed = rendering.attachment_policy(workload, template)
    return UpdateProposal(
        policy=policy_name,
        controller=ref,
        template=template,
        version=rendering.version_of(template),
        current_spec=rendering.normalize_spec(policy.spec),
        proposed_spec=proposed["spec"],
    )
