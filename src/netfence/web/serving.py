"""`netfence serve`: the API, the console and (unless told not to) the controller, one process."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from netfence.controller.running import ControllerSettings, run_controller
from netfence.kube import connecting
from netfence.web.app import create_app
from netfence.web.settings import WebSettings

logger = logging.getLogger(__name__)


async def serve(settings: WebSettings, *, host: str, port: int, controller: bool) -> None:
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
    )
    client = connecting.make_client(settings.cluster) if controller else None
    task = None
    if client is not None:
        task = asyncio.create_task(
            run_controller(
                client, ControllerSettings(netfence_namespace=settings.netfence_namespace)
            ),
            name="controller",
        )
        task.add_done_callback(_report_crash)
    try:
        await server.serve()
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if client is not None:
            await client.close()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("the controller stopped: %s", task.exception())
