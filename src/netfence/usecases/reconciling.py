"""The reconcile use case: plan one namespace from what the reader holds, carry the plan out
through the writer, and tell people what happened without repeating itself.

The controller package supplies the reader (its informer cache), the queue and the
leadership; everything that decides what to write and what to report lives here, over
ports, and is tested with fakes (tests/usecases/test_reconciling.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from netfence.core import naming, planning, templates
from netfence.core.planning import AttachmentKey, Notice, Plan, Severity, Step, WriteBackup
from netfence.usecases.ports import ClusterReader, NoticeBoard, PolicyWriter

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
            await publish(board, step.notice)
    return outcome


async def _run(step: Step, writer: PolicyWriter) -> None:
    match step:
        case WriteBackup():
            await writer.write_backup(step)
        case planning.DeletePolicy(namespace=namespace, name=name):
            await writer.delete_policy(namespace, name)
        case planning.ApplyPolicy(manifest=manifest):
            await writer.apply_policy(manifest)


async def publish(board: NoticeBoard, notice: Notice) -> None:
    """Post one notice; a notice that cannot be posted never stops work."""
    try:
        await board.publish(notice)
    except Exception as e:  # noqa: BLE001 - an event never stops work
        logger.warning("could not post event %s: %s", notice.reason, e)


def failure_notice(namespace: str, step: Step, error: Exception) -> Notice:
    after = " (nothing after the backup was done)" if isinstance(step, WriteBackup) else ""
    return planning.namespace_warning(
        namespace, "ReconcileFailed", f"could not {step.describe()}: {error}; will retry{after}"
    )


class Reconciler:
    """Reconciles namespaces one at a time, remembering between passes what a level-based
    loop must not forget or repeat:

    - the template snapshot of every live attachment, so a policy deleted behind netfence's
      back is put back as it was attached, not from today's template;
    - the refusals and failures already reported per namespace, so the same problem seen
      on every pass posts one Event, not one per pass (and a new one once it changed);
    - the broken templates already reported.
    """

    def __init__(
        self,
        reader: ClusterReader,
        writer: PolicyWriter,
        board: NoticeBoard,
        *,
        netfence_namespace: str,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._board = board
        self._netfence_namespace = netfence_namespace
        self._remembered: dict[str, dict[AttachmentKey, str]] = {}
        self._reported: dict[str, set[Notice]] = {}
        self._catalog_reported: set[Notice] = set()

    async def reconcile(self, name: str) -> bool:
        """One pass over one namespace; True when everything it planned was done."""
        state = await self._reader.namespace(name)
        catalog = (await self._reader.catalog()).catalog
        plan = planning.plan_namespace(
            state,
            catalog,
            netfence_namespace=self._netfence_namespace,
            remembered=self._remembered.get(name),
        )
        gone = state.namespace is None
        if gone:
            self._remembered.pop(name, None)
        else:
            self._remembered[name] = dict(plan.snapshots)
        if not plan.is_empty:
            logger.info("namespace %s: %s", name, "; ".join(s.describe() for s in plan.steps))
        outcome = await execute(plan, writer=self._writer, board=self._board)
        problems = set(plan.refusals)
        problems.update(failure_notice(name, step, error) for step, error in outcome.failures)
        for notice in problems - self._reported.get(name, set()):
            await publish(self._board, notice)
        if gone:
            self._reported.pop(name, None)
        else:
            self._reported[name] = problems
        return outcome.ok

    async def report_catalog(self, catalog: templates.Catalog) -> None:
        """One Warning per newly broken template; the others are still served."""
        notices = {
            Notice(
                kind="ConfigMap",
                namespace=self._netfence_namespace,
                name=naming.TEMPLATES_CONFIGMAP,
                severity=Severity.WARNING,
                reason="InvalidTemplate",
                message=f"{broken}; the other templates are still served",
            )
            for broken in catalog.broken.values()
        }
        for notice in notices - self._catalog_reported:
            logger.warning("%s", notice.message)
            await publish(self._board, notice)
        self._catalog_reported = notices

    def remembered(self, name: str) -> dict[AttachmentKey, str]:
        """The snapshots remembered for a namespace (for tests and diagnostics)."""
        return dict(self._remembered.get(name, {}))
