"""kube-network-policies drops real packets between the node agent's pods.

A dataplane runs for this module (see netfence.localcluster.dataplane); NetworkPolicies
are created through the API and every verdict is read off the wire, with a fresh
connection from inside one pod's network namespace to another pod. Skipped, with the
reason, where the machine cannot run the dataplane.

`pytest -s` prints the figures: enforcer start, policy-to-enforcement latency, memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from lightkube import AsyncClient
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.models.networking_v1 import (
    NetworkPolicyIngressRule,
    NetworkPolicyPeer,
    NetworkPolicyPort,
    NetworkPolicySpec,
)
from lightkube.resources.apps_v1 import DaemonSet
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import ClusterRole

from netfence.core.evaluation import pitfalls
from netfence.kube.reading import LiveReader
from netfence.localcluster import ControlPlane, dataplane, enforcer, netns, node_agent, processes
from netfence.localcluster.dataplane import Dataplane, DataplaneUnavailable
from netfence.localcluster.netns import ProbeResult
from netfence.usecases import connectivity
from tests.integration.kube import eventually
from tests.integration.test_node_agent import (
    create_namespace,
    delete_pods_now,
    make_pod,
    start_dataplane,
    wait_running,
)

pytestmark = pytest.mark.timeout(600 if enforcer.needs_build() else 120)

NODE = "netfence-enforce-test"
POD_CIDR = "10.251.0.0/16"
# How long a probe waits before it calls a connection dropped: the pods are one veth hop
# from each other, so an answer takes well under a millisecond.
DROP_TIMEOUT = 0.3


@pytest.fixture(scope="module")
def node(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dataplane]:
    directory = tmp_path_factory.mktemp("dataplane-enforce")
    plane = start_dataplane(control_plane, directory, NODE, POD_CIDR)
    try:
        yield plane
    finally:
        dataplane.stop(directory)


@pytest.fixture
async def pods(admin: AsyncClient, node: Dataplane) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A namespace with pods `client` (role=client), `other` and `server`; their IPs."""
    namespace = await create_namespace(admin, "enforce")
    for name, role in (("client", "client"), ("other", "other"), ("server", "server")):
        await admin.create(make_pod(namespace, name, NODE, labels={"app": name, "role": role}))
    try:
        yield namespace, await wait_running(admin, namespace, ["client", "other", "server"])
    finally:
        await delete_pods_now(admin, [namespace])


async def _until(
    node: Dataplane, source: str, ip: str, outcome: str, *, port: int = 8080, timeout: float = 10
) -> tuple[float, ProbeResult]:
    """Probe again and again until the outcome is ``outcome``: when (time.monotonic()) the
    first such probe began, and that probe."""
    started = time.monotonic()
    while True:
        began = time.monotonic()
        result = await node.probe(source, ip, port, "TCP", DROP_TIMEOUT)
        if result.outcome == outcome:
            return began, result
        assert began - started < timeout, f"still {result} after {timeout}s"


def _deny_ingress(namespace: str, name: str = "deny-server-ingress") -> NetworkPolicy:
    return NetworkPolicy(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec=NetworkPolicySpec(
            podSelector=LabelSelector(matchLabels={"app": "server"}), policyTypes=["Ingress"]
        ),
    )


