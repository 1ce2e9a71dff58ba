"""The console's graph library is served from the package itself (scripts/vendor-js puts it
there), never from a CDN: every script the graph loads answers, as JavaScript."""

from __future__ import annotations

import re
from importlib import resources

import httpx
from lightkube import KubeConfig

from netfence.composition import web_app
from netfence.web.settings import LOOPBACK_HOSTS, WebSettings

# No request below reaches a cluster: static files only.
CLUSTER = KubeConfig.from_server("https://127.0.0.1:1")
STATIC = resources.files("netfence.web") / "static"


def _scripts() -> list[str]:
    """The vendor scripts connectivity-graph.js loads, read from it."""
    text = (STATIC / "connectivity-graph.js").read_text()
    found = re.search(r"const SCRIPTS = \[(.*?)\];", text)
    assert found, "connectivity-graph.js names its scripts in SCRIPTS"
    return re.findall(r'"([^"]+\.js)"', found.group(1))


async def test_every_script_of_the_graph_is_served_from_the_package() -> None:
    scripts = _scripts()
    assert scripts == ["cytoscape.min.js", "layout-base.js", "cose-base.js", "cytoscape-fcose.js"]
    app = web_app(CLUSTER, WebSettings(allowed_hosts=LOOPBACK_HOSTS))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        for name in scripts:
            response = await client.get(f"/static/vendor/{name}")
            assert response.status_code == 200, (
                f"/static/vendor/{name} is missing: run scripts/vendor-js (make does)"
            )
            assert "javascript" in response.headers["content-type"]
            assert len(response.content) > 10_000
            assert response.headers["content-security-policy"].startswith("default-src 'self'")
        # Their licences travel with them.
        licence = await client.get("/static/vendor/cytoscape.LICENSE")
        assert licence.status_code == 200
        assert "MIT" in licence.text or "Permission is hereby granted" in licence.text
