"""`netfence controller`: run the reconcile loop."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from netfence.cli.context import ControllerOptions, fail, run, settings


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
    lease_seconds: Annotated[
        int,
        typer.Option(
            min=2, help="Leader election: how long the Lease holds without renewal (seconds)."
        ),
    ] = 15,
    renew_seconds: Annotated[
        float,
        typer.Option(min=0.2, help="Leader election: how often the leader renews (seconds)."),
    ] = 5.0,
) -> None:
    """Run the controller (in-cluster when no --kubeconfig is given and none is found).

    SIGTERM or Ctrl-C stops it gracefully and releases the Lease, so another replica
    takes over within a second.
    """
    if renew_seconds >= lease_seconds * 0.8:
        fail(
            f"--renew-seconds {renew_seconds:g} must be well under --lease-seconds "
            f"{lease_seconds} (at most 80%), or the leader loses the Lease between renewals",
            2,
        )
    s = settings(ctx)
    configure_logging(log_level)
    options = ControllerOptions(workers, lease_seconds, renew_seconds)
    run(s.runtime.run_controller(s, options))
