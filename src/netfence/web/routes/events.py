"""/api/v1/namespaces/{ns}/events: what netfence did and refused there, newest first."""

from __future__ import annotations

from fastapi import APIRouter
from lightkube import ApiError
from lightkube.resources.core_v1 import Event
from lightkube.resources.core_v1 import Namespace as NamespaceResource

from netfence.core import naming
from netfence.kube import failures
from netfence.web import schemas
from netfence.web.callers import Caller, CallerDep

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/events", tags=["events"])


@router.get("", response_model=list[schemas.EventRow])
async def list_events(namespace: str, caller: CallerDep) -> list[schemas.EventRow]:
    rows = []
    with failures.translated(f"read events in {namespace}"):
        async for event in caller.client.list(
            Event, namespace=namespace, labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE}
        ):
            when = event.eventTime or event.lastTimestamp or event.firstTimestamp
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
    if not rows:
        await _check_exists(caller, namespace)
    rows.sort(key=lambda r: r.time or "", reverse=True)
    return rows[:100]


async def _check_exists(caller: Caller, namespace: str) -> None:
    """Listing events in a namespace that does not exist answers an empty list; say 404.

    Only a 404 counts: a caller who may list events but not read the Namespace object
    still gets the (empty) list.
    """
    try:
        await caller.client.get(NamespaceResource, namespace)
    except ApiError as e:
        if e.status.code == 404:
            raise failures.translate(e, f"read events in {namespace}") from e
