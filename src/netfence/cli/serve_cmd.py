"""`netfence serve`: the web console and REST API (and the controller) in one process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from netfence.cli.context import Settings, out, run, settings
from netfence.kube import connecting
from netfence.web.serving import serve as serve_web
from netfence.web.settings import AuthMode, WebSettings, hosts_for


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    auth: Annotated[
        AuthMode,
        typer.Option(
            help="local: act with the kubeconfig's credentials (one user); "
            "token: every user signs in with their own Kubernetes token."
        ),
    ] = AuthMode.LOCAL,
    controller: Annotated[
        bool, typer.Option("--controller/--no-controller", help="Also run the controller.")
    ] = True,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark session cookies Secure (serve behind HTTPS).")
    ] = False,
) -> None:
    """Serve the console and the API; every Kubernetes call uses the caller's credentials."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("httpx", "httpx2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    run(_serve(settings(ctx), host, port, auth, controller, secure_cookies))


async def _serve(
    s: Settings, host: str, port: int, auth: AuthMode, controller: bool, secure_cookies: bool
) -> None:
    config = connecting.load_config(s.kubeconfig, context=s.context)
    web = WebSettings(
        cluster=config,
        auth=auth,
        netfence_namespace=s.netfence_namespace,
        secure_cookies=secure_cookies,
        allowed_hosts=hosts_for(host, auth),
    )
    who = (
        "your kubeconfig's credentials"
        if auth is AuthMode.LOCAL
        else "the Kubernetes token each user signs in with"
    )
    out.print(
        f"netfence console on [bold]http://{host}:{port}[/] (acting with {who}; "
        f"controller {'on' if controller else 'off'}). Ctrl-C stops it."
    )
    await serve_web(web, host=host, port=port, controller=controller)
