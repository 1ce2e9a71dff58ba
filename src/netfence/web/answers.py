"""Answers computed once for every caller who would get the same.

Keys come from the reader (`ClusterViews.revision`: what the caller may see and the
version of the cluster it read), so an answer is shared only by callers who see exactly the
same, and only until the cluster changes. Concurrent requests for the same key wait for
one computation (`usecases.kept`): after a change, a hundred open pages reload, and the
matrix is evaluated once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

from fastapi import Request

from netfence.usecases.kept import Kept
from netfence.web.clusters import cluster_name

T = TypeVar("T")


class Answers:
    """Views' answers by key (see `usecases.kept`); a key of None is never kept (the
    reader cannot tell when its reads would answer the same)."""

    def __init__(self, size: int = 256) -> None:
        self._kept: Kept[Any] = Kept(size=size)

    async def body(self, key: Hashable | None, compute: Callable[[], Awaitable[T]]) -> T:
        if key is None:
            return await compute()
        return cast(T, await self._kept.get(key, compute))


def answers_of(request: Request) -> Answers:
    """The answers of the cluster the request is for: revisions of two clusters' caches
    say nothing about each other."""
    kept: dict[str, Answers] = request.app.state.answers
    name = cluster_name(request)
    found = kept.get(name)
    if found is None:
        found = kept[name] = Answers()
    return found
