"""Several clusters behind one console: a registry of them, each with its own connector,
and the URL that names one.

Every API path under /api/v1 is also served under /api/v1/clusters/{cluster}/...: a small
ASGI layer takes the cluster's name out of the path before routing, so each route is
written once and a route added later is served per cluster too. A path without a cluster
is the default cluster's (the kubeconfig's current context), as it was before there were
several. The registry builds a cluster's connector the first time someone uses it, so a
kubeconfig naming twenty clusters costs nothing until one is opened (web.registry).
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Final

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from netfence.core import suggestions
from netfence.web.errors import ApiProblem, problem_body
from netfence.web.registry import Clusters

PREFIX: Final = "/api/v1/clusters/"
_RAW_PREFIX: Final = PREFIX.encode()
# Where the cluster named by the path travels from the ASGI layer to the dependencies.
_SCOPE_KEY: Final = "netfence.cluster"

if TYPE_CHECKING:
    # The caller layer asks this module for its connector; the protocol lives there.
    from netfence.web.callers import Connector


def unknown_cluster(name: str, clusters: Clusters) -> ApiProblem:
    known = sorted(c.name for c in clusters.known())
    hint = suggestions.did_you_mean(name, known)
    return ApiProblem(
        404,
        f"This console serves no cluster {name!r}{hint or '.'} "
        f"Its clusters: {', '.join(known)} (GET /api/v1/clusters).",
        field="cluster",
    )


class ClusterPaths:
    """ASGI layer: /api/v1/clusters/{cluster}/REST is routed as /api/v1/REST for that
    cluster; an unknown cluster answers 404 here, before any route runs, so no route can
    forget to check it. The name is split from the raw path, so a context name holding
    a slash (EKS's `arn:aws:eks:...:cluster/prod`) is given percent-encoded (%2F)."""

    def __init__(self, app: ASGIApp, clusters: Clusters) -> None:
        self.app = app
        self.clusters = clusters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        if not raw.startswith(_RAW_PREFIX):
            await self.app(scope, receive, send)
            return
        encoded, slash, rest = raw[len(_RAW_PREFIX) :].partition(b"/")
        if not slash or not encoded:
            # /api/v1/clusters/{cluster} itself: a route of its own.
            await self.app(scope, receive, send)
            return
        name = urllib.parse.unquote(encoded.decode("latin-1"))
        if name not in {c.name for c in self.clusters.known()}:
            problem = unknown_cluster(name, self.clusters)
            response = JSONResponse(problem_body(problem), status_code=problem.status)
            await response(scope, receive, send)
            return
        routed = b"/api/v1/" + rest
        scope = {
            **scope,
            "path": urllib.parse.unquote(routed.decode("latin-1")),
            "raw_path": routed,
            _SCOPE_KEY: name,
        }
        await self.app(scope, receive, send)


def registry_of(request: Request) -> Clusters:
    clusters: Clusters = request.app.state.clusters
    return clusters


def cluster_name(request: Request) -> str:
    """The cluster a request is for: the one its path names, else the default."""
    named = request.scope.get(_SCOPE_KEY)
    return named if isinstance(named, str) else registry_of(request).default


def connector_for(request: Request) -> Connector:
    clusters = registry_of(request)
    name = cluster_name(request)
    try:
        return clusters.connector(name)
    except KeyError:
        raise unknown_cluster(name, clusters) from None
