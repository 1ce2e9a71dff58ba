"""Who is calling: sessions and CSRF protection.

Tokens live only in server memory, keyed by a random session id in an HttpOnly,
SameSite=Strict cookie; they are never logged and never appear in a URL. Every request
that changes something must echo the session's CSRF token in a header, which a page on
another origin cannot read, so it cannot forge one.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field

from netfence.web.settings import WebSettings

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
    # Local mode: who each cluster says the kubeconfig's user is (whoami), by cluster name.
    identities: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.token is not None


class SessionStore:
    def __init__(self, settings: WebSettings) -> None:
        self._settings = settings
        self._sessions: dict[str, Session] = {}

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


def csrf_matches(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf, presented)
