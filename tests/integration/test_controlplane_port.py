"""`controlplane up` after `down` listens where it did, so running clients reconnect.

Each test starts control planes of its own in a temporary directory (about 3 s a start)
and stops them at the end.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import Namespace

from netfence.localcluster import running, start, stop
from netfence.localcluster.running import recorded_server


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "cp"
    try:
        yield path
    finally:
        stop(path)


def _port(server: str) -> int:
    port = urllib.parse.urlsplit(server).port
    assert port is not None
    return port


@contextlib.contextmanager
def _held(port: int) -> Iterator[None]:
    """Another process's listener on the port (here: a socket of this one)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        # As servers bind: the last run's connections in TIME_WAIT do not stop it.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", port))
        holder.listen()
        yield


def _server_of(kubeconfig: Path) -> str:
    config = KubeConfig.from_file(kubeconfig).get()
    assert config is not None
    return str(config.cluster.server)


async def _namespaces(client: AsyncClient) -> set[str]:
    return {
        ns.metadata.name async for ns in client.list(Namespace) if ns.metadata and ns.metadata.name
    }


async def test_up_after_down_reuses_the_port_and_a_running_client_reconnects(
    directory: Path,
) -> None:
    first = start(directory)
    # A client made before the restart, like a controller's, kept across it.
    client = AsyncClient(config=KubeConfig.from_file(first.kubeconfig))
    try:
        assert "default" in await _namespaces(client)
        assert stop(directory)
        assert recorded_server(directory) == first.server  # kept while it is down

        second = start(directory)
        assert second.pid != first.pid
        assert second.server == first.server
        assert _server_of(second.kubeconfig) == first.server
        assert "default" in await _namespaces(client)
    finally:
        await client.close()


async def test_a_port_another_process_holds_gives_a_new_one(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = start(directory)
    assert stop(directory)
    with _held(_port(first.server)):
        second = start(directory)
    assert second.server != first.server
    assert recorded_server(directory) == second.server
    assert _server_of(second.kubeconfig) == second.server
    client = AsyncClient(config=KubeConfig.from_file(second.kubeconfig))
    try:
        assert "default" in await _namespaces(client)
    finally:
        await client.close()

    # Taken between the check and the bind: kube-apiserver cannot listen, so start again
    # on a free port.
    assert stop(directory)
    monkeypatch.setattr(running, "_port_free", lambda port: True)
    with _held(_port(second.server)):
        third = start(directory)
    assert third.server not in (first.server, second.server)
    assert _server_of(third.kubeconfig) == third.server
