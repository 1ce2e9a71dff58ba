"""A work queue of namespace names: deduplicated, one worker per key, retries with backoff.

Like client-go's workqueue: a key added while it is being processed is processed again
afterwards, never concurrently, so two reconciles of one namespace never race.
"""

from __future__ import annotations

import asyncio
import random


class WorkQueue:
    def __init__(self, *, base_delay: float = 0.2, max_delay: float = 60.0) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._pending: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def add(self, key: str) -> None:
        if key in self._active:
            self._dirty.add(key)
            return
        if key in self._pending:
            return
        self._pending.add(key)
        self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        if key in self._timers:
            return
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            self.add(key)

        self._timers[key] = loop.call_later(delay, fire)

    async def get(self) -> str:
        key = await self._queue.get()
        self._pending.discard(key)
        self._active.add(key)
        return key

    def done(self, key: str, *, ok: bool) -> None:
        self._active.discard(key)
        if ok:
            self._failures.pop(key, None)
        else:
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(self._max_delay, self._base_delay * 2 ** (failures - 1))
            self.add_after(key, delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def depth(self) -> int:
        """Keys waiting for a worker (as client-go's workqueue_depth counts them)."""
        return len(self._pending) + len(self._dirty - self._pending)

    def idle(self) -> bool:
        return not self._pending and not self._active and not self._dirty

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
