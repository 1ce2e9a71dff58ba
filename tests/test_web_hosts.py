"""The console on loopback answers only loopback host names (DNS-rebinding defence)."""

from __future__ import annotations

import httpx
from lightkube import KubeConfig

from netfence.composition import web_app
from netfence.web.settings import LOOPBACK_HOSTS, AuthMode, WebSettings, hosts_for

# No request below reaches a cluster: the host check answers first, or the page is static.
CLUSTER = KubeConfig.from_server("https://127.0.0.1:1")


async def _get(host: str, *, allowed: tuple[str, ...]) -> httpx.Response:
    app = web_app(CLUSTER, WebSettings(allowed_hosts=allowed))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        return await client.get("/")


async def test_a_rebound_host_name_is_refused_in_local_mode() -> None:
    response = await _get("evil.example:8080", allowed=LOOPBACK_HOSTS)
    assert response.status_code == 400
    assert response.text == "Invalid host header"


async def test_loopback_names_are_served() -> None:
    for host in ("127.0.0.1:8080", "localhost:8080"):
        response = await _get(host, allowed=LOOPBACK_HOSTS)
        assert response.status_code == 200
        assert "netfence" in response.text


def test_only_local_mode_on_loopback_restricts_hosts() -> None:
    assert hosts_for("127.0.0.1", AuthMode.LOCAL) == LOOPBACK_HOSTS
    assert hosts_for("0.0.0.0", AuthMode.TOKEN) == ("*",)  # noqa: S104 - an address, not a bind
    assert hosts_for("127.0.0.1", AuthMode.TOKEN) == ("*",)
