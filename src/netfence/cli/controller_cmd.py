"""`netfence controller`: run the reconcile loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

import typer

from netfence.cli.context import Settings, run, settings
from netfence.controller.running import ControllerSettings, run_controller


def register(app: typer.Typer) -> None:
    app.command("controller")(controller)


def controller(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option(help="Namespaces reconciled in parallel.")] = 4,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the controller (in-cluster when no --kubeconfig is given and none is found)."""
    s = settings(ctx)
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; keep request lines out of normal logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    run(_controller(s, workers))


async def _controller(s: Settings, workers: int) -> None:
    async with s.client() as client:
        with contextlib.suppress(asyncio.CancelledError):
            await run_controller(
                client,
                ControllerSettings(netfence_namespace=s.netfence_namespace, workers=workers),
            )
