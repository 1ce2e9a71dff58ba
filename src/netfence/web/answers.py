"""Answers computed once for every caller who would get the same.

Keys come from the reader (`ClusterViews.revision`: what the caller may see and the
version of the cluster it read), so an answer is shared only by callers who see exactly the
same, and only until the cluster changes. Concurrent requests for the same key wait for
one computation instead of each starting its own: after a change, a hundred open pages
reload, and the matrix is evaluated once.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from fastapi import Request

from netfence.web.clusters import cluster_name

T = TypeVar("T")


class Answers:
    """Computed answers (response bodies, or rows to page through) by key. A value is
    never changed once made, so sharing it is safe."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, asyncio.Future[Any]] = OrderedDict()

    async def body(self, key: Hashable | None, compute: Callable[[], Awaitable[T]]) -> T:
        if key is None:
            return await compute()
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return cast(T, await asyncio.shield(found))
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._kept[key] = future
        if len(self._kept) > self._size:
            self._kept.popitem(last=False)
        try:
            future.set_result(await compute())
        except BaseException as e:
            # A failure is not remembered: the next request computes again.
            if self._kept.get(key) is future:
                del self._kept[key]
            if isinstance(e, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(e)
                future.exception()
            raise
        return future.result()


def answers_of(request: Request) -> Answers:
    """The answers of the cluster the request is for: revisions of two clusters' caches
    say nothing about each other."""
    kept: dict[str, Answers] = request.app.state.answers
    name = cluster_name(request)
    found = kept.get(name)
    if found is None:
        found = kept[name] = Answers()
    return found
