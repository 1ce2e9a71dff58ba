"""The controller: caches, a work queue of namespaces, leader-gated workers.

Handlers are thin: every change only enqueues the namespace it touched, and a worker
reconciles that namespace from the caches (level-based), so the result never depends on
which events arrived or in what order. What to write and what to report is decided by the
reconcile use case (`usecases.reconciling.Reconciler`); this package keeps the informers,
the queue and the leadership.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from dataclasses import dataclass, field

from lightkube import AsyncClient

from netfence.controller.caching import CachedReader, ClusterCache
from netfence.controller.leading import LeaderElector
from netfence.controller.metrics import ControllerMetrics, Gauges
from netfence.controller.probes import ApiContact, Status
from netfence.controller.queueing import WorkQueue
from netfence.core import naming
from netfence.kube import template_store
from netfence.kube.writing import KubeWriter
from netfence.usecases.reconciling import Reconciler

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ControllerSettings:
    netfence_namespace: str = naming.DEFAULT_NETFENCE_NAMESPACE
    workers: int = 4
    resync_seconds: float = 300.0
    lease_seconds: int = 15
    renew_seconds: float = 5.0
    identity: str = field(
        default_factory=lambda: (
            os.environ.get("POD_NAME") or f"{os.uname().nodename}-{secrets.token_hex(3)}"
        )
    )


class Controller:
    def __init__(
        self,
        client: AsyncClient,
        settings: ControllerSettings,
        *,
        writer: KubeWriter | None = None,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self._client = client
        self.settings = settings
        self.queue = WorkQueue()
        # Counters of this controller only (not the process-wide default registry), so
        # controllers made one after another in one process (tests) never collide.
        self.metrics = metrics or ControllerMetrics(process=False)
        self.contact = ApiContact()
        self.cache = ClusterCache(
            client,
            netfence_namespace=settings.netfence_namespace,
            on_namespace=self.queue.add,
            on_catalog=self._catalog_changed,
            on_error=self._watch_failed,
            on_listed=self.contact.answered,
        )
        self.writer = writer or KubeWriter(client, netfence_namespace=settings.netfence_namespace)
        self.elector = LeaderElector(
            client,
            namespace=settings.netfence_namespace,
            name=naming.LEADER_LEASE,
            identity=settings.identity,
            lease_seconds=settings.lease_seconds,
            renew_seconds=settings.renew_seconds,
            on_error=self.contact.failed,
            on_answer=self.contact.answered,
        )
        self.reconciler = Reconciler(
            CachedReader(self.cache),
            self.writer,
            self.writer,
            netfence_namespace=settings.netfence_namespace,
            leading=self.elector.is_leader,
            recorder=self.metrics,
        )
        self.metrics.observe(
            Gauges(
                queue_depth=self.queue.depth,
                leading=self.elector.is_leader,
                synced=lambda: not self.cache.unsynced(),
                managed=self.cache.managed,
                cached=self.cache.cached,
            )
        )
        self._report_catalog_soon = False
        self.ready = asyncio.Event()

    def status(self) -> Status:
        """What /readyz reports: caches synced, the API server answering, leadership."""
        return Status(
            identity=self.settings.identity,
            leader=self.elector.is_leader(),
            unsynced=self.cache.unsynced(),
            unanswered=self.contact.failing(),
        )

    def _watch_failed(self, resource: str, error: BaseException) -> None:
        self.metrics.watch_restarted(resource)
        self.contact.failed(resource, error)

    def _catalog_changed(self) -> None:
        for name in self.cache.namespace_names():
            self.queue.add(name)
        self._report_catalog_soon = True

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for informer in self.cache.informers:
                group.create_task(informer.run(), name=f"informer-{informer.name}")
            await self.cache.wait_synced()
            logger.info(
                "caches synced: %d namespaces, %d policies, %d controllers",
                self.cache.namespaces.count(),
                self.cache.policies.count(),
                sum(informer.count() for informer in self.cache.workloads),
            )
            group.create_task(self.elector.run(), name="leader-election")
            group.create_task(self._lead(), name="lead")
            for index in range(self.settings.workers):
                group.create_task(self._work(), name=f"worker-{index}")

    async def _lead(self) -> None:
        while True:
            await self.elector.leading.wait()
            try:
                if await template_store.ensure_defaults(
                    self._client, namespace=self.settings.netfence_namespace
                ):
                    await self._until_catalog_cached()
            except Exception as e:  # noqa: BLE001 - keep serving; attaches report it
                logger.error(
                    "cannot create the default templates in namespace %s: %s (does the "
                    "namespace exist? the Helm chart creates it)",
                    self.settings.netfence_namespace,
                    e,
                )
            await self._report_catalog()
            for name in self.cache.namespace_names():
                self.queue.add(name)
            self.ready.set()
            while self.elector.leading.is_set():
                try:
                    await asyncio.wait_for(self._until_lost(), timeout=self.settings.resync_seconds)
                except TimeoutError:
                    for name in self.cache.namespace_names():
                        self.queue.add(name)
            self.ready.clear()

    async def _until_catalog_cached(self, timeout: float = 5.0) -> None:
        """Reconciling before the new catalog reaches the cache would report every attached
        template as unknown; wait (briefly) for the watch to deliver it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.cache.catalog_seen.wait(), timeout)

    async def _until_lost(self) -> None:
        while self.elector.leading.is_set():
            if self._report_catalog_soon:
                await self._report_catalog()
            await asyncio.sleep(0.5)

    async def _report_catalog(self) -> None:
        self._report_catalog_soon = False
        await self.reconciler.report_catalog(self.cache.catalog)

    async def _work(self) -> None:
        while True:
            name = await self.queue.get()
            ok = True
            started = time.perf_counter()
            result = "success"
            try:
                if not self.elector.is_leader() or not self.ready.is_set():
                    # Not leading (or not started leading yet): drop the key; a leader
                    # enqueues every namespace once it is ready.
                    continue
                ok = await self.reconcile(name)
                result = "success" if ok else "retry"
            except Exception:
                logger.exception(
                    "reconcile of namespace %s failed", name, extra={"namespace": name}
                )
                ok = False
                result = "error"
            finally:
                self.queue.done(name, ok=ok)
            self.metrics.reconciled(result, time.perf_counter() - started)

    async def reconcile(self, name: str) -> bool:
        return await self.reconciler.reconcile(name)


async def run_controller(client: AsyncClient, settings: ControllerSettings | None = None) -> None:
    await Controller(client, settings or ControllerSettings()).run()
