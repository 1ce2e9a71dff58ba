"""/api/v1/clusters: the clusters this console serves (kubeconfig contexts).

Every other path is served per cluster under /api/v1/clusters/{cluster}/... (see
`netfence.web.clusters`); nothing here reaches a cluster, so listing them needs no
credentials (the console needs the names before anyone signs in).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from netfence.web import schemas
from netfence.web.clusters import registry_of, unknown_cluster
from netfence.web.registry import ClusterInfo, Clusters
from netfence.web.sessions import SESSION_COOKIE, SessionStore
from netfence.web.settings import AuthMode, WebSettings

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"])


def _view(info: ClusterInfo, clusters: Clusters, *, known: bool) -> schemas.ClusterView:
    return schemas.ClusterView(
        name=info.name,
        server=info.server if known else "",
        user=info.user if known else "",
        namespace=info.namespace,
        default=info.name == clusters.default,
    )


def _known(request: Request) -> bool:
    """Token mode tells the API server's address and the kubeconfig's user name only to
    someone signed in; the page needs just the names before that."""
    settings: WebSettings = request.app.state.settings
    if settings.auth is AuthMode.LOCAL:
        return True
    store: SessionStore = request.app.state.sessions
    session = store.get(request.cookies.get(SESSION_COOKIE))
    return session is not None and session.signed_in


@router.get("", response_model=schemas.ClusterList)
async def list_clusters(request: Request) -> schemas.ClusterList:
    """The clusters served here; every path under /api/v1 is also served as
    /api/v1/clusters/{cluster}/..., and without a cluster for the default one."""
    clusters = registry_of(request)
    return schemas.ClusterList(
        default=clusters.default,
        items=[_view(c, clusters, known=_known(request)) for c in clusters.known()],
    )


# `path`: a name may hold a slash, percent-encoded in the URL (web.clusters).
@router.get("/{cluster:path}", response_model=schemas.ClusterView)
async def get_cluster(
    cluster: Annotated[str, Path(description="A cluster's name (percent-encode a '/').")],
    request: Request,
) -> schemas.ClusterView:
    clusters = registry_of(request)
    found = next((c for c in clusters.known() if c.name == cluster), None)
    if found is None:
        raise unknown_cluster(cluster, clusters)
    return _view(found, clusters, known=_known(request))
