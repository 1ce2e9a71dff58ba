"""`netfence controller`: run the reconcile loop."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from netfence.cli.context import run, settings


def register(app: typer.Typer) -> None:
    app.command("controller")(controller)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL at INFO; keep request lines out of normal logs.
    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def controller(
    ctx: typer.Context,
    workers: Annotated[int, typer.Option(help="Namespaces reconciled in parallel.")] = 4,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
) -> None:
    """Run the controller (in-cluster when no --kubeconfig is given and none is found)."""
    s = settings(ctx)
    configure_logging(log_level)
    run(s.runtime.run_controller(s, workers=workers))
