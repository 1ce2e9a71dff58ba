"""How the web app is served: who the callers are and which names it answers."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from netfence.core import naming


class AuthMode(enum.StrEnum):
    # One person on their own machine: every call uses the kubeconfig's credentials.
    LOCAL = "local"
    # Served in a cluster: each person signs in with a Kubernetes bearer token (or an
    # authenticating proxy passes one in the Authorization header).
    TOKEN = "token"  # noqa: S105 - the name of a mode, not a secret


@dataclass(frozen=True, slots=True)
class WebSettings:
    auth: AuthMode = AuthMode.LOCAL
    netfence_namespace: str = naming.DEFAULT_NETFENCE_NAMESPACE
    secure_cookies: bool = False
    session_seconds: int = 8 * 3600
    # How long a caller's permission answers (SelfSubjectAccessReview) are reused.
    permission_cache_seconds: float = 10.0
    # Host headers the app answers. A console acting with someone's kubeconfig on loopback
    # must refuse other names, or a web page could rebind its DNS name to 127.0.0.1 and
    # use the console (and the kubeconfig) as if it were same-origin.
    allowed_hosts: tuple[str, ...] = ("*",)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def hosts_for(bind: str, auth: AuthMode) -> tuple[str, ...]:
    """Local mode on a loopback address answers only loopback names."""
    if auth is AuthMode.LOCAL and bind in (*LOOPBACK_HOSTS, "127.0.0.1"):
        return LOOPBACK_HOSTS
    return ("*",)
