"""`netfence controller`: run the reconcile loop."""

from __future__ import annotations

import enum
import logging
import re
from typing import Annotated

import typer
from pythonjsonlogger.json import JsonFormatter

from netfence.cli.context import ControllerOptions, fail, run, settings


def register(app: typer.Typer) -> None:
    app.command("controller")(controller)


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


# Anything that looks like a credential: an Authorization header's value, a JWT (service
# account tokens are JWTs). Nothing logs tokens on purpose; this is the second line.
_SECRETS = re.compile(
    r"(?i)(?<=bearer )[^\s\"',]+|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
)


class _Redact(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRETS.sub("[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str = "INFO", log_format: LogFormat = LogFormat.TEXT) -> None:
    """Text lines by default; one JSON object per line with --log-format json, with the
    `namespace` and `object` a record is about as fields of their own."""
    handler = logging.StreamHandler()
    if log_format is LogFormat.JSON:
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger"},
                # ISO 8601 in UTC, from the record's own creation time.
                timestamp="time",
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # httpx logs every request URL at INFO; keep request lines out of normal logs.
    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(help="text (lines for people) or json (one object per line, for log collectors)."),
]
MetricsAddressOption = Annotated[
    str | None,
    typer.Option(
        "--metrics-bind-address",
        metavar="HOST:PORT",
        help="Serve the controller's Prometheus /metrics here (:PORT: every interface; 0: none). "
        "Default 127.0.0.1:9090, skipped with a warning when taken.",
    ),
]
HealthAddressOption = Annotated[
    str | None,
    typer.Option(
        "--health-probe-bind-address",
        metavar="HOST:PORT",
        help="Serve the controller's /healthz and /readyz here (0: none). Default: with /metrics.",
    ),
]


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
    log_format: LogFormatOption = LogFormat.TEXT,
    metrics_bind_address: MetricsAddressOption = None,
    health_probe_bind_address: HealthAddressOption = None,
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
    configure_logging(log_level, log_format)
    options = ControllerOptions(
        workers, lease_seconds, renew_seconds, metrics_bind_address, health_probe_bind_address
    )
    run(s.runtime.run_controller(s, options))
