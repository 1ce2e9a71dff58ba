"""How the web app is served: who the callers are and which names it answers."""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Sequence
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
    # Host headers the app answers (see hosts_for). A console acting with someone's
    # kubeconfig must refuse other names, or a web page could rebind its DNS name to the
    # console's address and use it (and the kubeconfig) as if it were same-origin.
    allowed_hosts: tuple[str, ...] = ("*",)


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_HOST_NAME = re.compile(r"[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?(\.[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?)*\.?")


def host_header_name(value: str) -> str:
    """A host name or address as a Host header carries it (lower case, IPv6 in brackets);
    ValueError for anything else, such as a port or a URL."""
    text = value.strip().lower()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        address = None
    if address is not None:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    if not _HOST_NAME.fullmatch(text):
        raise ValueError(
            f"{value!r} is not a host name or an IP address (give it without scheme or port, "
            "e.g. netfence.example.com)"
        )
    return text


def hosts_for(bind: str, auth: AuthMode, allowed: Sequence[str] = ()) -> tuple[str, ...]:
    """The Host header names the app answers (`WebSettings.allowed_hosts`).

    Local mode acts with the kubeconfig's credentials for whoever reaches it, so it answers
    only the loopback names, the bind address itself and each name in `allowed`, whatever
    the bind address: a page of another origin that rebinds its DNS name to this address
    sends that name and is refused, and cannot read a CSRF token. Token mode answers every
    name (each caller brings their own credentials) unless `allowed` names some: then only
    those. A wildcard (`*.example.com`) is accepted in token mode only.
    """
    names = [_allowed_name(name, auth) for name in allowed]
    if auth is AuthMode.TOKEN:
        return tuple(dict.fromkeys(names)) if names else ("*",)
    # The bind address is a name too (http://0.0.0.0:8080 reaches a server on every
    # interface): no other origin can make a browser send it as its own.
    own = [host_header_name(bind)] if bind.strip() else []
    return tuple(dict.fromkeys([*LOOPBACK_HOSTS, *own, *names]))


def _allowed_name(value: str, auth: AuthMode) -> str:
    text = value.strip().lower()
    if "*" in text:
        if auth is AuthMode.LOCAL:
            raise ValueError(
                f"allowed host {value!r}: in local mode each name must be given in full "
                "(the console acts with your kubeconfig for whoever it answers)"
            )
        if text == "*":
            return text
        if not text.startswith("*.") or "*" in text[2:]:
            raise ValueError(f"allowed host {value!r}: a wildcard is like '*.example.com'")
        return "*." + host_header_name(text[2:])
    return host_header_name(text)
