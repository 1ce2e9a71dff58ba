"""The reconcile use case: plan one namespace from what the reader holds, carry the plan out
through the writer, and tell people what happened without repeating itself.

The controller package supplies the reader (its informer cache), the queue and the
leadership; everything that decides what to write and what to report lives here, over
ports, and is tested with fakes (tests/usecases/test_reconciling.py).
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netfence.core import errors, naming, planning, templates
from netfence.core.planning import (
    ApplyPolicy,
    AttachmentKey,
    DeletePolicy,
    Notice,
    Plan,
    Severity,
    Step,
    WriteBackup,
)
from netfence.usecases.ports import ClusterReader, NoticeBoard, PolicyWriter, ReconcileRecorder

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What executing a plan did: the steps done, and each failed step with its error."""

    done: list[Step] = field(default_factory=list)
    failures: list[tuple[Step, Exception]] = field(default_factory=list)
    skipped: list[Step] = field(default_factory=list)
    # The replica lost the Lease (by its own clock) before this step: nothing from it on
    # was written.
    fenced: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and not self.skipped and not self.fenced


async def execute(
    plan: Plan,
    *,
    writer: PolicyWriter,
    board: NoticeBoard | None = None,
    leading: Callable[[], bool] | None = None,
    recorder: ReconcileRecorder | None = None,
) -> Outcome:
    """Carry out a plan's steps in order; the order is what keeps every change safe.

    - Before every write, `leading` (when given) must still say this replica holds the
      Lease; once it does not, nothing more is written or posted.
    - A failed backup write stops everything after it: nothing is deleted without its backup.
    - Once any step failed, the pruning deletes after it are skipped: the old policies stay
      until what replaces them exists, so a refused create never opens the namespace.
    - Any other failed step is reported and the independent steps after it still run, so one
      bad attachment does not hold up the rest of the namespace.
    - A phase is recorded (backup written again) only when every step before it succeeded;
      otherwise the next pass resumes the opt-in or opt-out from where it stands.

    The caller re-plans from fresh state and retries; every step is idempotent, and every
    delete and update carries the version it was planned from.
    """
    outcome = Outcome()
    for index, step in enumerate(plan.steps):
        if leading is not None and not leading():
            outcome.fenced = True
            outcome.skipped.extend(plan.steps[index:])
            logger.warning("no longer leading: %d steps not written", len(plan.steps) - index)
            break
        if isinstance(step, WriteBackup) and outcome.failures:
            outcome.skipped.extend(plan.steps[index:])
            break
        if isinstance(step, DeletePolicy) and step.prune and outcome.failures:
            outcome.skipped.append(step)
            continue
        try:
            await _run(step, writer)
        except errors.Fenced:
            outcome.fenced = True
            outcome.skipped.extend(plan.steps[index:])
            break
        except Exception as e:  # noqa: BLE001 - reported per step; the caller retries
            _record(recorder, step, e)
            outcome.failures.append((step, e))
            logger.warning(
                "step failed: %s: %s",
                step.describe(),
                e,
                extra={"namespace": plan.namespace, "object": _object_name(step)},
            )
            if isinstance(step, WriteBackup):
                outcome.skipped.extend(plan.steps[index + 1 :])
                break
            continue
        _record(recorder, step, None)
        outcome.done.append(step)
        if board is not None and step.notice is not None:
            await publish(board, step.notice)
    return outcome


async def _run(step: Step, writer: PolicyWriter) -> None:
    match step:
        case WriteBackup():
            await writer.write_backup(step)
        case DeletePolicy():
            await writer.delete(
                step.namespace, step.name, uid=step.uid, resource_version=step.resource_version
            )
        case ApplyPolicy(exists=False):
            await writer.create(step.manifest)
        case ApplyPolicy():
            await writer.update(
                step.manifest, resource_version=step.resource_version, takeover=step.takeover
            )


