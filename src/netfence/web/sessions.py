"""Who is calling: sessions, CSRF protection, and one API client per caller.

Tokens live only in server memory, keyed by a random session id in an HttpOnly,
SameSite=Strict cookie; they are never logged and never appear in a URL. Every request
that changes something must echo the session's CSRF token in a header, which a page on
another origin cannot read, so it cannot forge one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from lightkube import AsyncClient

from netfence.kube import connecting
from netfence.web.settings import AuthMode, WebSettings

SESSION_COOKIE = "netfence_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(slots=True)
class Session:
    id: str
    csrf: str
    expires: float
    user: str = ""
    groups: tuple[str, ...] = ()
    token: str | None = field(default=None, repr=False)
    permissions: dict[tuple[str, ...], tuple[float, bool]] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.token is not None


class SessionStore:
    def __init__(self, settings: WebSettings, *, max_clients: int = 256) -> None:
        self._settings = settings
        self._sessions: dict[str, Session] = {}
        self._clients: OrderedDict[str, AsyncClient] = OrderedDict()
        self._max_clients = max_clients
        self._local_client: AsyncClient | None = None
        # Clients evicted from the cache are closed at shutdown, not while in use.
        self._retired: list[AsyncClient] = []

    def new(self) -> Session:
        self._expire()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            expires=time.time() + self._settings.session_seconds,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None or session.expires < time.time():
            self._sessions.pop(session_id or "", None)
            return None
        return session

    def drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def _expire(self) -> None:
        now = time.time()
        for key in [k for k, s in self._sessions.items() if s.expires < now]:
            del self._sessions[key]

    def client_for(self, token: str | None) -> AsyncClient:
        """The caller's client: the kubeconfig's in local mode, else one per bearer token."""
        if token is None:
            if self._settings.auth is not AuthMode.LOCAL:
                raise PermissionError("not signed in")
            if self._local_client is None:
                self._local_client = connecting.make_client(self._settings.cluster)
            return self._local_client
        key = hashlib.sha256(token.encode()).hexdigest()
        client = self._clients.get(key)
        if client is None:
            client = connecting.make_client(connecting.with_token(self._settings.cluster, token))
            self._clients[key] = client
            if len(self._clients) > self._max_clients:
                _, old = self._clients.popitem(last=False)
                self._retired.append(old)
        else:
            self._clients.move_to_end(key)
        return client

    async def close(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        if self._local_client is not None:
            clients.append(self._local_client)
        for client in clients:
            await client.close()
        self._clients.clear()
        self._retired = []


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)
