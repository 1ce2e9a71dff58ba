"""The console's shared watch cache, as each caller sees it through Kubernetes' own answers.

A real `netfence serve --auth token` reads the cluster with its own account; bob, bound
by one RoleBinding to one namespace, must see through it exactly what the API server lets
him list himself, nothing of another namespace, and no change of it in his event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from lightkube import AsyncClient, KubeConfig, codecs
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import ClusterRole, Role, RoleBinding

from netfence.core import naming
from netfence.kube import connecting
from netfence.localcluster import ControlPlane
from tests.integration import browser, kube

pytestmark = pytest.mark.timeout(180)

NETFENCE_NS = naming.DEFAULT_NETFENCE_NAMESPACE

READER_KINDS = [
    ("", ["namespaces"], ["get"]),
    ("", ["pods", "events"], ["get", "list", "watch"]),
    ("networking.k8s.io", ["networkpolicies"], ["get", "list", "watch"]),
    ("apps", ["deployments", "statefulsets", "daemonsets"], ["get", "list", "watch"]),
    ("batch", ["cronjobs"], ["get", "list", "watch"]),
]


@dataclass(frozen=True)
class Setup:
    own: str  # bob may read it (one RoleBinding)
    other: str  # bob may read nothing here
    url: str
    token: str


def _role(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name},
        "rules": [
            {"apiGroups": [group], "resources": resources, "verbs": verbs}
            for group, resources, verbs in READER_KINDS
        ],
    }


def _binding(namespace: str, role: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": role, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}],
    }


def _templates_reader(name: str) -> list[dict[str, Any]]:
    """Reading the template catalog, as netfence-developer may: every namespace view
    shows which templates its controllers use."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": NETFENCE_NS},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [naming.TEMPLATES_CONFIGMAP],
                "verbs": ["get"],
            }
        ],
    }
    binding = {
        **_binding(NETFENCE_NS, name),
        "roleRef": {**_binding(NETFENCE_NS, name)["roleRef"], "kind": "Role"},
    }
    return [role, binding]


@contextlib.contextmanager
def _served(control_plane: ControlPlane, log: Path) -> Iterator[browser.Console]:
    with browser.serve(control_plane.kubeconfig, log, "--auth", "token", "--no-controller") as c:
        yield c


@pytest.fixture(scope="module")
async def setup(
    admin: AsyncClient, control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Setup]:
    own, other = kube.unique("cache-own"), kube.unique("cache-other")
    role = kube.unique("cache-reader")
    for ns in (own, other):
        await kube.create_namespace(admin, ns)
        await kube.create(admin, kube.deployment(ns, "web"))
        await kube.create(admin, kube.foreign_policy(ns, "hand-made"))
    made = [_role(role), _binding(own, role), *_templates_reader(role)]
    for manifest in made:
        await admin.create(cast(Any, codecs.from_dict(manifest)))
    log = tmp_path_factory.mktemp("cache") / "serve.log"
    try:
        with _served(control_plane, log) as console:
            yield Setup(own, other, console.url, control_plane.tokens["bob"])
    finally:
        for ns in (own, other):
            await admin.delete(Namespace, ns)
        await admin.delete(ClusterRole, role)
        await admin.delete(Role, role, namespace=NETFENCE_NS)
        await admin.delete(RoleBinding, role, namespace=NETFENCE_NS)


def _bob(setup: Setup) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=setup.url, headers={"Authorization": f"Bearer {setup.token}"}, timeout=30
    )


@pytest.fixture(scope="module")
async def bob_kube(control_plane: ControlPlane) -> AsyncIterator[AsyncClient]:
    """bob's own client: what the API server lets him list is the reference."""
    config = KubeConfig.from_file(control_plane.kubeconfig)
    client = connecting.make_client(connecting.with_token(config, control_plane.tokens["bob"]))
    yield client
    await client.close()


async def _may_get_namespace(client: AsyncClient, name: str) -> bool:
    try:
        await client.get(Namespace, name)
    except Exception:  # noqa: BLE001 - any refusal means he may not
        return False
    return True


