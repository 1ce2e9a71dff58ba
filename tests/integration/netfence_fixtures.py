"""Fixtures that put netfence itself on the control plane (imported by conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from netfence.controller.running import Controller, ControllerSettings
from netfence.kube import connecting
from netfence.kube.writing import KubeWriter
from netfence.localcluster import ControlPlane

# --- netfence on the control plane --------------------------------------------------

NETFENCE_NS = "netfence-system"


@pytest.fixture(scope="session")
async def admin(control_plane: ControlPlane) -> AsyncIterator[AsyncClient]:
    """A client acting as the cluster admin; netfence's namespace exists."""
    client = connecting.client_for(control_plane.kubeconfig)
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=NETFENCE_NS)))
    except ApiError as e:
        if e.status.code != 409:
            raise
    yield client
    await client.close()


@contextlib.asynccontextmanager
async def running_controller(
    client: AsyncClient, *, writer: KubeWriter | None = None, **settings: Any
) -> AsyncIterator[Controller]:
    """Run a controller in this event loop until the block ends, then stop it cleanly."""
    controller = Controller(
        client,
        ControllerSettings(netfence_namespace=NETFENCE_NS, renew_seconds=1.0, **settings),
        writer=writer,
    )
    task = asyncio.create_task(controller.run())
    ready = asyncio.create_task(controller.ready.wait())
    done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # surfaces the controller's startup error
    if ready not in done:
        task.cancel()
        raise RuntimeError("the controller did not become ready within 30s")
    try:
        yield controller
    finally:
        task.cancel()
        await stopped(task, "the test controller")


STOP_SECONDS = 20.0


async def stopped(task: asyncio.Task[Any], what: str) -> None:
    """Wait for a cancelled task to end. One that does not within STOP_SECONDS is left
    behind, with the stack of every task on stderr, rather than freezing the teardown with
    nothing left to time out (seen twice in full runs at test_wire's end, never alone)."""
    done, _ = await asyncio.wait({task}, timeout=STOP_SECONDS)
    if not done:
        report_stuck(f"{what} did not stop within {STOP_SECONDS:g}s of being cancelled")
        return
    with contextlib.suppress(asyncio.CancelledError):
        task.result()


def report_stuck(message: str) -> None:
    # stderr, not a warning: the suite turns warnings into errors, and this is the one
    # teardown trouble that must not fail the run while its cause is being found.
    print(f"STUCK: {message}; every task's stack follows", file=sys.stderr)  # noqa: T201
    for other in asyncio.all_tasks():
        other.print_stack(file=sys.stderr)


@pytest.fixture(scope="module")
async def controller(admin: AsyncClient) -> AsyncIterator[Controller]:
    """One controller per test module, acting as the cluster admin."""
    async with running_controller(admin) as running:
        yield running
