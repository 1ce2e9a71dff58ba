"""Integration tests run against a real kube-apiserver (see netfence.localcluster).

The `control_plane` fixture starts one control plane per test session in a temporary
directory and stops it at the end. With NETFENCE_TEST_CONTROLPLANE_DIR set, it starts
or reuses the control plane in that directory and leaves it running, for fast local
iteration (stop it with `netfence controlplane down --dir DIR`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from netfence.localcluster import (
    ControlPlane,
    cluster,
    dataplane,
    enforcer,
    ensure_binary,
    needs_build,
    start,
)

_HERE = Path(__file__).parent
REUSE_ENV = "NETFENCE_TEST_CONTROLPLANE_DIR"


def _is_integration(item: pytest.Item) -> bool:
    return _HERE in item.path.parents


@pytest.hookimpl(tryfirst=True)  # before `-m` selection looks at the markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _is_integration(item):
            item.add_marker(pytest.mark.integration)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binary before any test runs: the first build takes minutes, far past
    the per-test timeout that would otherwise cover the fixture's setup."""
    if session.config.option.collectonly or not any(map(_is_integration, session.items)):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if needs_build():
        if reporter is not None:
            reporter.write_line("building the local control plane (first time: minutes) ...")
        ensure_binary()
    # The enforcer (kube-network-policies) is built once per version, where Go is there;
    # where the dataplane cannot run at all, its tests skip and say why.
    if enforcer.needs_build() and not dataplane.missing_requirements(enforce=False):
        if reporter is not None:
            reporter.write_line("building kube-network-policies (first time: minutes) ...")
        enforcer.ensure_binary()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    reuse = os.environ.get(REUSE_ENV)
    if reuse:
        yield start(Path(reuse))
        return
    directory = tmp_path_factory.mktemp("controlplane")
    cp = start(directory)
    try:
        yield cp
    finally:
        cluster.down(directory)  # and a dataplane, if a test started one beside it


# netfence's own fixtures (admin client, running controller) live beside the helpers.
from tests.integration.netfence_fixtures import admin, controller  # noqa: E402, F401