def test_start_says_what_the_machine_lacks(
    control_plane: ControlPlane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs everywhere: with no tools on PATH, start() names them (and touches nothing)."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(DataplaneUnavailable) as raised:
        dataplane.start(control_plane, tmp_path / "dataplane")
    message = str(raised.value)
    assert "`ip` (apt package iproute2)" in message
    assert "`socat` (apt package socat)" in message
    assert "`iptables` (apt package iptables)" in message
    assert not (tmp_path / "dataplane").exists()


async def test_enforcer_is_ready_with_least_privilege(admin: AsyncClient, node: Dataplane) -> None:
    assert node.enforcer_mode in ("nftables", "iptables-nfqueue")
    assert enforcer.queue_bound(node.pids["enforcer"])
    role = await admin.get(ClusterRole, enforcer.CLUSTER_ROLE)
    granted = {
        (group, resource, verb)
        for rule in role.rules or []
        for group in rule.apiGroups or []
        for resource in rule.resources or []
        for verb in rule.verbs
    }
    assert granted == {
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "namespaces", "list"),
        ("", "namespaces", "watch"),
        ("networking.k8s.io", "networkpolicies", "list"),
        ("networking.k8s.io", "networkpolicies", "watch"),
    }
    memory = node.memory()
    print(  # noqa: T201 - the figures of this run, for docs/dataplane.md
        f"\nenforcer ({node.enforcer_mode}) ready {node.seconds['enforcer']:.2f}s after its "
        f"start, whole dataplane {node.seconds['total']:.2f}s; enforcer RSS "
        f"{memory['enforcer'] / 2**20:.0f} MiB, agent RSS {memory['agent'] / 2**20:.0f} MiB"
    )


async def test_check_sees_the_enforcer_while_it_runs(admin: AsyncClient, node: Dataplane) -> None:
    """`netfence check` looks for an enforcing plugin by its DaemonSet, as upstream installs
    it; the local dataplane registers one that stands for its enforcer process."""
    inventory = await LiveReader(admin, netfence_namespace="netfence-system").inventory()
    kinds = {finding.kind for finding in connectivity.check(inventory)}
    assert pitfalls.Kind.NO_ENFORCING_PLUGIN not in kinds
    daemonset = await admin.get(
        DaemonSet, enforcer.daemonset_name(node.node_name), namespace="kube-system"
    )
    assert daemonset.metadata is not None
    assert enforcer.STANDS_FOR_ANNOTATION in (daemonset.metadata.annotations or {})


async def test_denying_ingress_drops_new_connections_until_the_policy_goes(
    admin: AsyncClient, node: Dataplane, pods: tuple[str, dict[str, str]]
) -> None:
    namespace, ips = pods
    client = f"{namespace}/client"
    allowed = await node.probe(client, ips["server"], 8080)
    assert (allowed.outcome, allowed.answer) == ("connected", f"{namespace}/server")

    enforced, lifted = [], []
    for cycle in range(3):
        # From just before the create call (its round trip included) to the start of the
        # first probe that met the new verdict on the wire.
        began = time.monotonic()
        await admin.create(_deny_ingress(namespace))
        seen, _ = await _until(node, client, ips["server"], "dropped")
        enforced.append(seen - began)
        if cycle == 0:
            # Every fresh connection, TCP and UDP, from any pod, is dropped (not refused).
            for source in ("client", "other"):
                for port, protocol in ((8080, "TCP"), (5353, "UDP")):
                    result = await node.probe(
                        f"{namespace}/{source}", ips["server"], port, protocol, 0.5
                    )
                    assert result.outcome == "dropped", (source, protocol, result)
            # The server's own egress is not limited by an ingress policy.
            back = await node.probe(f"{namespace}/server", ips["client"], 8080)
            assert (back.outcome, back.answer) == ("connected", client)
        began = time.monotonic()
        await admin.delete(NetworkPolicy, "deny-server-ingress", namespace=namespace)
        seen, result = await _until(node, client, ips["server"], "connected")
        lifted.append(seen - began)
        assert result.answer == f"{namespace}/server"
    print(  # noqa: T201 - the figures of this run, for docs/dataplane.md
        f"\npolicy create call -> connection dropped within {max(enforced) * 1000:.0f} ms, "
        f"delete call -> connection through within {max(lifted) * 1000:.0f} ms "
        f"(worst of 3; a probe waits {DROP_TIMEOUT * 1000:.0f} ms to call a connection dropped)"
    )
    assert max(enforced) < 5 and max(lifted) < 5


