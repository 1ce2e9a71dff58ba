"""/api/v1/clusters: the clusters this console serves (kubeconfig contexts).

Every other path is served per cluster under /api/v1/clusters/{cluster}/... (see
`netfence.web.clusters`); nothing here reaches a cluster, so listing them needs no
credentials beyond reaching the console.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from netfence.web import schemas
from netfence.web.clusters import registry_of, unknown_cluster
from netfence.web.registry import ClusterInfo, Clusters

router = APIRouter(prefix="/api/v1/clusters", tags=["clusters"])


def _view(info: ClusterInfo, clusters: Clusters) -> schemas.ClusterView:
    return schemas.ClusterView(
        name=info.name,
        server=info.server,
        user=info.user,
        namespace=info.namespace,
        default=info.name == clusters.default,
    )


@router.get("", response_model=schemas.ClusterList)
async def list_clusters(request: Request) -> schemas.ClusterList:
    """The clusters served here; every path under /api/v1 is also served as
    /api/v1/clusters/{cluster}/..., and without a cluster for the default one."""
    clusters = registry_of(request)
    return schemas.ClusterList(
        default=clusters.default, items=[_view(c, clusters) for c in clusters.known()]
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
    return _view(found, clusters)
