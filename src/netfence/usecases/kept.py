"""Answers computed once and kept: for a while, or until pushed out by newer ones.

The console asks the same things again and again: a caller's visibility and permission
answers (kept seconds), a view's body (kept until the cluster changes, which changes its
key). Concurrent askers of one key wait for one computation instead of each starting its
own; a failure is not kept, so the next asker computes again. Values are never changed
once made, so sharing them is safe.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class Kept(Generic[V]):
    def __init__(self, *, seconds: float | None = None, size: int = 1024) -> None:
        """`seconds`: how long an answer holds (None: until `size` newer keys push it out)."""
        self._seconds = seconds
        self._size = size
        self._kept: OrderedDict[Hashable, tuple[float, asyncio.Future[V]]] = OrderedDict()

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[V]]) -> V:
        loop = asyncio.get_running_loop()
        now = loop.time()
        found = self._kept.get(key)
        if found is not None and found[0] > now:
            self._kept.move_to_end(key)
            return await asyncio.shield(found[1])
        future: asyncio.Future[V] = loop.create_future()
        until = float("inf") if self._seconds is None else now + self._seconds
        self._kept[key] = (until, future)
        self._kept.move_to_end(key)
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
        try:
            future.set_result(await compute())
        except BaseException as e:
            if key in self._kept and self._kept[key][1] is future:
                del self._kept[key]
            if isinstance(e, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(e)
                future.exception()  # retrieved: only its waiters need it
            raise
        return future.result()
