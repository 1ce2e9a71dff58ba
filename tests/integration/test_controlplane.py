"""The local control plane is a real, RBAC-enforcing kube-apiserver, with the real
kube-controller-manager (ReplicaSets, Pods, garbage collection, namespace termination,
ServiceAccounts) and kube-scheduler beside it."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, ServiceAccount

from netfence.localcluster import COMPONENTS, ControlPlane, kubeconfig_for_user, load, start, stop
from tests.integration.kube import eventually


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


@pytest.fixture
async def client(control_plane: ControlPlane) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(config=KubeConfig.from_file(control_plane.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


async def _gone(client: AsyncClient, resource: Any, name: str, namespace: str | None) -> bool:
    try:
        await client.get(resource, name, namespace=namespace)
    except ApiError as e:
        if e.status.code == 404:
            return True
        raise
    return False


def _deployment(namespace: str, name: str) -> Deployment:
    labels = {"app": name}
    return Deployment(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=DeploymentSpec(
            replicas=1,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(containers=[Container(name="app", image="example.org/app:1")]),
            ),
        ),
    )


async def test_a_deployment_gets_a_replicaset_and_a_pod_and_both_are_collected(
    control_plane: ControlPlane, client: AsyncClient
) -> None:
    namespace, name = _unique("nf-deploy"), "web"
    await _create_namespace(control_plane, namespace)
    await client.create(_deployment(namespace, name))

    async def owned(resource: Any, owner_kind: str, owner: str) -> str:
        """The name of the first object of ``resource`` that ``owner`` owns, else ''."""
        async for item in client.list(resource, namespace=namespace):
            refs = item.metadata.ownerReferences if item.metadata else None
            if refs and (refs[0].kind, refs[0].name) == (owner_kind, owner):
                return str(item.metadata.name)
        return ""

    rs_name = await eventually(lambda: owned(ReplicaSet, "Deployment", name), timeout=30)
    pod_name = await eventually(lambda: owned(Pod, "ReplicaSet", rs_name), timeout=30)
    pod = await client.get(Pod, pod_name, namespace=namespace)
    assert pod.status is not None
    assert pod.status.phase == "Pending"  # there is no node to run it on

    await client.delete(Deployment, name, namespace=namespace)  # background propagation
    await eventually(lambda: _gone(client, ReplicaSet, rs_name, namespace), timeout=30)
    await eventually(lambda: _gone(client, Pod, pod_name, namespace), timeout=30)


async def test_a_deleted_namespace_finishes_terminating(
    control_plane: ControlPlane, client: AsyncClient
) -> None:
    namespace = _unique("nf-gone")
    await _create_namespace(control_plane, namespace)
    await client.create(
        ConfigMap(metadata=ObjectMeta(name="left", namespace=namespace), data={"a": "b"})
    )
    await client.delete(Namespace, namespace)
    await eventually(lambda: _gone(client, Namespace, namespace, None), timeout=30)


async def test_a_new_namespace_gets_its_default_service_account(
    control_plane: ControlPlane, client: AsyncClient
) -> None:
    namespace = _unique("nf-sa-default")
    await _create_namespace(control_plane, namespace)

    async def default_account() -> ServiceAccount | None:
        try:
            return await client.get(ServiceAccount, "default", namespace=namespace)
        except ApiError as e:
            if e.status.code == 404:
                return None
            raise

    account = await eventually(default_account, timeout=30)
    assert account is not None and account.metadata is not None
    assert account.metadata.namespace == namespace


def test_every_component_runs_and_answers_healthz(control_plane: ControlPlane) -> None:
    assert set(control_plane.pids) == {"apiserver", *COMPONENTS}
    assert control_plane.pids["apiserver"] == control_plane.pid
    assert len(set(control_plane.pids.values())) == len(control_plane.pids)
    context = ssl.create_default_context(cafile=str(control_plane.ca_file))
    with httpx.Client(verify=context, timeout=5.0) as http:
        for name in COMPONENTS:
            healthz = (control_plane.dir / f"{name}.healthz").read_text().strip()
            assert healthz.startswith("https://127.0.0.1:")
            response = http.get(healthz)  # anonymous: always allowed
            assert (response.status_code, response.text) == (200, "ok"), name


def test_second_start_reuses_the_running_process(control_plane: ControlPlane) -> None:
    again = start(control_plane.dir)
    assert again == control_plane
    assert load(control_plane.dir).pid == control_plane.pid
    assert load(control_plane.dir).pids == control_plane.pids


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
    assert not any(map(_pid_exists, first.pids.values()))

    second = start(directory)
    try:
        assert second.pid != first.pid
        assert set(second.pids) == set(first.pids)
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
    assert not any(map(_pid_exists, second.pids.values()))
    assert stop(directory) is False


def test_a_killed_apiserver_takes_the_components_along_and_down_leaves_nothing(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "cp"
    first = start(directory)
    try:
        os.kill(first.pid, signal.SIGKILL)
        # Each component sees within a second or so that its apiserver is gone.
        _wait_gone(list(first.pids.values()), timeout=15)

        second = start(directory)  # starts every process again
        assert set(second.pids) == set(first.pids)
        assert not set(second.pids.values()) & set(first.pids.values())
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "netfence", "controlplane", "down", "--dir", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        )
    assert down.returncode == 0, down.stderr
    assert "Control plane stopped" in down.stdout
    assert not any(map(_pid_exists, second.pids.values()))
    assert _processes_of(directory) == []


def _wait_gone(pids: list[int], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(map(_pid_exists, pids)):
        assert time.monotonic() < deadline, f"still running: {list(filter(_pid_exists, pids))}"
        time.sleep(0.1)


def _processes_of(directory: Path) -> list[int]:
    """Every live process whose command line names ``directory``."""
    needle = str(directory.resolve()).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline and _pid_exists(int(entry.name)):
            found.append(int(entry.name))
    return found


def _pid_exists(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie has exited
