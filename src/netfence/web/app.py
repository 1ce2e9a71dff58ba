"""The app factory: nothing is created at import time.

The composition root (`netfence.composition`) hands in the clusters it serves, each with
the connector that makes each caller's ports; the app itself knows no client library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Response
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netfence import __version__
from netfence.web import errors
from netfence.web.clusters import ClusterPaths
from netfence.web.registry import Clusters
from netfence.web.routes import (
    clusters,
    connectivity,
    controllers,
    events,
    namespaces,
    previews,
    probes,
    session,
    stream,
    templates,
)
from netfence.web.sessions import SessionStore
from netfence.web.settings import WebSettings

_STATIC = resources.files("netfence.web") / "static"
# Swagger UI (its bundle and stylesheet), shipped in the fastapi-offline wheel: the API
# docs work offline and under the same Content-Security-Policy as the console (no CDN,
# no inline script; our own page starts it from static/docs.js).
_SWAGGER_UI = resources.files("fastapi_offline") / "static"

# The console loads nothing from elsewhere: scripts, styles and images are served here.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """The headers every response carries, as plain ASGI: Starlette's BaseHTTPMiddleware
    costs a task and a stream per request, a third of a cached view's time."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        api = str(scope.get("path", "")).startswith("/api/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in _SECURITY_HEADERS.items():
                    headers.setdefault(key, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self._app(scope, receive, sending)


def create_app(settings: WebSettings, served: Clusters) -> FastAPI:
    """The app for the clusters in ``served`` (web.clusters: a path may name one)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The default cluster's cache starts filling now (/readyz waits for it); the
        # others' when someone first opens them.
        await served.connector(served.default).start()
        try:
            yield
        finally:
            await served.close()

    app = FastAPI(
        title="netfence",
        version=__version__,
        description="Manage Kubernetes NetworkPolicies: namespaces, templates, attachments.",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.sessions = SessionStore(settings)
    app.state.clusters = served
    # Shared answers, per cluster (web.answers).
    app.state.answers = {}
    errors.install(app)
    # Inside the host check (added after it is outer): a rebound name is refused first.
    app.add_middleware(ClusterPaths, clusters=served)
    if settings.allowed_hosts != ("*",):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))
    for module in (
        clusters,
        session,
        namespaces,
        controllers,
        previews,
        connectivity,
        probes,
        templates,
        events,
        stream,
    ):
        app.include_router(module.router)

    app.add_middleware(SecurityHeaders)

    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")
    app.mount("/api/docs-ui", StaticFiles(directory=str(_SWAGGER_UI)), name="docs-ui")

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        """The OpenAPI document in Swagger UI, served from the package."""
        return FileResponse(str(_STATIC / "docs.html"))

    @app.get("/healthz", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # For the kubelet: ready once the shared cache holds the whole cluster.
    @app.get("/readyz", include_in_schema=False)
    async def ready() -> Response:
        waiting = served.connector(served.default).ready()
        if waiting:
            return JSONResponse(
                {"status": "starting", "waitingFor": list(waiting)}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(str(_STATIC / "index.html"))

    return app
