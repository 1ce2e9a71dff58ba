"""The local control plane is a real, RBAC-enforcing kube-apiserver."""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from netfence.localcluster import ControlPlane, kubeconfig_for_user, load, start, stop


def _http(cp: ControlPlane, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=cp.server,
        verify=ssl.create_default_context(cafile=str(cp.ca_file)),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create_namespace(cp: ControlPlane, name: str) -> None:
    client = AsyncClient(config=KubeConfig.from_file(cp.kubeconfig))
    try:
        await client.create(Namespace(metadata=ObjectMeta(name=name)))
    finally:
        await client.close()


async def test_readyz_answers(control_plane: ControlPlane) -> None:
    async with _http(control_plane, control_plane.admin_token) as http:
        response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.text == "ok"


async def test_admin_kubeconfig_creates_a_namespace(control_plane: ControlPlane) -> None:
    name = _unique("nf-admin")
    await _create_namespace(control_plane, name)
    client = AsyncClient(config=KubeConfig.from_file(control_plane.kubeconfig))
    try:
        found = await client.get(Namespace, name)
    finally:
        await client.close()
    assert found.metadata is not None
    assert found.metadata.name == name


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
async def test_ordinary_users_may_not_list_namespaces(
    control_plane: ControlPlane, user: str, tmp_path: Path
) -> None:
    kubeconfig = kubeconfig_for_user(control_plane, user, tmp_path / f"{user}.kubeconfig")
    client = AsyncClient(config=KubeConfig.from_file(kubeconfig))
    try:
        with pytest.raises(ApiError) as raised:
            async for _ in client.list(Namespace):
                pass
    finally:
        await client.close()
    assert raised.value.status.code == 403
    assert f'User "{user}" cannot list resource "namespaces"' in str(raised.value.status.message)


async def test_service_account_token_from_token_request_authenticates(
    control_plane: ControlPlane,
) -> None:
    namespace, account = _unique("nf-sa"), "robot"
    admin = _http(control_plane, control_plane.admin_token)
    async with admin:
        r = await admin.post(
            "/api/v1/namespaces",
            json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
        )
        assert r.status_code == 201, r.text
        r = await admin.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts",
            json={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}},
        )
        assert r.status_code == 201, r.text
        r = await admin.post(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 600},
            },
        )
        assert r.status_code == 201, r.text
        token = r.json()["status"]["token"]

    async with _http(control_plane, token) as robot:
        review = await robot.post(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        listing = await robot.get("/api/v1/namespaces")
    assert review.status_code == 201, review.text
    user_info: dict[str, Any] = review.json()["status"]["userInfo"]
    assert user_info["username"] == f"system:serviceaccount:{namespace}:{account}"
    assert "system:serviceaccounts" in user_info["groups"]
    assert listing.status_code == 403
    assert f"system:serviceaccount:{namespace}:{account}" in listing.json()["message"]


async def test_bad_token_is_rejected(control_plane: ControlPlane) -> None:
    async with _http(control_plane, "not-a-token") as http:
        response = await http.get("/api/v1/namespaces")
    assert response.status_code == 401


def test_second_start_reuses_the_running_process(control_plane: ControlPlane) -> None:
    again = start(control_plane.dir)
    assert again == control_plane
    assert load(control_plane.dir).pid == control_plane.pid


async def test_restart_keeps_data_and_credentials_and_stop_ends_the_process(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "cp"
    name = _unique("nf-kept")
    first = start(directory)
    try:
        await _create_namespace(first, name)
    finally:
        assert stop(directory)
    assert not _pid_exists(first.pid)

    second = start(directory)
    try:
        assert second.pid != first.pid
        assert second.tokens == first.tokens
        client = AsyncClient(config=KubeConfig.from_file(second.kubeconfig))
        try:
            kept = await client.get(Namespace, name)
        finally:
            await client.close()
        assert kept.metadata is not None
        assert kept.metadata.name == name
    finally:
        assert stop(directory)
    assert not _pid_exists(second.pid)
    assert stop(directory) is False


def _pid_exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has exited
