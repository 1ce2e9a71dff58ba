"""The node agent realises pods as network namespaces that answer on their ports.

A dataplane (node namespace, enforcer, agent; see netfence.localcluster.dataplane) runs
for this module beside the session's control plane. Pods are created with spec.nodeName
set, as a scheduler would. Skipped, with the reason, where the machine cannot run it.

`pytest -s` prints the figures of the 200-pod test (time to Running, agent memory).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import Container, ContainerPort, PodSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace, Node, Pod
from lightkube.utils.quantity import parse_quantity

from netfence.localcluster import ControlPlane, dataplane, enforcer, netns
from netfence.localcluster.dataplane import Dataplane
from tests.integration.kube import eventually, unique

# The first run builds the enforcer (minutes) inside the first test's set-up.
pytestmark = pytest.mark.timeout(600 if enforcer.needs_build() else 120)

NODE = "netfence-agent-test"
POD_CIDR = "10.250.0.0/16"
PORTS = (("TCP", 8080), ("UDP", 5353))


# --- helpers (test_enforcement uses them too) ---------------------------------------------


def start_dataplane(
    control_plane: ControlPlane, directory: Path, node: str, cidr: str
) -> Dataplane:
    missing = dataplane.missing_requirements()
    if missing:
        pytest.skip("this machine cannot run the dataplane: missing " + "; ".join(missing))
    return dataplane.start(control_plane, directory, node_name=node, pod_cidr=cidr)


def make_pod(
    namespace: str,
    name: str,
    node: str,
    *,
    labels: dict[str, str] | None = None,
    ports: Iterable[tuple[str, int]] = PORTS,
) -> Pod:
    return Pod(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=labels or {"app": name}),
        spec=PodSpec(
            nodeName=node,
            containers=[
                Container(
                    name="main",
                    image=f"example.org/{name}:1.0",
                    ports=[ContainerPort(containerPort=n, protocol=p) for p, n in ports],
                )
            ],
        ),
    )


async def create_namespace(client: AsyncClient, prefix: str) -> str:
    name = unique(prefix)
    await client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def _running_ip(pod: Pod) -> str | None:
    status = pod.status
    if status is None or status.phase != "Running" or not status.podIP:
        return None
    ready = {c.type: c.status for c in status.conditions or []}.get("Ready")
    return status.podIP if ready == "True" else None


async def wait_running(
    client: AsyncClient, namespace: str, names: Iterable[str], *, timeout: float = 30.0
) -> dict[str, str]:
    """Wait until every named pod is Running and Ready; their pod IPs by name."""
    wanted = set(names)

    async def all_running() -> dict[str, str] | None:
        ips = {}
        async for pod in client.list(Pod, namespace=namespace):
            assert pod.metadata is not None and pod.metadata.name is not None
            ip = _running_ip(pod)
            if pod.metadata.name in wanted and ip:
                ips[pod.metadata.name] = ip
        return ips if set(ips) == wanted else None

    # Listing hundreds of pods ten times a second would slow down what it waits for.
    result = await eventually(all_running, timeout=timeout, interval=max(0.1, len(wanted) / 500))
    assert result is not None
    return result


async def delete_pods_now(client: AsyncClient, namespaces: Iterable[str]) -> None:
    """Remove the pods of ``namespaces`` at once (grace 0), so that no later agent on the
    same node name (a reused control plane) has them to serve."""
    for namespace in namespaces:
        async for pod in client.list(Pod, namespace=namespace):
            assert pod.metadata is not None and pod.metadata.name is not None
            try:
                await client.delete(Pod, pod.metadata.name, namespace=namespace, grace_period=0)
            except ApiError as e:
                if e.status.code != 404:
                    raise


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dataplane]:
    directory = tmp_path_factory.mktemp("dataplane-agent")
    plane = start_dataplane(control_plane, directory, NODE, POD_CIDR)
    try:
        yield plane
    finally:
        dataplane.stop(directory)


@pytest.fixture(scope="module")
async def namespaces(admin: AsyncClient, node: Dataplane) -> AsyncIterator[list[str]]:
    made: list[str] = []
    yield made
    await delete_pods_now(admin, made)


async def _namespace(admin: AsyncClient, namespaces: list[str]) -> str:
    name = await create_namespace(admin, "agent")
    namespaces.append(name)
    return name


# --- tests --------------------------------------------------------------------------------


async def test_node_is_registered_ready_with_a_lease(admin: AsyncClient, node: Dataplane) -> None:
    registered = await admin.get(Node, NODE)
    assert registered.spec is not None and registered.status is not None
    assert registered.spec.podCIDR == POD_CIDR
    ready = {c.type: c.status for c in registered.status.conditions or []}
    assert ready["Ready"] == "True"
    assert registered.status.capacity is not None
    assert parse_quantity(registered.status.capacity["pods"]) == 2000  # shown as "2k"
    assert parse_quantity(registered.status.capacity["memory"]) == 2000 * 2**30
    assert registered.status.allocatable == registered.status.capacity
    addresses = {a.type: a.address for a in registered.status.addresses or []}
    assert addresses["InternalIP"] == node.node_ip == "10.250.0.1"
    lease = await admin.get(Lease, NODE, namespace="kube-node-lease")
    assert lease.spec is not None and lease.spec.holderIdentity == NODE
    assert lease.spec.renewTime is not None


async def test_pods_bound_to_the_node_run_with_an_address(
    admin: AsyncClient, node: Dataplane, namespaces: list[str]
) -> None:
    namespace = await _namespace(admin, namespaces)
    await admin.create(make_pod(namespace, "web", NODE))
    ips = await wait_running(admin, namespace, ["web"])
    pod = await admin.get(Pod, "web", namespace=namespace)
    assert pod.status is not None
    assert ips["web"].startswith("10.250.")
    assert [p.ip for p in pod.status.podIPs or []] == [ips["web"]]
    assert pod.status.hostIP == node.node_ip
    [container] = pod.status.containerStatuses or []
    assert container.ready and container.state is not None and container.state.running
    conditions = {c.type: c.status for c in pod.status.conditions or []}
    assert conditions["ContainersReady"] == conditions["Initialized"] == "True"
    assert netns.netns_exists(node.pod_netns(f"{namespace}/web"))


async def test_tcp_and_udp_answer_with_the_pods_name(
    admin: AsyncClient, node: Dataplane, namespaces: list[str]
) -> None:
    namespace = await _namespace(admin, namespaces)
    for name in ("client", "server"):
        await admin.create(make_pod(namespace, name, NODE))
    ips = await wait_running(admin, namespace, ["client", "server"])
    client, server = f"{namespace}/client", f"{namespace}/server"

    tcp = await node.probe(client, ips["server"], 8080, "TCP")
    assert (tcp.outcome, tcp.answer) == ("connected", server)
    udp = await node.probe(client, ips["server"], 5353, "UDP")
    assert (udp.outcome, udp.answer) == ("connected", server)
    back = await node.probe(server, ips["client"], 8080, "TCP")
    assert (back.outcome, back.answer) == ("connected", client)
    # Nothing listens there: a reset, an ICMP port-unreachable.
    assert (await node.probe(client, ips["server"], 9, "TCP")).outcome == "refused"
    assert (await node.probe(client, ips["server"], 9, "UDP")).outcome == "refused"
    # No pod has that address; and nothing leads out of the node.
    assert (await node.probe(client, "10.250.255.254", 80, "TCP")).outcome == "unreachable"
    assert (await node.probe(client, "192.0.2.1", 80, "TCP")).outcome == "unreachable"


async def test_deleting_a_pod_removes_its_namespace(
    admin: AsyncClient, node: Dataplane, namespaces: list[str]
) -> None:
    namespace = await _namespace(admin, namespaces)
    await admin.create(make_pod(namespace, "short", NODE))
    await wait_running(admin, namespace, ["short"])
    record = node.pod(f"{namespace}/short")
    assert netns.netns_exists(record.netns)
    assert record.veth in netns.link_names(node.node_netns)

    # A plain delete is graceful (a bound pod gets 30 s): the agent tears the pod down and
    # then deletes it with grace 0, as a kubelet does, so it is gone in well under that.
    started = time.monotonic()
    await admin.delete(Pod, "short", namespace=namespace)

    async def gone() -> bool:
        try:
            await admin.get(Pod, "short", namespace=namespace)
        except ApiError as e:
            return e.status.code == 404
        return False

    await eventually(gone, timeout=10)
    assert time.monotonic() - started < 10
    assert not netns.netns_exists(record.netns)
    assert record.veth not in netns.link_names(node.node_netns)
    with pytest.raises(LookupError):
        node.pod(f"{namespace}/short")


async def test_a_restarted_agent_adopts_its_pods_and_catches_up(
    admin: AsyncClient, node: Dataplane, namespaces: list[str]
) -> None:
    namespace = await _namespace(admin, namespaces)
    for name in ("stays", "goes"):
        await admin.create(make_pod(namespace, name, NODE))
    before = await wait_running(admin, namespace, ["stays", "goes"])
    goes_ns = node.pod_netns(f"{namespace}/goes")

    dataplane.stop_agent(node.dir)
    # While no agent runs: one pod is deleted for good, one is created.
    await admin.delete(Pod, "goes", namespace=namespace, grace_period=0)
    await admin.create(make_pod(namespace, "late", NODE))
    assert netns.netns_exists(goes_ns)  # nobody removed it yet
    dataplane.start_agent(node.dir)

    after = await wait_running(admin, namespace, ["stays", "late"])
    assert after["stays"] == before["stays"]  # adopted: same namespace, same address
    assert not netns.netns_exists(goes_ns)
    answer = await node.probe(f"{namespace}/late", after["stays"], 8080)
    assert (answer.outcome, answer.answer) == ("connected", f"{namespace}/stays")


async def test_two_hundred_pods_come_up(
    admin: AsyncClient, node: Dataplane, namespaces: list[str]
) -> None:
    namespace = await _namespace(admin, namespaces)
    names = [f"pod-{i:03d}" for i in range(200)]
    limit = asyncio.Semaphore(20)

    async def create(name: str) -> None:
        async with limit:
            await admin.create(make_pod(namespace, name, NODE))

    started = time.monotonic()
    await asyncio.gather(*(create(name) for name in names))
    ips = await wait_running(admin, namespace, names, timeout=90)
    seconds = time.monotonic() - started
    assert len(set(ips.values())) == 200
    memory = node.memory()

    picks = [names[0], names[199], names[57], names[142], names[100], names[3]]
    for source, target in zip(picks[::2], picks[1::2], strict=True):
        answer = await node.probe(f"{namespace}/{source}", ips[target], 8080)
        assert (answer.outcome, answer.answer) == ("connected", f"{namespace}/{target}")

    prefix = node.pod_netns_prefix + namespace + "."
    assert len([n for n in netns.list_netns() if n.startswith(prefix)]) == 200
    teardown_started = time.monotonic()
    await delete_pods_now(admin, [namespace])

    async def all_removed() -> bool:
        return not [n for n in netns.list_netns() if n.startswith(prefix)]

    await eventually(all_removed, timeout=60, interval=0.2)
    teardown = time.monotonic() - teardown_started
    print(  # noqa: T201 - the figures of this run, for docs/dataplane.md
        f"\n200 pods: Running in {seconds:.1f}s ({200 / seconds:.0f} pods/s), "
        f"removed in {teardown:.1f}s; agent RSS {memory['agent'] / 2**20:.0f} MiB, "
        f"enforcer RSS {memory.get('enforcer', 0) / 2**20:.0f} MiB"
    )
    assert memory["agent"] < 300 * 2**20