def _verb(step: Step) -> tuple[str, str]:
    match step:
        case WriteBackup():
            return "apply", "configmaps"
        case DeletePolicy():
            return "delete", "networkpolicies"
        case ApplyPolicy(exists=False):
            return "create", "networkpolicies"
        case _:
            return "update", "networkpolicies"


def _record(recorder: ReconcileRecorder | None, step: Step, error: Exception | None) -> None:
    if recorder is None:
        return
    verb, resource = _verb(step)
    if error is None:
        result = "success"
    elif isinstance(error, errors.Conflict):
        result = "conflict"
    elif isinstance(error, errors.AccessDenied | errors.Rejected):
        result = "refused"
    else:
        result = "error"
    recorder.wrote(verb, resource, result)


def _object_name(step: Step) -> str:
    if isinstance(step, WriteBackup):
        return f"configmap/{naming.backup_configmap_name(step.namespace)}"
    return f"networkpolicy/{step.name}"


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


class RewriteGuard:
    """Leaves alone an object netfence rewrote too often lately.

    Two things fighting over one policy (another controller, a mutating webhook, a name
    two attachments map to) would otherwise have netfence rewrite it in a tight loop,
    flooding the API server and the Events. Past `limit` writes of one object within
    `window` seconds, the steps touching it are held back (the rest of the plan runs) and
    one Warning says why; it is written again once its writes age out of the window.
    """

    def __init__(
        self,
        *,
        limit: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = limit
        self._window = window
        self._clock = clock
        self._writes: dict[tuple[str, str], collections.deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> int:
        times = self._writes.get(key)
        if times is None:
            return 0
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._writes[key]
            return 0
        return len(times)

    def hold_back(self, plan: Plan) -> tuple[Plan, set[Notice]]:
        """The plan without the steps on objects written `limit` times lately, and a
        Warning for each such object."""
        now = self._clock()
        kept: list[Step] = []
        held: set[Notice] = set()
        for step in plan.steps:
            key = _object_of(step)
            if key is not None and self._recent(key, now) >= self._limit:
                held.add(
                    planning.namespace_warning(
                        key[0],
                        "RewriteLoop",
                        f"NetworkPolicy {key[1]} was rewritten {self._limit} times within "
                        f"{self._window:.0f}s: something else keeps changing it (another "
                        "controller or a webhook?); netfence leaves it alone for now and "
                        "keeps managing the rest",
                    )
                )
                continue
            kept.append(step)
        if len(kept) == len(plan.steps):
            return plan, held
        return dataclasses.replace(plan, steps=tuple(kept)), held

    def record(self, done: list[Step]) -> None:
        now = self._clock()
        for step in done:
            key = _object_of(step)
            if key is not None:
                self._writes.setdefault(key, collections.deque()).append(now)


def _object_of(step: Step) -> tuple[str, str] | None:
    if isinstance(step, ApplyPolicy | DeletePolicy):
        return step.namespace, step.name
    return None


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
        leading: Callable[[], bool] | None = None,
        rewrites: RewriteGuard | None = None,
        recorder: ReconcileRecorder | None = None,
    ) -> None:
        self._reader = reader
        self._recorder = recorder
        self._writer = writer
        self._board = board
        self._netfence_namespace = netfence_namespace
        self._leading = leading
        self._rewrites = rewrites or RewriteGuard()
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
        plan, held = self._rewrites.hold_back(plan)
        if not plan.is_empty:
            logger.info(
                "namespace %s: %s",
                name,
                "; ".join(s.describe() for s in plan.steps),
                extra={"namespace": name},
            )
        outcome = await execute(
            plan,
            writer=self._writer,
            board=self._board,
            leading=self._leading,
            recorder=self._recorder,
        )
        self._rewrites.record(outcome.done)
        if outcome.fenced:
            return False
        problems = set(plan.refusals) | held
        problems.update(failure_notice(name, step, error) for step, error in outcome.failures)
        for notice in problems - self._reported.get(name, set()):
            if self._recorder is not None and notice in plan.refusals:
                self._recorder.refused(notice.reason)
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
