"""Several clusters behind one console: the registry, the paths that name a cluster, and
which contexts `netfence serve` serves. The clusters are honest fakes of our ports; the
same routes against two real control planes are in tests/integration/test_clusters.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from lightkube import KubeConfig
from lightkube.config.models import Cluster as KubeCluster
from lightkube.config.models import Context, User

from netfence.composition import clusters_of, served_contexts
from netfence.core import errors
from netfence.usecases.ports import Cluster
from netfence.web.app import create_app
from netfence.web.registry import ClusterInfo, ClusterRegistry
from netfence.web.settings import AuthMode, WebSettings
from tests.usecases.fakes import FakeCluster


class FakeConnector:
    """A connector over one fake cluster that answers whoami with its own user."""

    def __init__(self, user: str, fake: FakeCluster) -> None:
        self.user = user
        self.fake = fake
        self.closed = False

    def cluster(self, token: str | None) -> Cluster:
        ports = self.fake.ports()
        connector = self

        class Identity:
            async def whoami(self) -> tuple[str, tuple[str, ...]]:
                return connector.user, ("people",)

        return Cluster(
            ports.reader, ports.changes, ports.authorizer, Identity(), ports.netfence_namespace
        )

    async def start(self) -> None:
        pass

    def ready(self) -> tuple[str, ...]:
        return ()

    async def close(self) -> None:
        self.closed = True


def _fake(*namespaces: str) -> FakeCluster:
    fake = FakeCluster()
    for name in namespaces:
        fake.add_namespace(name)
    return fake


CLUSTERS = {
    "dev": ("alice", _fake("shop", "payments")),
    "arn:aws:eks:eu-west-1:1:cluster/prod": ("bob", _fake("billing")),
}


@pytest.fixture
async def registry() -> ClusterRegistry:
    infos = [
        ClusterInfo(name, f"https://{i}.example:6443", f"{user}-user")
        for i, (name, (user, _)) in enumerate(CLUSTERS.items())
    ]
    return ClusterRegistry(infos, lambda info: FakeConnector(*CLUSTERS[info.name]), default="dev")


@pytest.fixture
async def http(registry: ClusterRegistry) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(WebSettings(), registry)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as c,
    ):
        yield c


PROD = "/api/v1/clusters/arn:aws:eks:eu-west-1:1:cluster%2Fprod"


def _names(body: dict[str, Any]) -> list[str]:
    return [row["name"] for row in body["namespaces"]]


async def test_the_clusters_are_listed_with_their_server_user_and_the_default(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get("/api/v1/clusters")
    assert response.status_code == 200
    body = response.json()
    assert body["default"] == "dev"
    assert body["items"][0] == {
        "name": "dev",
        "server": "https://0.example:6443",
        "user": "alice-user",
        "namespace": None,
        "default": True,
    }
    assert body["items"][1]["name"] == "arn:aws:eks:eu-west-1:1:cluster/prod"
    assert body["items"][1]["default"] is False
    one = await http.get(PROD)
    assert one.status_code == 200 and one.json()["user"] == "bob-user"


async def test_each_path_reads_the_cluster_it_names_and_a_bare_path_the_default(
    http: httpx.AsyncClient, registry: ClusterRegistry
) -> None:
    bare = await http.get("/api/v1/namespaces")
    dev = await http.get("/api/v1/clusters/dev/namespaces")
    prod = await http.get(f"{PROD}/namespaces")
    assert bare.status_code == dev.status_code == prod.status_code == 200, prod.text
    assert _names(bare.json()) == _names(dev.json()) == ["payments", "shop"]
    assert _names(prod.json()) == ["billing"]
    missing = await http.get(f"{PROD}/namespaces/shop")
    assert missing.status_code == 404


async def test_a_connector_is_built_when_its_cluster_is_first_used(
    http: httpx.AsyncClient, registry: ClusterRegistry
) -> None:
    # The default cluster's is built at start-up (its cache fills while /readyz waits);
    # another's only once someone opens it.
    await http.get("/api/v1/clusters")
    assert registry.built() == ["dev"]
    await http.get("/api/v1/clusters/dev/namespaces")
    await http.get("/api/v1/namespaces")
    assert registry.built() == ["dev"]
    await http.get(f"{PROD}/namespaces")
    assert sorted(registry.built()) == ["arn:aws:eks:eu-west-1:1:cluster/prod", "dev"]


async def test_the_session_says_who_the_user_is_on_each_cluster(http: httpx.AsyncClient) -> None:
    dev = (await http.get("/api/v1/clusters/dev/session")).json()
    prod = (await http.get(f"{PROD}/session")).json()
    again = (await http.get("/api/v1/session")).json()
    assert (dev["cluster"], dev["user"]) == ("dev", "alice")
    assert (prod["cluster"], prod["user"]) == ("arn:aws:eks:eu-west-1:1:cluster/prod", "bob")
    assert (again["cluster"], again["user"]) == ("dev", "alice")
    # One session (one cookie, one CSRF token) across the clusters.
    assert dev["csrf_token"] == prod["csrf_token"]


async def test_an_unknown_cluster_answers_404_naming_the_known_ones(
    http: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/clusters/dve/namespaces", "/api/v1/clusters/dve"):
        response = await http.get(path)
        assert response.status_code == 404, path
        body = response.json()
        assert body["field"] == "cluster"
        assert "no cluster 'dve'; did you mean dev?" in body["message"]
        assert "Its clusters: arn:aws:eks:eu-west-1:1:cluster/prod, dev" in body["message"]
    # Refused before any route runs, so a write is refused the same way (no CSRF asked).
    post = await http.post("/api/v1/clusters/nope/namespaces/shop/enable")
    assert post.status_code == 404


async def test_permission_answers_are_remembered_per_cluster(registry: ClusterRegistry) -> None:
    """A session that may enable namespaces on one cluster is not taken to on another."""
    CLUSTERS["arn:aws:eks:eu-west-1:1:cluster/prod"][1].denied.add("patch namespaces")
    app = create_app(WebSettings(), registry)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http:
            dev = (await http.get("/api/v1/session")).json()
            prod = (await http.get(f"{PROD}/session")).json()
    finally:
        CLUSTERS["arn:aws:eks:eu-west-1:1:cluster/prod"][1].denied.clear()
    assert dev["permissions"]["enable_namespaces"] is True
    assert prod["permissions"]["enable_namespaces"] is False


async def test_closing_the_app_closes_every_connector_it_built(registry: ClusterRegistry) -> None:
    app = create_app(WebSettings(), registry)
    async with app.router.lifespan_context(app):
        built = registry.connector("dev")
    assert isinstance(built, FakeConnector) and built.closed


# --- which contexts `netfence serve` serves ------------------------------------------------


def _kubeconfig(*names: str, current: str | None = None) -> KubeConfig:
    return KubeConfig(
        clusters={n: KubeCluster(server=f"https://{n}.example:6443") for n in names},
        contexts={n: Context(cluster=n, user=f"{n}-admin") for n in names},
        users={f"{n}-admin": User(token="t") for n in names},
        current_context=current or names[0],
    )


THREE = _kubeconfig("dev", "staging", "prod", current="staging")


@pytest.mark.parametrize(
    ("auth", "context", "contexts", "served"),
    [
        # Local mode: every context, the current one the default ...
        (AuthMode.LOCAL, None, (), (["dev", "staging", "prod"], "staging")),
        # ... only the one --context names ...
        (AuthMode.LOCAL, "prod", (), (["prod"], "prod")),
        # ... or those --contexts names, --context (else the current) the default.
        (AuthMode.LOCAL, None, ("prod", "dev"), (["prod", "dev"], "prod")),
        (AuthMode.LOCAL, "dev", ("prod", "dev"), (["prod", "dev"], "dev")),
        (AuthMode.LOCAL, None, ("prod", "staging"), (["prod", "staging"], "staging")),
        # Token mode: one cluster, the current context or the one named.
        (AuthMode.TOKEN, None, (), (["staging"], "staging")),
        (AuthMode.TOKEN, "prod", (), (["prod"], "prod")),
        (AuthMode.TOKEN, None, ("dev",), (["dev"], "dev")),
    ],
)
def test_the_contexts_served(
    auth: AuthMode,
    context: str | None,
    contexts: tuple[str, ...],
    served: tuple[list[str], str],
) -> None:
    assert served_contexts(THREE, auth, context, contexts) == served


def test_token_mode_refuses_several_clusters_naming_the_flag_and_the_fix() -> None:
    with pytest.raises(errors.Refused) as refused:
        served_contexts(THREE, AuthMode.TOKEN, None, ("dev", "prod"))
    message = str(refused.value)
    assert refused.value.field == "contexts"
    assert "--auth token serves one cluster" in message
    assert "one server per cluster, each with --context NAME" in message


def test_an_unknown_context_is_named_with_the_known_ones() -> None:
    with pytest.raises(errors.NotFound) as missing:
        served_contexts(THREE, AuthMode.LOCAL, None, ("prd",))
    assert "did you mean prod?" in str(missing.value)
    assert missing.value.field == "contexts"


def test_the_registry_of_a_kubeconfig_names_each_context_its_server_and_user() -> None:
    registry = clusters_of(THREE, WebSettings(), contexts=["dev", "prod"], default="prod")
    assert registry.default == "prod"
    assert [(c.name, c.server, c.user) for c in registry.known()] == [
        ("dev", "https://dev.example:6443", "dev-admin"),
        ("prod", "https://prod.example:6443", "prod-admin"),
    ]
    assert registry.built() == []
