"""`netfence serve`: the web console and REST API, and the controller in a process beside it."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from netfence.cli.context import ServeOptions, out, run, settings
from netfence.cli.controller_cmd import (
    HealthAddressOption,
    LogFormat,
    LogFormatOption,
    MetricsAddressOption,
    configure_logging,
)


class Auth(enum.StrEnum):
    LOCAL = "local"
    TOKEN = "token"  # noqa: S105 - the name of a mode, not a secret


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    auth: Annotated[
        Auth,
        typer.Option(
            help="local: act with the kubeconfig's credentials (one user); "
            "token: every user signs in with their own Kubernetes token."
        ),
    ] = Auth.LOCAL,
    controller: Annotated[
        bool, typer.Option("--controller/--no-controller", help="Also run the controller.")
    ] = True,
    watch_cache: Annotated[
        bool,
        typer.Option(
            "--watch-cache/--no-watch-cache",
            help="Answer views from one shared watch cache, each caller shown only what "
            "Kubernetes lets them list (the server's own account needs read access); "
            "--no-watch-cache reads every view with the caller's credentials.",
        ),
    ] = True,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark session cookies Secure (serve behind HTTPS).")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            metavar="NAME",
            help="A host name (or address) the console is reached by, repeatable. "
            "Local mode answers only loopback names, --host and these (a page of another "
            "origin must not reach your kubeconfig by rebinding its DNS name); token mode "
            "answers any name unless this restricts it (*.example.com allowed there).",
        ),
    ] = None,
    contexts: Annotated[
        str | None,
        typer.Option(
            "--contexts",
            metavar="A,B",
            help="The kubeconfig contexts the console serves, each its own cluster with a "
            "picker in the header (comma-separated). Default: every context, or only "
            "--context NAME when given; --auth token serves one cluster (the current "
            "context or --context NAME).",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    log_format: LogFormatOption = LogFormat.TEXT,
    metrics_bind_address: MetricsAddressOption = None,
    health_probe_bind_address: HealthAddressOption = None,
) -> None:
    """Serve the console and the API; every Kubernetes call uses the caller's credentials."""
    configure_logging(log_level, log_format)
    s = settings(ctx)
    who = (
        "your kubeconfig's credentials"
        if auth is Auth.LOCAL
        else "the Kubernetes token each user signs in with"
    )
    out.print(
        f"netfence console on [bold]http://{host}:{port}[/] (acting with {who}; "
        f"controller {'on' if controller else 'off'}). Ctrl-C stops it."
    )
    options = ServeOptions(
        host,
        port,
        auth.value,
        controller,
        secure_cookies,
        tuple(allowed_host or ()),
        metrics_bind_address,
        health_probe_bind_address,
        log_level,
        log_format.value,
        watch_cache,
        tuple(name.strip() for name in (contexts or "").split(",") if name.strip()),
    )
    run(s.runtime.serve(s, options))
