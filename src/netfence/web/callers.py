"""FastAPI dependencies that turn a request into an authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from lightkube import AsyncClient

from netfence.web.errors import ApiProblem
from netfence.web.sessions import CSRF_HEADER, SESSION_COOKIE, Session, SessionStore, csrf_matches
from netfence.web.settings import AuthMode, WebSettings


@dataclass(frozen=True, slots=True)
class Caller:
    client: AsyncClient
    session: Session | None
    settings: WebSettings


def _store(request: Request) -> SessionStore:
    store = request.app.state.sessions
    assert isinstance(store, SessionStore)
    return store


def _settings(request: Request) -> WebSettings:
    settings = request.app.state.settings
    assert isinstance(settings, WebSettings)
    return settings


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def current_caller(request: Request) -> Caller:
    settings = _settings(request)
    store = _store(request)
    bearer = _bearer(request) if settings.auth is AuthMode.TOKEN else None
    if bearer is not None:
        # A token from an authenticating proxy: no cookie is involved, so no CSRF risk.
        return Caller(store.client_for(bearer), None, settings)
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if settings.auth is AuthMode.LOCAL:
        return Caller(store.client_for(None), session, settings)
    if session is None or not session.signed_in:
        raise ApiProblem(401, "Sign in with a Kubernetes bearer token to continue.")
    return Caller(store.client_for(session.token), session, settings)


def changing_caller(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
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