async def test_bob_sees_exactly_the_namespaces_the_api_server_lets_him_read(
    setup: Setup, admin: AsyncClient, bob_kube: AsyncClient
) -> None:
    every = [ns.metadata.name async for ns in admin.list(Namespace) if ns.metadata]
    readable = {n for n in every if n and await _may_get_namespace(bob_kube, n)}
    assert setup.own in readable
    assert setup.other not in readable

    async def listed() -> set[str] | bool:
        async with _bob(setup) as bob:
            response = await bob.get("/api/v1/namespaces")
        assert response.status_code == 200, response.text
        names = {row["name"] for row in response.json()["namespaces"]}
        return names if names == readable else False

    assert await kube.eventually(listed, timeout=15) == readable


async def test_bob_reads_his_namespace_as_he_could_list_it(
    setup: Setup, bob_kube: AsyncClient
) -> None:
    deployments = {
        d.metadata.name async for d in bob_kube.list(Deployment, namespace=setup.own) if d.metadata
    }
    policies = {
        p.metadata.name
        async for p in bob_kube.list(NetworkPolicy, namespace=setup.own)
        if p.metadata
    }
    async with _bob(setup) as bob:
        own = await bob.get(f"/api/v1/namespaces/{setup.own}")
        other = await bob.get(f"/api/v1/namespaces/{setup.other}")
        matrix = await bob.get(f"/api/v1/namespaces/{setup.own}/connectivity")
        foreign = await bob.get(f"/api/v1/namespaces/{setup.other}/connectivity")
    assert own.status_code == 200, own.text
    body = own.json()
    assert {c["name"] for c in body["controllers"]} == deployments == {"web"}
    assert {p["name"] for p in body["policies"]} == policies == {"hand-made"}
    assert other.status_code == 403
    assert f"You may not read namespace {setup.other}" in other.json()["message"]
    assert matrix.status_code == 200, matrix.text
    # Only his namespace is analysed: nothing of the other one appears in his matrix.
    assert setup.other not in matrix.text
    assert foreign.status_code == 403


class Stream:
    """One open /api/v1/stream, its events collected as they arrive."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.ready = asyncio.Event()

    async def read(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", "/api/v1/stream", timeout=None) as response:
            assert response.status_code == 200
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:") and kind:
                    data = json.loads(line.partition(":")[2])
                    self.events.append((time.monotonic(), kind, data))
                    if kind == "ready":
                        self.ready.set()
                    kind = ""

    def about(self, namespace: str, since: float) -> list[tuple[float, str, dict[str, Any]]]:
        return [
            e
            for e in self.events
            if e[0] >= since and e[1] == "change" and namespace in e[2]["namespaces"]
        ]


@contextlib.asynccontextmanager
async def _streaming(client: httpx.AsyncClient) -> AsyncIterator[Stream]:
    stream = Stream()
    task = asyncio.create_task(stream.read(client))
    try:
        await asyncio.wait_for(stream.ready.wait(), 30)
        yield stream
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await task


async def test_bobs_stream_carries_his_namespace_and_nothing_of_the_other(
    setup: Setup, admin: AsyncClient
) -> None:
    async with _bob(setup) as bob, _streaming(bob) as stream:
        start = time.monotonic()
        await kube.create(admin, kube.deployment(setup.other, "secret-project"))
        await kube.create(admin, kube.deployment(setup.own, "api"))

        async def arrived() -> bool:
            return bool(stream.about(setup.own, start))

        await kube.eventually(arrived, timeout=10)
        await asyncio.sleep(1.0)  # anything of the other namespace would be here by now
        assert stream.about(setup.other, start) == []
        assert all(setup.other not in json.dumps(e[2]) for e in stream.events)
        assert all(e[1] != "change" or not e[2]["resync"] for e in stream.events)


async def test_a_stream_needs_credentials_the_cluster_accepts(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.url, timeout=10) as anonymous:
        refused = await anonymous.get("/api/v1/stream")
    assert refused.status_code == 401
    async with httpx.AsyncClient(
        base_url=setup.url, headers={"Authorization": "Bearer not-a-token"}, timeout=10
    ) as wrong:
        refused = await wrong.get("/api/v1/stream")
    assert refused.status_code == 401
    assert "token" in refused.json()["message"]


async def test_the_server_is_ready_once_its_cache_is(setup: Setup) -> None:
    async with httpx.AsyncClient(base_url=setup.url, timeout=10) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
