"""The console acting with a kubeconfig answers only the names it was started for
(DNS-rebinding defence), whatever address it is bound to."""

from __future__ import annotations

import re

import httpx
import pytest
from lightkube import KubeConfig

from netfence.composition import web_app
from netfence.web.settings import LOOPBACK_HOSTS, AuthMode, WebSettings, hosts_for

# No request below reaches a cluster: the host check answers first, or the page is static.
CLUSTER = KubeConfig.from_server("https://127.0.0.1:1")
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - the address a test serves on, not a bind


async def _get(host: str, *, allowed: tuple[str, ...], auth: AuthMode = AuthMode.LOCAL) -> int:
    app = web_app(CLUSTER, WebSettings(auth=auth, allowed_hosts=allowed))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        response = await client.get("/")
    if response.status_code == 200:
        assert "netfence" in response.text
    else:
        assert response.text == "Invalid host header"
    return response.status_code


async def test_a_rebound_host_name_is_refused_in_local_mode() -> None:
    assert await _get("evil.example:8080", allowed=LOOPBACK_HOSTS) == 400


async def test_loopback_names_are_served() -> None:
    for host in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080"):
        assert await _get(host, allowed=LOOPBACK_HOSTS) == 200


# (bind address, --allowed-host names, Host headers served, Host headers refused)
LOCAL_CASES = [
    (
        "127.0.0.2",
        (),
        ("127.0.0.2:8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"),
        ("evil.example:8080", "127.0.0.3:8080", "evil.localhost:8080"),
    ),
    (
        EVERY_INTERFACE,
        (),
        ("localhost:8080", "127.0.0.1:8080", "0.0.0.0:8080"),
        ("evil.example:8080", "192.168.1.20:8080", "workstation.lan:8080"),
    ),
    (
        EVERY_INTERFACE,
        ("workstation.lan", "192.168.1.20"),
        ("workstation.lan:8080", "WorkStation.LAN", "192.168.1.20:8080", "localhost:8080"),
        ("evil.example:8080", "evil.workstation.lan:8080", "192.168.1.21:8080"),
    ),
    (
        "netfence.lan",
        (),
        ("netfence.lan:8080", "localhost:8080"),
        ("evil.example:8080",),
    ),
]


@pytest.mark.parametrize(("bind", "extra", "served", "refused"), LOCAL_CASES)
async def test_local_mode_answers_loopback_the_bind_host_and_the_allowed_names_only(
    bind: str, extra: tuple[str, ...], served: tuple[str, ...], refused: tuple[str, ...]
) -> None:
    allowed = hosts_for(bind, AuthMode.LOCAL, extra)
    for host in served:
        assert await _get(host, allowed=allowed) == 200, host
    for host in refused:
        assert await _get(host, allowed=allowed) == 400, host


async def test_token_mode_answers_any_name_unless_allowed_hosts_are_given() -> None:
    anything = hosts_for(EVERY_INTERFACE, AuthMode.TOKEN)
    assert anything == ("*",)
    assert await _get("whatever.example:8080", allowed=anything, auth=AuthMode.TOKEN) == 200

    named = hosts_for(EVERY_INTERFACE, AuthMode.TOKEN, ("netfence.example.com", "*.corp.example"))
    assert named == ("netfence.example.com", "*.corp.example")
    for host in ("netfence.example.com", "console.corp.example:443"):
        assert await _get(host, allowed=named, auth=AuthMode.TOKEN) == 200, host
    for host in ("evil.example", "localhost:8080", "0.0.0.0:8080"):
        assert await _get(host, allowed=named, auth=AuthMode.TOKEN) == 400, host


def test_hosts_for_names_and_addresses() -> None:
    assert hosts_for("127.0.0.1", AuthMode.LOCAL) == LOOPBACK_HOSTS
    assert hosts_for("::1", AuthMode.LOCAL) == LOOPBACK_HOSTS
    assert hosts_for("127.0.0.1", AuthMode.TOKEN) == ("*",)
    assert hosts_for("fe80::1", AuthMode.LOCAL, ("Console.LAN", "2001:db8::0:1")) == (
        *LOOPBACK_HOSTS,
        "[fe80::1]",
        "console.lan",
        "[2001:db8::1]",
    )


@pytest.mark.parametrize(
    ("auth", "name", "says"),
    [
        (AuthMode.LOCAL, "*", "in local mode each name must be given in full"),
        (AuthMode.LOCAL, "*.example.com", "in local mode each name must be given in full"),
        (AuthMode.TOKEN, "netfence*.example.com", "a wildcard is like '*.example.com'"),
        (AuthMode.LOCAL, "workstation.lan:8080", "without scheme or port"),
        (AuthMode.TOKEN, "https://netfence.example.com", "not a host name"),
        (AuthMode.LOCAL, "", "not a host name"),
    ],
)
def test_an_allowed_host_that_is_no_host_name_is_refused(
    auth: AuthMode, name: str, says: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        hosts_for("127.0.0.1", auth, (name,))
