"""Reading what connectivity analysis needs from a live cluster, in one pass of list calls.

Objects go through the same reader as files (`core.manifests`), as their JSON form, so the
live cluster and `--from-files` of the same objects give the same inventory.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

from lightkube import ALL_NS, ApiError, AsyncClient
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.core_v1 import Pod
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import manifests
from netfence.kube import converting, failures

_WORKLOADS: tuple[Any, ...] = (NetworkPolicy, *converting.WORKLOAD_RESOURCES.values())


async def survey(client: AsyncClient) -> manifests.Inventory:
    """Namespaces, pods, NetworkPolicies and controllers of every namespace.

    Pods are optional: a caller who may not list them everywhere (netfence-admin may, a
    developer may not) still gets the rest, with `unreadable` saying pods are missing, which
    is enough for controller-level analysis and impact previews.
    """
    action = "list namespaces, NetworkPolicies and controllers in all namespaces"
    with failures.translated(action, who_can=_WHO):
        listed = await asyncio.gather(
            _collect(client.list(NamespaceResource)),
            *(_collect(client.list(kind, namespace=ALL_NS)) for kind in _WORKLOADS),
        )
    unreadable: tuple[str, ...] = ()
    try:
        listed.append(await _collect(client.list(Pod, namespace=ALL_NS)))
    except ApiError as e:
        if e.status.code != 403:
            raise failures.translate(e, "list pods in all namespaces") from e
        unreadable = ("pods",)
    documents = [
        (f"{type(obj).__name__} {_name(obj)}", obj.to_dict()) for items in listed for obj in items
    ]
    # Objects the API server returns are valid; only files need checking.
    inventory = manifests.read(documents, validate=False)
    return dataclasses.replace(inventory, unreadable=unreadable)


_WHO = "connectivity analysis needs read access to them cluster-wide (netfence-admin has it)"


async def survey_namespaces(client: AsyncClient, names: Iterable[str]) -> manifests.Inventory:
    """The same as `survey`, for some namespaces only: what a caller bound per namespace
    (netfence-developer) may read.

    It is enough for every verdict between endpoints of these namespaces: egress is decided
    by the policies of the source's namespace and ingress by those of the destination's,
    each matching the other end by its labels and its namespace's labels, all read here.
    Pods are optional as in `survey`; a namespace that does not exist is NotFound.
    """
    wanted = sorted(set(names))
    listed: list[list[Any]] = []
    unreadable: tuple[str, ...] = ()
    for name in wanted:
        action = f"read namespace {name}"
        with failures.translated(action, who_can="ask an admin for access"):
            namespace = await client.get(NamespaceResource, name)
            listed.append([namespace])
            listed.extend(
                await asyncio.gather(
                    *(_collect(client.list(kind, namespace=name)) for kind in _WORKLOADS)
                )
            )
        try:
            listed.append(await _collect(client.list(Pod, namespace=name)))
        except ApiError as e:
            if e.status.code != 403:
                raise failures.translate(e, f"list pods in namespace {name}") from e
            unreadable = ("pods",)
    documents = [
        (f"{type(obj).__name__} {_name(obj)}", obj.to_dict()) for items in listed for obj in items
    ]
    inventory = manifests.read(documents, validate=False)
    return dataclasses.replace(inventory, unreadable=unreadable)


async def _collect(iterable: Any) -> list[Any]:
    return [item async for item in iterable]


def _name(obj: Any) -> str:
    meta = obj.metadata
    if meta is None:
        return "?"
    return f"{meta.namespace}/{meta.name}" if meta.namespace else str(meta.name)
