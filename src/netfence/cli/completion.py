"""Shell completion that reads the cluster: namespaces, templates, controllers.

Completion runs while the command line is being typed: the root callback has not run, so
the connection options are read from the parsed parameters. Any problem (no kubeconfig,
an unreachable server, a refusal) completes nothing, quietly, and within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import typer

from netfence.cli.context import Runtime, Settings
from netfence.core import naming
from netfence.usecases.ports import Cluster

TIMEOUT_SECONDS = 3.0


def _settings(ctx: typer.Context) -> Settings | None:
    root = ctx.find_root()
    obj = root.obj
    if isinstance(obj, Settings):
        return obj
    runtime: Runtime | None = obj
    if runtime is None:
        return None
    params = root.params
    kubeconfig = params.get("kubeconfig")
    return Settings(
        kubeconfig=Path(kubeconfig) if kubeconfig else None,
        context=params.get("context"),
        netfence_namespace=params.get("netfence_namespace") or naming.DEFAULT_NETFENCE_NAMESPACE,
        runtime=runtime,
    )


def _complete(
    ctx: typer.Context, incomplete: str, names: Callable[[Cluster, Settings], Awaitable[list[str]]]
) -> list[str]:
    settings = _settings(ctx)
    if settings is None:
        return []

    async def read() -> list[str]:
        async with settings.cluster() as cluster:
            return await asyncio.wait_for(names(cluster, settings), TIMEOUT_SECONDS)

    found: list[str] = []
    with contextlib.suppress(Exception):
        found = asyncio.run(read())
    return [name for name in found if name.startswith(incomplete)]


async def _namespaces(cluster: Cluster, _settings: Settings) -> list[str]:
    return [state.name for state in await cluster.reader.namespaces()]


async def _templates(cluster: Cluster, _settings: Settings) -> list[str]:
    return sorted((await cluster.reader.catalog()).catalog.templates)


def namespaces(ctx: typer.Context, incomplete: str) -> list[str]:
    return _complete(ctx, incomplete, _namespaces)


def templates(ctx: typer.Context, incomplete: str) -> list[str]:
    return _complete(ctx, incomplete, _templates)


def controllers(ctx: typer.Context, incomplete: str) -> list[str]:
    """`deployment/web`, ... of the namespace given with -n (or the context's)."""
    given: Any = ctx.params.get("namespace")

    async def names(cluster: Cluster, settings: Settings) -> list[str]:
        namespace = given or settings.runtime.namespace(settings)
        state = await cluster.reader.namespace(namespace)
        return sorted(f"{w.kind.value.lower()}/{w.name}" for w in state.workloads)

    return _complete(ctx, incomplete, names)


def contexts(ctx: typer.Context, incomplete: str) -> list[str]:
    settings = _settings(ctx)
    if settings is None:
        return []
    try:
        names = settings.runtime.contexts(settings.kubeconfig)
    except Exception:  # noqa: BLE001 - completion offers nothing rather than an error
        return []
    return [name for name in names if name.startswith(incomplete)]
