"""Reading what connectivity analysis needs from a live cluster, in one pass of list calls.

Objects go through the same reader as files (`core.manifests`), as their JSON form, so the
live cluster and `--from-files` of the same objects give the same inventory.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube import ALL_NS, AsyncClient
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.core_v1 import Pod
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import manifests
from netfence.kube import converting, failures

_NAMESPACED: tuple[Any, ...] = (Pod, NetworkPolicy, *converting.WORKLOAD_RESOURCES.values())


async def survey(client: AsyncClient) -> manifests.Inventory:
    """Namespaces, pods, NetworkPolicies and controllers of every namespace."""
    with failures.translated(
        "list namespaces, pods, NetworkPolicies and controllers in all namespaces",
        who_can="connectivity analysis needs read access to them cluster-wide",
    ):
        listed = await asyncio.gather(
            _collect(client.list(NamespaceResource)),
            *(_collect(client.list(kind, namespace=ALL_NS)) for kind in _NAMESPACED),
        )
    documents = [
        (f"{type(obj).__name__} {_name(obj)}", obj.to_dict()) for items in listed for obj in items
    ]
    # Objects the API server returns are valid; only files need checking.
    return manifests.read(documents, validate=False)


async def _collect(iterable: Any) -> list[Any]:
    return [item async for item in iterable]


def _name(obj: Any) -> str:
    meta = obj.metadata
    if meta is None:
        return "?"
    return f"{meta.namespace}/{meta.name}" if meta.namespace else str(meta.name)