async def test_a_policy_admits_only_the_peers_and_ports_it_names(
    admin: AsyncClient, node: Dataplane, pods: tuple[str, dict[str, str]]
) -> None:
    namespace, ips = pods
    policy = NetworkPolicy(
        metadata=ObjectMeta(name="server-from-clients", namespace=namespace),
        spec=NetworkPolicySpec(
            podSelector=LabelSelector(matchLabels={"app": "server"}),
            policyTypes=["Ingress"],
            ingress=[
                NetworkPolicyIngressRule(
                    from_=[
                        NetworkPolicyPeer(podSelector=LabelSelector(matchLabels={"role": "client"}))
                    ],
                    ports=[NetworkPolicyPort(port=8080, protocol="TCP")],
                )
            ],
        ),
    )
    await admin.create(policy)
    await _until(node, f"{namespace}/other", ips["server"], "dropped")

    admitted = await node.probe(f"{namespace}/client", ips["server"], 8080, "TCP", DROP_TIMEOUT)
    assert (admitted.outcome, admitted.answer) == ("connected", f"{namespace}/server")
    other_port = await node.probe(f"{namespace}/client", ips["server"], 5353, "UDP", DROP_TIMEOUT)
    assert other_port.outcome == "dropped"
    other_pod = await node.probe(f"{namespace}/other", ips["server"], 8080, "TCP", DROP_TIMEOUT)
    assert other_pod.outcome == "dropped"
    # Pods the policy does not select are untouched.
    unselected = await node.probe(f"{namespace}/other", ips["client"], 8080, "TCP", DROP_TIMEOUT)
    assert (unselected.outcome, unselected.answer) == ("connected", f"{namespace}/client")


def _host_state() -> dict[str, object]:
    """What the host's own network namespace shows: links, iptables and nftables rules."""
    iptables = subprocess.run(
        ["iptables-save"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    nft = subprocess.run(
        ["nft", "list", "ruleset"], capture_output=True, text=True, check=False
    ).stdout
    return {
        "links": sorted(netns.link_names()),
        # without the comment lines, which carry the time of the dump
        "iptables": [line for line in iptables if not line.startswith("#")],
        "nft": nft,
    }


async def _gone(pid: int) -> bool:
    return not processes.alive(pid)


def _processes_mentioning(text: str) -> list[int]:
    pids = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    return [
        pid
        for pid in pids
        if pid != os.getpid() and any(text in arg for arg in processes.command_line(pid))
    ]


async def test_start_and_stop_leave_the_host_as_it_was(
    control_plane: ControlPlane,
    admin: AsyncClient,
    node: Dataplane,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory = tmp_path_factory.mktemp("dataplane-stop")
    before = _host_state()
    plane = start_dataplane(control_plane, directory, "netfence-stop-test", "10.252.0.0/24")
    namespace = await create_namespace(admin, "stop")
    try:
        for name in ("one", "two"):
            await admin.create(make_pod(namespace, name, plane.node_name))
        ips = await wait_running(admin, namespace, ["one", "two"])
        made = [plane.node_netns, plane.pod_netns(f"{namespace}/one")]
        assert all(netns.netns_exists(name) for name in made)
        assert _host_state() == before  # all of it lives in the namespaces it made
        assert all(processes.alive(pid) for pid in plane.pids.values())
        through = await plane.probe(f"{namespace}/one", ips["two"], 8080)
        assert (through.outcome, through.answer) == ("connected", f"{namespace}/two")
        # Fail closed: with no enforcer on the queue, no new connection gets through.
        os.kill(plane.pids["enforcer"], signal.SIGKILL)
        await eventually(lambda: _gone(plane.pids["enforcer"]), timeout=5, interval=0.05)
        if plane.enforcer_mode == "iptables-nfqueue":
            closed = await plane.probe(f"{namespace}/one", ips["two"], 8080, "TCP", DROP_TIMEOUT)
            assert closed.outcome == "dropped"
    finally:
        stopped = dataplane.stop(directory)
        await delete_pods_now(admin, [namespace])
    assert stopped
    assert [n for n in netns.list_netns() if node_agent.dataplane_id(directory) in n] == []
    assert not any(processes.alive(pid) for pid in plane.pids.values())
    assert _processes_mentioning(str(directory)) == []
    assert _host_state() == before
    assert not dataplane.is_running(directory)
    assert dataplane.stop(directory) is False  # nothing left to stop
    # The module's own dataplane did not notice.
    assert dataplane.is_running(node.dir)
