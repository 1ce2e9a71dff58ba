"""FastAPI dependencies that turn a request into an authenticated caller.

A caller is a `Cluster` of ports acting with that person's own credentials, made by the
connector the composition root hands to the app; the web layer never builds a client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import Depends, Request

from netfence.usecases.ports import Cluster
from netfence.web import clusters
from netfence.web.errors import ApiProblem
from netfence.web.sessions import CSRF_HEADER, SESSION_COOKIE, Session, SessionStore, csrf_matches
from netfence.web.settings import AuthMode, WebSettings


class Connector(Protocol):
    """Ports for one caller: the kubeconfig's own credentials (None), or a bearer token's."""

    def cluster(self, token: str | None) -> Cluster: ...

    async def start(self) -> None: ...

    def ready(self) -> tuple[str, ...]:
        """What the server still waits for before it can answer (empty: ready)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Caller:
    cluster: Cluster
    session: Session | None
    settings: WebSettings
    # The console's name for the cluster (a kubeconfig context), see web.clusters.
    cluster_name: str = ""


def caller_for(
    connector: Connector,
    token: str | None,
    session: Session | None,
    settings: WebSettings,
    cluster_name: str = "",
) -> Caller:
    # The connector keeps each caller's permission answers for a few seconds (per cluster:
    # a connector serves one), whether or not they have a session.
    return Caller(connector.cluster(token), session, settings, cluster_name)


def _store(request: Request) -> SessionStore:
    store = request.app.state.sessions
    assert isinstance(store, SessionStore)
    return store


def _connector(request: Request) -> Connector:
    """The connector of the cluster the request names (web.clusters), else the default's."""
    return clusters.connector_for(request)


def _settings(request: Request) -> WebSettings:
    settings = request.app.state.settings
    assert isinstance(settings, WebSettings)
    return settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


# Async though they wait for nothing: FastAPI runs a plain function dependency in a worker
# thread, a hop every request would pay.
async def current_caller(request: Request) -> Caller:
    settings = _settings(request)
    connector = _connector(request)
    name = clusters.cluster_name(request)
    bearer = _bearer(request) if settings.auth is AuthMode.TOKEN else None
    if bearer is not None:
        # A token from an authenticating proxy: no cookie is involved, so no CSRF risk.
        return caller_for(connector, bearer, None, settings, name)
    session = _store(request).get(request.cookies.get(SESSION_COOKIE))
    if settings.auth is AuthMode.LOCAL:
        return caller_for(connector, None, session, settings, name)
    if session is None or not session.signed_in:
        raise ApiProblem(401, "Sign in with a Kubernetes bearer token to continue.")
    return caller_for(connector, session.token, session, settings, name)


async def changing_caller(
    request: Request, caller: Annotated[Caller, Depends(current_caller)]
) -> Caller:
    """A caller allowed to change things: cookie sessions must present their CSRF token."""
    if _bearer(request) is not None and caller.settings.auth is AuthMode.TOKEN:
        return caller
    session = caller.session
    if session is None or not csrf_matches(session, request.headers.get(CSRF_HEADER)):
        raise ApiProblem(
            403,
            "This request is missing its CSRF token; reload the page and try again.",
        )
    return caller


CallerDep = Annotated[Caller, Depends(current_caller)]
ChangingCallerDep = Annotated[Caller, Depends(changing_caller)]
