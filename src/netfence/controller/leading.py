"""Leader election on a coordination.k8s.io Lease, so two replicas never both write.

Every replica keeps its caches warm; only the holder of the Lease reconciles. A replica
that cannot renew in time stops writing before another may take over: `is_leader` is
decided by this process's own monotonic clock from the moment a renewal was *sent*, so a
replica that was paused (SIGSTOP, a long GC, a frozen VM) knows on waking that its Lease
may be gone, before it writes anything. A graceful stop releases the Lease so another
replica takes over within a retry period instead of a Lease duration.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Callable

from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

logger = logging.getLogger(__name__)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LeaderElector:
    def __init__(
        self,
        client: AsyncClient,
        *,
        namespace: str,
        name: str,
        identity: str,
        lease_seconds: int = 15,
        renew_seconds: float = 5.0,
        retry_seconds: float = 1.0,
        on_error: Callable[[str, BaseException], None] | None = None,
        on_answer: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        # Told of every attempt's outcome: the Lease is the one request a follower keeps
        # sending, so it says whether the API server answers.
        self._on_error = on_error
        self._on_answer = on_answer
        self._namespace = namespace
        self._name = name
        self.identity = identity
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._retry_seconds = retry_seconds
        self.leading = asyncio.Event()
        # time.monotonic() when the last successful renewal was sent.
        self._renewed_at: float | None = None

    @property
    def _object(self) -> str:
        return f"lease/{self._name}"

    def is_leader(self) -> bool:
        """True only while the last renewal is fresh enough, by this process's own clock,
        that no one else can hold the Lease (with a margin for clock rates)."""
        if not self.leading.is_set() or self._renewed_at is None:
            return False
        return time.monotonic() < self._renewed_at + self._lease_seconds * 0.8

    async def run(self) -> None:
        try:
            while True:
                try:
                    held = await self._try_acquire_or_renew()
                except Exception as e:  # noqa: BLE001 - leadership lapses on its own
                    logger.warning("leader election: %s", e, extra={"object": self._object})
                    if self._on_error is not None:
                        self._on_error("Lease", e)
                    held = False
                else:
                    if self._on_answer is not None:
                        self._on_answer("Lease")
                if held and not self.leading.is_set():
                    logger.info(
                        "became leader (%s)",
                        self.identity,
                        extra={"namespace": self._namespace, "object": self._object},
                    )
                    self.leading.set()
                elif not held and self.leading.is_set():
                    logger.warning(
                        "lost leadership (%s)",
                        self.identity,
                        extra={"namespace": self._namespace, "object": self._object},
                    )
                    self.leading.clear()
                await asyncio.sleep(self._renew_seconds if held else self._retry_seconds)
        finally:
            await self._release()

    async def _try_acquire_or_renew(self) -> bool:
        sent = time.monotonic()
        now = _now()
        try:
            lease = await self._client.get(Lease, self._name, namespace=self._namespace)
        except ApiError as e:
            if e.status.code != 404:
                raise
            await self._client.create(
                Lease(
                    metadata=ObjectMeta(name=self._name, namespace=self._namespace),
                    spec=LeaseSpec(
                        holderIdentity=self.identity,
                        leaseDurationSeconds=self._lease_seconds,
                        acquireTime=now,
                        renewTime=now,
                        leaseTransitions=0,
                    ),
                )
            )
            self._renewed_at = sent
            return True
        spec = lease.spec or LeaseSpec()
        holder = spec.holderIdentity
        expired = (
            spec.renewTime is None
            or spec.renewTime + datetime.timedelta(seconds=spec.leaseDurationSeconds or 15) < now
        )
        if holder and holder != self.identity and not expired:
            return False
        if holder != self.identity:
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
        spec.holderIdentity = self.identity
        spec.leaseDurationSeconds = self._lease_seconds
        spec.renewTime = now
        lease.spec = spec
        try:
            # The resourceVersion in `lease` makes this a compare-and-swap: of two replicas
            # racing for an expired lease, exactly one wins.
            await self._client.replace(lease)
        except ApiError as e:
            if e.status.code == 409:
                return False
            raise
        self._renewed_at = sent
        return True

    async def _release(self) -> None:
        if not self.leading.is_set():
            return
        self.leading.clear()
        self._renewed_at = None
        try:
            lease = await self._client.get(Lease, self._name, namespace=self._namespace)
            if lease.spec and lease.spec.holderIdentity == self.identity:
                lease.spec.holderIdentity = None
                lease.spec.renewTime = None
                await self._client.replace(lease)
                logger.info("released the lease (%s)", self.identity)
        except Exception as e:  # noqa: BLE001 - the lease expires anyway
            logger.info("could not release the lease: %s", e)
