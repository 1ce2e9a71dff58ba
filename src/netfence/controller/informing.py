"""List-then-watch caches of cluster objects, indexed by namespace.

Each informer keeps only the slim core objects, not the API payloads, which is what keeps
the controller small while it watches thousands of workloads. Every change calls back with
the namespace it touched; reconciliation then reads the whole namespace from the caches
(level-based), so a missed or coalesced event never matters.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from lightkube import ALL_NS, ApiError, AsyncClient

logger = logging.getLogger(__name__)

T = TypeVar("T")

OnChange = Callable[[str, "T | None", "T | None"], None]
"""(namespace, old, new): called for every change; cluster-scoped objects use their name."""


class Informer(Generic[T]):
    def __init__(
        self,
        client: AsyncClient,
        resource: type[Any],
        *,
        convert: Callable[[Any], T | None],
        on_change: Callable[[str, T | None, T | None], None],
        namespace: str | None = ALL_NS,
        labels: dict[str, Any] | None = None,
        cluster_scoped: bool = False,
        on_error: Callable[[str, BaseException], None] | None = None,
        on_listed: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        # (resource, error) after a list or watch failed; (resource) after a list worked.
        self._on_error = on_error
        self._on_listed = on_listed
        self._resource = resource
        self._convert = convert
        self._on_change = on_change
        self._namespace = namespace
        self._labels = labels
        self._cluster_scoped = cluster_scoped
        self.by_namespace: dict[str, dict[str, T]] = {}
        self.synced = asyncio.Event()

    @property
    def name(self) -> str:
        return self._resource.__name__

    def get(self, namespace: str, name: str) -> T | None:
        return self.by_namespace.get(namespace, {}).get(name)

    def in_namespace(self, namespace: str) -> list[T]:
        return list(self.by_namespace.get(namespace, {}).values())

    def count(self) -> int:
        return sum(len(items) for items in self.by_namespace.values())

    def _where(self, obj: Any) -> tuple[str, str]:
        meta = obj.metadata
        name = meta.name
        return (name if self._cluster_scoped else meta.namespace), name

    def _kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if not self._cluster_scoped:
            kwargs["namespace"] = self._namespace
        if self._labels:
            kwargs["labels"] = self._labels
        return kwargs

    async def run(self) -> None:
        """List and watch forever; relist after any error, with jittered backoff."""
        failures = 0
        while True:
            try:
                version = await self._relist()
                failures = 0
                if self._on_listed is not None:
                    self._on_listed(self.name)
                await self._watch(version)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - a cache must survive any API error
                gone = isinstance(e, ApiError) and e.status.code == 410
                failures = 0 if gone else failures + 1
                delay = 0.0 if gone else min(30.0, 0.5 * 2**failures) * random.uniform(0.5, 1)  # noqa: S311
                if self._on_error is not None:
                    self._on_error(self.name, e)
                logger.warning(
                    "watch of %s failed (%s); relisting in %.1fs",
                    self.name,
                    e,
                    delay,
                    extra={"object": self.name.lower()},
                )
                await asyncio.sleep(delay)

    async def _relist(self) -> str:
        fresh: dict[str, dict[str, T]] = {}
        listing = self._client.list(self._resource, chunk_size=500, **self._kwargs())
        async for obj in listing:
            converted = self._convert(obj)
            if converted is not None:
                namespace, name = self._where(obj)
                fresh.setdefault(namespace, {})[name] = converted
        old = self.by_namespace
        self.by_namespace = fresh
        for namespace in set(old) | set(fresh):
            before, after = old.get(namespace, {}), fresh.get(namespace, {})
            for name in set(before) | set(after):
                if before.get(name) != after.get(name):
                    self._on_change(namespace, before.get(name), after.get(name))
        self.synced.set()
        return listing.resourceVersion

    async def _watch(self, version: str) -> None:
        events = self._client.watch(
            self._resource, resource_version=version, server_timeout=300, **self._kwargs()
        )
        async for kind, obj in events:
            if kind not in ("ADDED", "MODIFIED", "DELETED"):
                continue
            namespace, name = self._where(obj)
            items = self.by_namespace.setdefault(namespace, {})
            old = items.get(name)
            new = None if kind == "DELETED" else self._convert(obj)
            if new is None:
                items.pop(name, None)
                if not items:
                    self.by_namespace.pop(namespace, None)
            else:
                items[name] = new
            if old != new:
                self._on_change(namespace, old, new)
