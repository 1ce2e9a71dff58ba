"""What netfence did and refused in a namespace, newest first."""

from __future__ import annotations

from netfence.usecases.ports import Cluster, EventRecord

LIMIT = 100


async def recent(cluster: Cluster, namespace: str, *, limit: int = LIMIT) -> list[EventRecord]:
    events = await cluster.reader.events(namespace)
    events.sort(key=lambda e: e.time.isoformat() if e.time else "", reverse=True)
    return events[:limit]
