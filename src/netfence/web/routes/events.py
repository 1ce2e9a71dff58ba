"""/api/v1/namespaces/{ns}/events: what netfence did and refused there, newest first."""

from __future__ import annotations

from fastapi import APIRouter
from lightkube.resources.core_v1 import Event

from netfence.core import naming
from netfence.kube import failures
from netfence.web import schemas
from netfence.web.callers import CallerDep

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/events", tags=["events"])


@router.get("", response_model=list[schemas.EventRow])
async def list_events(namespace: str, caller: CallerDep) -> list[schemas.EventRow]:
    rows = []
    with failures.translated(f"read events in {namespace}"):
        async for event in caller.client.list(
            Event, namespace=namespace, labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
        ):
            when = event.lastTimestamp or event.firstTimestamp
            involved = event.involvedObject
            rows.append(
                schemas.EventRow(
                    type=event.type or "Normal",
                    reason=event.reason or "",
                    message=event.message or "",
                    object=f"{involved.kind}/{involved.name}",
                    time=when.isoformat() if when else None,
                )
            )
    rows.sort(key=lambda r: r.time or "", reverse=True)
    return rows[:100]
