"""/api/v1/stream: the changes of what the caller sees, pushed as server-sent events.

A page opens one stream (one per tab) and reloads the view a change concerns, instead of
polling. Each event is filtered by the caller's own permissions, as every view is; its
data names kinds and namespaces, never object contents, so a page always reads the
objects themselves through the ordinary views.

Events: `ready` once (the stream is live: reload once, in case something changed while it
connected), `change` with `{"kinds": [...], "namespaces": [...], "resync": bool}`, and
`signed-out` when the caller's credentials stop working (the stream then ends).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from netfence.core import errors
from netfence.web.callers import CallerDep
from netfence.web.errors import ApiProblem

router = APIRouter(prefix="/api/v1", tags=["stream"])

# A comment line this often keeps proxies from closing an idle stream.
_PING_SECONDS = 15
# How long a browser waits before reconnecting by itself (the console backs off further).
_RETRY_MS = 2000


@router.get(
    "/stream",
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events."}},
)
async def stream(request: Request, caller: CallerDep) -> EventSourceResponse:
    """Changes of the cluster as the caller may see them, as they happen."""
    feed = caller.cluster.feed
    if feed is None:
        raise ApiProblem(
            404, "This server reads the cluster live and has no change stream; poll the views."
        )
    # Credentials the cluster no longer accepts answer 401 now, not after the first change.
    await caller.cluster.identity.whoami()

    async def events() -> AsyncIterator[ServerSentEvent]:
        yield ServerSentEvent(event="ready", data="{}", retry=_RETRY_MS)
        try:
            async for change in feed.changes():
                data = {
                    "kinds": list(change.kinds),
                    "namespaces": list(change.namespaces),
                    "resync": change.resync,
                }
                yield ServerSentEvent(event="change", data=orjson.dumps(data).decode())
        except errors.Unauthenticated:
            yield ServerSentEvent(event="signed-out", data="{}")

    return EventSourceResponse(
        events(),
        ping=_PING_SECONDS,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
