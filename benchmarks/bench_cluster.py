"""Objects and helpers the benchmarks share: they build the same kind of cluster."""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube import AsyncClient, codecs
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming


def namespace(name: str, *, managed: bool) -> dict[str, Any]:
    labels = {naming.MANAGED_NAMESPACE_LABEL: "true"} if managed else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def deployment(ns: str, name: str, templates: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {naming.template_label_key(t): "true" for t in templates},
        },
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "backend"}},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "example/app:1",
                            "ports": [{"containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


async def create_all(
    client: AsyncClient, manifests: list[dict[str, Any]], parallel: int = 32
) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(manifest: dict[str, Any]) -> None:
        async with gate:
            await client.create(codecs.from_dict(manifest))

    await asyncio.gather(*(one(m) for m in manifests))


async def count_policies(client: AsyncClient, ns: str) -> int:
    return len([p async for p in client.list(NetworkPolicy, namespace=ns)])
