"""/api/v1/namespaces/{ns}/events: what netfence did and refused there, newest first."""

from __future__ import annotations

from fastapi import APIRouter

from netfence.usecases import events
from netfence.web import schemas
from netfence.web.callers import CallerDep
from netfence.web.routes.params import NamespaceName

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/events", tags=["events"])


@router.get("", response_model=list[schemas.EventRow])
async def list_events(namespace: NamespaceName, caller: CallerDep) -> list[schemas.EventRow]:
    return [
        schemas.EventRow(
            type=e.type,
            reason=e.reason,
            message=e.message,
            object=e.object,
            time=e.time.isoformat() if e.time else None,
        )
        for e in await events.recent(caller.cluster, namespace)
    ]
