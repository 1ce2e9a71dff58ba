"""/api/v1/session: who is signed in, signing in with a token, signing out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from netfence.core import errors
from netfence.usecases import permissions
from netfence.web import schemas
from netfence.web.callers import Caller, CallerDep, ChangingCallerDep, caller_for
from netfence.web.clusters import cluster_name, connector_for
from netfence.web.errors import ApiProblem
from netfence.web.sessions import SESSION_COOKIE, Session, SessionStore
from netfence.web.settings import AuthMode, WebSettings

router = APIRouter(prefix="/api/v1/session", tags=["session"])


def _set_cookie(response: Response, session: Session, settings: WebSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        max_age=settings.session_seconds,
        path="/",
    )


async def _view(caller: Caller, session: Session) -> schemas.SessionView:
    user, groups = session.user, list(session.groups)
    if caller.settings.auth is AuthMode.LOCAL:
        # The kubeconfig holds one user per context: each cluster says who it is there.
        known = session.identities.get(caller.cluster_name)
        if known is None:
            try:
                known = await caller.cluster.identity.whoami()
            except Exception:  # noqa: BLE001 - the name is decoration; permissions still work
                known = ("kubeconfig user", ())
            session.identities[caller.cluster_name] = known
        user, groups = known[0], list(known[1])
    ns = caller.settings.netfence_namespace
    allowed = await permissions.answers(
        caller.cluster.authorizer,
        {
            "enable_namespaces": permissions.enable_namespaces(),
            "edit_templates": permissions.edit_templates(ns),
            "read_backups": permissions.read_backups(ns),
        },
    )
    return schemas.SessionView(
        mode=caller.settings.auth.value,
        signed_in=caller.settings.auth is AuthMode.LOCAL or session.signed_in,
        user=user,
        groups=groups,
        csrf_token=session.csrf,
        permissions=allowed,
        cluster=caller.cluster_name,
    )


@router.get("", response_model=schemas.SessionView)
async def get_session(request: Request, response: Response) -> schemas.SessionView:
    """The current session; creates one (with its CSRF token) when there is none."""
    store: SessionStore = request.app.state.sessions
    settings: WebSettings = request.app.state.settings
    connector = connector_for(request)
    session = store.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        session = store.new()
        _set_cookie(response, session, settings)
    if settings.auth is AuthMode.TOKEN and not session.signed_in:
        return schemas.SessionView(
            mode=settings.auth.value,
            signed_in=False,
            user="",
            groups=[],
            csrf_token=session.csrf,
            permissions={},
            cluster=cluster_name(request),
        )
    caller = caller_for(connector, session.token, session, settings, cluster_name(request))
    return await _view(caller, session)


@router.post("", response_model=schemas.SessionView)
async def sign_in(
    body: schemas.SignIn, request: Request, response: Response
) -> schemas.SessionView:
    """Sign in with a Kubernetes bearer token; the API server decides whether it is valid."""
    store: SessionStore = request.app.state.sessions
    settings: WebSettings = request.app.state.settings
    connector = connector_for(request)
    if settings.auth is not AuthMode.TOKEN:
        raise ApiProblem(400, "This console uses your kubeconfig; there is nothing to sign in to.")
    token = body.token.strip()
    try:
        user, groups = await connector.cluster(token).identity.whoami()
    except errors.Unauthenticated as e:
        raise ApiProblem(401, "The API server did not accept this token.", field="token") from e
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.drop(old)
    # A fresh session id at sign-in, so an id planted before it is worth nothing.
    session = store.new()
    session.token, session.user, session.groups = token, user, groups
    _set_cookie(response, session, settings)
    return await _view(
        caller_for(connector, token, session, settings, cluster_name(request)), session
    )


@router.delete("", response_model=schemas.Message)
async def sign_out(
    request: Request, response: Response, caller: ChangingCallerDep
) -> schemas.Message:
    store: SessionStore = request.app.state.sessions
    if caller.session is not None:
        store.drop(caller.session.id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return schemas.Message(message="Signed out.")


__all__ = ["CallerDep", "router"]
