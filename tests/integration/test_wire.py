"""What netfence promises, checked on real packets.

A dataplane runs for this module (see netfence.localcluster.dataplane): pods are network
namespaces bound to its node (spec.nodeName is set directly, no scheduler needed) and
kube-network-policies drops real packets. A controller runs as the cluster admin. Every
verdict is read off the wire with fresh connections from inside pods (see
tests/integration/wire.py): connected or refused (nothing listening) is allowed, dropped
is denied. After each change the test waits for the controller's result (the policy
objects) and then probes until the wire shows the expected answer, bounded.

Controllers are Deployments with 0 replicas plus pods the test makes with the same labels,
bound to this module's node: netfence selects pods by the controller's selector, so this is
what it would meet with real replicas, and it needs neither a controller-manager nor a
scheduler to place them here.

`pytest -s` prints the figures (docs/benchmarks.md, "On the wire"). NETFENCE_WIRE_CHANGES
(default 100) and NETFENCE_WIRE_ATTACHES (default 20) set how many changes they measure.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from netfence.composition import cluster_for
from netfence.controller.running import Controller
from netfence.core import cidrs, naming
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.localcluster import ControlPlane, dataplane, demo, enforcer, netns
from netfence.localcluster.dataplane import Dataplane
from netfence.usecases import attachments, namespaces
from netfence.usecases.ports import Cluster
from tests.integration import kube, stored, wire
from tests.integration.netfence_fixtures import NETFENCE_NS, report_stuck
from tests.integration.test_node_agent import delete_pods_now, start_dataplane, wait_running
from tests.integration.wire import Probe, Sampler, Wire, expect

pytestmark = [
    pytest.mark.timeout(600 if enforcer.needs_build() else 180),
    pytest.mark.usefixtures("controller"),
]

NODE = "netfence-wire-test"
POD_CIDR = "10.253.0.0/16"
DEFAULTS = {naming.DENY_ALL_INGRESS, naming.ALLOW_NAMESPACE_COMMUNICATION}
CHANGES = int(os.environ.get("NETFENCE_WIRE_CHANGES", "100"))
ATTACHES = int(os.environ.get("NETFENCE_WIRE_ATTACHES", "20"))
TCP = "TCP"
UDP = "UDP"
NODE_LISTENER_PORT = 10250  # where a kubelet listens on its node


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dataplane]:
    directory = tmp_path_factory.mktemp("dataplane-wire")
    plane = start_dataplane(control_plane, directory, NODE, POD_CIDR)
    try:
        yield plane
    finally:
        dataplane.stop(directory)


class Place:
    """Namespaces and pods this module made, to remove at its end, and the wire."""

    def __init__(self, admin: AsyncClient, node: Dataplane) -> None:
        self.admin = admin
        self.wire = Wire(node)
        self.namespaces: list[str] = []
        self.shared_pods: list[tuple[str, str]] = []  # in namespaces others use too

    async def namespace(self, prefix: str, *, managed: bool = False, **labels: str) -> str:
        name = kube.unique(prefix)
        if managed:
            labels[naming.MANAGED_NAMESPACE_LABEL] = naming.MANAGED_NAMESPACE_VALUE
        await self.admin.create(Namespace(metadata=ObjectMeta(name=name, labels=labels or None)))
        self.namespaces.append(name)
        return name

    async def fixed_namespace(self, name: str) -> str:
        """A namespace of a fixed name: made if absent (and then removed at the end)."""
        if await wire.ensure_namespace(self.admin, name):
            self.namespaces.append(name)
        return name

    async def pods(self, namespace: str, pods: Sequence[Pod]) -> list[str]:
        """Create the pods, wait until they run; their keys (``ns/name``)."""
        names = []
        for made in pods:
            assert made.metadata is not None and made.metadata.name is not None
            names.append(made.metadata.name)
            await self.admin.create(made)
            if namespace not in self.namespaces:
                self.shared_pods.append((namespace, made.metadata.name))
        self.wire.add(namespace, await wait_running(self.admin, namespace, names))
        return [f"{namespace}/{n}" for n in names]

    async def close(self) -> None:
        closing = asyncio.create_task(self._close())
        done, _ = await asyncio.wait({closing}, timeout=60)
        if not done:
            closing.cancel()
            report_stuck("removing what test_wire made did not end within 60s")
            return
        closing.result()

    async def _close(self) -> None:
        await wire.drain()
        await delete_pods_now(self.admin, self.namespaces)
        for namespace, name in self.shared_pods:
            try:
                await self.admin.delete(Pod, name, namespace=namespace, grace_period=0)
            except ApiError as e:
                if e.status.code != 404:
                    raise
        for namespace in self.namespaces:  # the controller-manager finishes the deletion
            try:
                await self.admin.delete(Namespace, namespace)
            except ApiError as e:
                if e.status.code != 404:
                    raise


@pytest.fixture(scope="module")
async def place(admin: AsyncClient, node: Dataplane) -> AsyncIterator[Place]:
    made = Place(admin, node)
    try:
        yield made
    finally:
        await made.close()


@pytest.fixture
def cluster(admin: AsyncClient) -> Cluster:
    return cluster_for(admin, netfence_namespace=NETFENCE_NS)


def pod(
    namespace: str,
    name: str,
    labels: dict[str, str] | None = None,
    ports: Sequence[wire.PortSpec] = ((TCP, 8080, None),),
) -> Pod:
    return wire.pod(namespace, name, NODE, labels or {"app": name}, ports)


def ports(*numbers: int, protocol: str = TCP) -> tuple[wire.PortSpec, ...]:
    return tuple((protocol, n, None) for n in numbers)


def in_namespace(key: str, namespace: str) -> bool:
    return key.startswith(namespace + "/")


async def until_enabled(cluster: Cluster, namespace: str, since: datetime.datetime) -> None:
    progress = await namespaces.until_enabled(cluster.reader, namespace, timeout=20, since=since)
    assert progress.backup is not None, progress.problems


# --- opting in and out --------------------------------------------------------------------


async def test_opting_in_keeps_only_the_namespace_and_opting_out_opens_it_again(
    admin: AsyncClient, place: Place, cluster: Cluster
) -> None:
    ns = await place.namespace("optin")
    neighbour = await place.namespace("neighbour")
    stranger = await place.namespace("stranger")
    web, worker = await place.pods(
        ns, [pod(ns, "web", ports=((TCP, 8080, None), (UDP, 5353, None))), pod(ns, "worker")]
    )
    [client] = await place.pods(neighbour, [pod(neighbour, "client")])
    [visitor] = await place.pods(stranger, [pod(stranger, "visitor")])
    targets = {web: [(8080, TCP), (5353, UDP)], worker: [(8080, TCP)], client: [(8080, TCP)]}
    probes = [
        Probe(source, destination, port, protocol)
        for source in (web, worker, client, visitor)
        for destination, declared in targets.items()
        if source != destination
        for port, protocol in declared
    ]
    everyone = expect(probes, lambda p: True)
    await place.wire.settle(everyone)

    since = datetime.datetime.now(datetime.UTC)
    assert await namespaces.enable(cluster, ns)
    await until_enabled(cluster, ns, since)
    assert await kube.policy_names(admin, ns) == DEFAULTS
    # Only the namespace's own pods reach its pods; the neighbour's pod is untouched.
    await place.wire.settle(
        expect(probes, lambda p: not in_namespace(p.destination, ns) or in_namespace(p.source, ns))
    )

    result = await namespaces.disable(cluster, ns, restore=False, wait=20)
    assert result.was_managed and result.remaining == ()
    assert await kube.policy_names(admin, ns) == set()
    await place.wire.settle(everyone)


async def test_disable_restore_brings_back_what_the_old_policies_allowed(
    admin: AsyncClient, place: Place, cluster: Cluster
) -> None:
    ns = await place.namespace("legacy")
    neighbour = await place.namespace("neighbour")
    stranger = await place.namespace("stranger")
    api, web = await place.pods(ns, [pod(ns, "api"), pod(ns, "web")])
    [client] = await place.pods(neighbour, [pod(neighbour, "client")])
    [visitor] = await place.pods(stranger, [pod(stranger, "visitor")])
    # A hand-made policy: api only from the neighbour namespace, on 8080.
    await kube.create(
        admin,
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "api-from-neighbour", "namespace": ns},
            "spec": {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": neighbour}
                                }
                            }
                        ],
                        "ports": [{"port": 8080}],
                    }
                ],
            },
        },
    )
    probes = [
        Probe(source, destination, 8080)
        for source in (api, web, client, visitor)
        for destination in (api, web)
        if source != destination
    ]
    legacy = expect(probes, lambda p: p.destination != api or p.source == client)
    await place.wire.settle(legacy)

    since = datetime.datetime.now(datetime.UTC)
    await namespaces.enable(cluster, ns)
    await until_enabled(cluster, ns, since)
    assert await kube.policy_names(admin, ns) == DEFAULTS
    await place.wire.settle(expect(probes, lambda p: in_namespace(p.source, ns)))

    result = await namespaces.disable(cluster, ns, restore=True, wait=20)
    assert result.restore is not None and result.restore.restored == ["api-from-neighbour"]
    assert await kube.policy_names(admin, ns) == {"api-from-neighbour"}
    await place.wire.settle(legacy)


# --- the default templates ----------------------------------------------------------------

SERVERS = {  # template -> (controller, the ports its pods declare)
    "http": ("http-server", ((TCP, 80, None), (TCP, 81, None), (UDP, 80, None))),
    "https": ("https-server", ((TCP, 443, None), (TCP, 444, None), (UDP, 443, None))),
    "prometheus-scrape": (
        "scraped",
        (*ports(9089, 9090, 9100, 9101), (TCP, 8081, "metrics")),
    ),
    "ingress-nginx": ("backend", ports(80, 443, 8080, 8443)),
}
DATABASES = {"postgres": 5432, "mysql": 3306, "redis": 6379, "mongodb": 27017}
USERS = {t: f"{t}-user" for t in (*DATABASES, "kafka", "dns", "egress-internet")}


async def test_every_default_template_opens_what_it_promises_and_nothing_else(
    admin: AsyncClient, place: Place
) -> None:
    """Each default template (src/netfence/core/default_templates.py) attached to its own
    controller, then probed from where its description says and from elsewhere, on its
    ports and next to them.

    Egress templates are checked where the isolated dataplane can check them: towards
    pods. There is no internet here (the node has no route out, a probe to a public
    address is unreachable whatever the policies say), so the public half of
    egress-internet's ipBlock cannot be probed; what is checked is its pod-side effect:
    pod addresses (10.0.0.0/8, excluded) are not reached, and egress isolation drops all
    pod-to-pod traffic the template does not list, DNS included."""
    catalog = await admin.get(ConfigMap, naming.TEMPLATES_CONFIGMAP, namespace=NETFENCE_NS)
    for name, text in DEFAULT_TEMPLATES.items():
        assert (catalog.data or {}).get(name) == text, f"the catalog's {name} is not the default"

    ns = await place.namespace("templates", managed=True)
    elsewhere = await place.namespace("elsewhere")
    monitoring = await place.fixed_namespace("monitoring")
    ingress_nginx = await place.fixed_namespace("ingress-nginx")
    suffix = kube.unique("wire")
    policies = []
    for template, (name, declared) in SERVERS.items():
        await wire.create(
            admin, wire.deployment(ns, name, {"app": name}, ports=declared, templates=[template])
        )
        policies.append(naming.attachment_policy_name("Deployment", name, template))
    for template, name in USERS.items():
        await wire.create(admin, wire.deployment(ns, name, {"app": name}, templates=[template]))
        policies.append(naming.attachment_policy_name("Deployment", name, template))
    here = await place.pods(
        ns,
        [pod(ns, f"{name}-pod", {"app": name}, declared) for name, declared in SERVERS.values()]
        + [pod(ns, f"{name}-pod", {"app": name}) for name in USERS.values()]
        + [pod(ns, "bystander")],
    )
    pods = dict(zip([k.split("/")[1] for k in here], here, strict=True))
    db_ports = ports(5432, 5433, 3306, 3307, 6379, 6380, 27017, 27018, 443, 8080)
    db, prometheus_lookalike, nginx_lookalike, dns_lookalike = await place.pods(
        elsewhere,
        [
            pod(elsewhere, "db", ports=db_ports + ports(*range(9091, 9096))),
            pod(elsewhere, "prometheus", {"app.kubernetes.io/name": "prometheus"}),
            pod(elsewhere, "nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
            pod(elsewhere, "dns", {"k8s-app": "kube-dns"}, ((UDP, 53, None), (TCP, 53, None))),
        ],
    )
    prometheus, grafana = await place.pods(
        monitoring,
        [
            pod(monitoring, f"prometheus-{suffix}", {"app.kubernetes.io/name": "prometheus"}),
            pod(monitoring, f"grafana-{suffix}", {"app": "grafana"}),
        ],
    )
    controller, nginx_other = await place.pods(
        ingress_nginx,
        [
            pod(ingress_nginx, f"controller-{suffix}", {"app.kubernetes.io/name": "ingress-nginx"}),
            pod(ingress_nginx, f"other-{suffix}", {"app": "other"}),
        ],
    )
    dns_ports = ((UDP, 53, None), (TCP, 53, None), (TCP, 8080, None))
    coredns, kube_system_other = await place.pods(
        "kube-system",
        [
            pod("kube-system", f"coredns-{suffix}", {"k8s-app": "kube-dns"}, dns_ports),
            pod("kube-system", f"metrics-{suffix}", {"app": "metrics"}, dns_ports),
        ],
    )
    for name in policies:
        await kube.wait_for_policy(admin, ns, name, timeout=20)

    bystander = pods["bystander"]
    checks: dict[Probe, bool] = {}

    def check(source: str, destination: str, port: int, allowed: bool, protocol: str = TCP) -> None:
        checks[Probe(source, destination, port, protocol)] = allowed

    # Ingress templates: the port from every namespace, or from the pods they name.
    http, https = pods["http-server-pod"], pods["https-server-pod"]
    for source in (db, grafana, coredns):
        check(source, http, 80, True)
        check(source, http, 81, False)
        check(source, http, 80, False, UDP)
        check(source, https, 443, True)
        check(source, https, 444, False)
        check(source, https, 443, False, UDP)
    scraped = pods["scraped-pod"]
    for port in (9090, 9100, 8081):  # 8081 is the port named "metrics"
        check(prometheus, scraped, port, True)
        check(grafana, scraped, port, False)
        check(prometheus_lookalike, scraped, port, False)
    for port in (9089, 9101):
        check(prometheus, scraped, port, False)
    backend = pods["backend-pod"]
    for port in (80, 443, 8080):
        check(controller, backend, port, True)
        check(nginx_other, backend, port, False)
        check(nginx_lookalike, backend, port, False)
    check(controller, backend, 8443, False)
    # The namespace's own pods still reach everything there (allow-namespace-communication).
    for destination, port in ((http, 81), (https, 444), (scraped, 9101), (backend, 8443)):
        check(bystander, destination, port, True)

    # Egress templates: their port to any pod, nothing else from the pods they select.
    for template, port in DATABASES.items():
        user = pods[f"{USERS[template]}-pod"]
        check(user, db, port, True)
        check(user, db, port + 1, False)
        check(user, db, 8080, False)
        check(user, bystander, 8080, False)
        check(user, coredns, 53, False, UDP)  # without dns, no name resolution either
        check(bystander, db, port + 1, True)  # pods without the template are not limited
    kafka = pods[f"{USERS['kafka']}-pod"]
    for port in (9092, 9093, 9094):
        check(kafka, db, port, True)
    for port in (9091, 9095):
        check(kafka, db, port, False)
    dns = pods[f"{USERS['dns']}-pod"]
    check(dns, coredns, 53, True, UDP)
    check(dns, coredns, 53, True)
    check(dns, coredns, 8080, False)
    check(dns, kube_system_other, 53, False, UDP)
    check(dns, dns_lookalike, 53, False, UDP)
    check(dns, bystander, 8080, False)
    check(dns, db, 8080, False)
    internet = pods[f"{USERS['egress-internet']}-pod"]
    check(internet, db, 443, False)  # a pod address: inside 10.0.0.0/8, excepted
    check(internet, bystander, 8080, False)
    check(internet, coredns, 53, False, UDP)
    # Ingress to the users is the namespace's baseline: its own pods only.
    for user in (dns, internet, kafka):
        check(bystander, user, 8080, True)
        check(db, user, 8080, False)

    await place.wire.settle(checks)
    # Nothing listens on 5434: refused where the network lets it through, else dropped.
    postgres = pods[f"{USERS['postgres']}-pod"]
    # (2 s: a SYN whose verdict got lost is sent again after 1 s, see LOST_PACKETS.)
    assert (await place.wire.probe(Probe(bystander, db, 5434), 2.0)).outcome == "refused"
    assert (await place.wire.probe(Probe(postgres, db, 5434))).outcome == "dropped"


# --- attaching, detaching, deleting the controller, drift ----------------------------------


async def test_attach_detach_and_deleting_the_controller_open_and_close_traffic(
    admin: AsyncClient, place: Place, cluster: Cluster
) -> None:
    ns = await place.namespace("attach", managed=True)
    visitors = await place.namespace("visitors")
    declared = ports(80, 8080)
    await wire.create(admin, wire.deployment(ns, "web", {"app": "web"}, ports=declared))
    web_a, web_b, other = await place.pods(
        ns,
        [
            pod(ns, "web-a", {"app": "web"}, declared),
            pod(ns, "web-b", {"app": "web"}, declared),
            pod(ns, "other", {"app": "other"}, declared),
        ],
    )
    [client] = await place.pods(visitors, [pod(visitors, "client")])
    await kube.wait_for_policy(admin, ns, naming.DENY_ALL_INGRESS)
    probes = [
        Probe(client, web_a, 80),
        Probe(client, web_b, 80),
        Probe(client, web_a, 8080),
        Probe(client, other, 80),
    ]
    closed = expect(probes, lambda p: False)
    opened = expect(probes, lambda p: p.port == 80 and p.destination != other)
    ref = WorkloadRef(WorkloadKind.DEPLOYMENT, "web")
    await place.wire.settle(closed)

    async def until(policy: str, *, present: bool) -> None:
        assert await attachments.until_policy(
            cluster.reader, ns, policy, present=present, timeout=20
        ), f"{policy} {'never came' if present else 'stayed'}"

    policy = await attachments.attach(cluster, ns, ref, "http")
    await until(policy, present=True)
    await place.wire.settle(opened)

    assert await attachments.detach(cluster, ns, ref, "http") == policy
    await until(policy, present=False)
    await place.wire.settle(closed)

    await attachments.attach(cluster, ns, ref, "http")
    await until(policy, present=True)
    await place.wire.settle(opened)

    await admin.delete(Deployment, "web", namespace=ns)
    await until(policy, present=False)
    await place.wire.settle(closed)
    assert await kube.policy_names(admin, ns) == DEFAULTS


async def test_drift_repair_closes_traffic_again_after_a_managed_policy_is_deleted(
    admin: AsyncClient, place: Place, controller: Controller
) -> None:
    ns = await place.namespace("drift", managed=True)
    target = await place.namespace("target")
    await wire.create(admin, wire.deployment(ns, "api", {"app": "api"}, templates=["postgres"]))
    [api] = await place.pods(ns, [pod(ns, "api-a", {"app": "api"})])
    [db] = await place.pods(target, [pod(target, "db", ports=ports(5432, 8080))])
    name = naming.attachment_policy_name("Deployment", "api", "postgres")
    original = await kube.wait_for_policy(admin, ns, name, timeout=20)
    assert original.spec is not None
    leak = Probe(api, db, 8080)
    await place.wire.settle({leak: False, Probe(api, db, 5432): True})

    windows: list[tuple[float, float, int]] = []  # first and last open probe, count open
    for _ in range(5):
        async with Sampler(place.wire, leak) as sampler:
            deleted = time.monotonic()
            await admin.delete(NetworkPolicy, name, namespace=ns)
            repaired = await kube.wait_for_policy(admin, ns, name, timeout=20)
            await place.wire.first(leak, False)
        assert repaired.spec is not None and repaired.spec.to_dict() == original.spec.to_dict()
        opened = [began - deleted for began, through in sampler.samples if through]
        assert all(began >= deleted for began, through in sampler.samples if through)
        windows.append((min(opened, default=0.0), max(opened, default=0.0), len(opened)))
        await place.wire.settle({leak: False})
    spans = "; ".join(
        f"{first * 1000:.0f}-{last * 1000:.0f} ms ({count} probes through)"
        if count
        else "never seen open"
        for first, last, count in windows
    )
    print(  # noqa: T201 - the figures of this run, for docs/benchmarks.md
        f"\ndrift repair: after the delete call the connection was open at {spans} "
        f"(a fresh connection every 5 ms)"
    )
    # Repaired in well under a second each time (the controller's pass plus the enforcer's).
    assert max(last for _, last, _ in windows) < 2.0


# --- the evaluator on a demo-like cluster -------------------------------------------------


def _demo_like(suffix: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """`netfence demo`'s objects under names of this run, with 0 replicas (pods are made
    by the test), and a `web` team that nothing lets in anywhere special. The
    DaemonSet runs on no node and selects its template's labels plus one the pods of the
    test do not carry: the controller-manager would otherwise adopt and replace them;
    node-exporter's pod is then one no controller selects. A StatefulSet claims only pods
    named after its ordinals, so its pod is `db-a`."""
    teams = [
        m["metadata"]["name"]
        for m in demo.manifests(NETFENCE_NS)
        if m["kind"] == "Namespace" and m["metadata"]["name"] != NETFENCE_NS
    ]
    rename = {n: f"{n}-{suffix}" for n in [*teams, "web"]}
    manifests = []
    for manifest in demo.manifests(NETFENCE_NS):
        metadata = manifest["metadata"]
        if metadata.get("namespace") == "kube-system":
            continue  # the test makes its own DNS pod, in the shared kube-system
        if manifest["kind"] == "Namespace":
            if metadata["name"] == NETFENCE_NS:
                continue
            metadata["name"] = rename[metadata["name"]]
        else:
            metadata["namespace"] = rename[metadata["namespace"]]
        spec = manifest.get("spec", {})
        if manifest["kind"] in ("Deployment", "StatefulSet"):
            spec["replicas"] = 0
        if manifest["kind"] == "DaemonSet":
            spec["selector"]["matchLabels"]["netfence.io/wire"] = "daemonset"
            spec["template"]["metadata"]["labels"]["netfence.io/wire"] = "daemonset"
            spec["template"]["spec"]["nodeSelector"] = {"netfence.io/no-such-node": "true"}
        manifests.append(manifest)
    manifests.append(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": rename["web"], "labels": {"team": "web"}},
        }
    )
    return manifests, rename


async def test_the_evaluator_predicts_the_wire_on_a_demo_like_cluster(
    admin: AsyncClient, place: Place, cluster: Cluster
) -> None:
    suffix = kube.unique("d").removeprefix("d-")
    manifests, rename = _demo_like(suffix)
    keys: list[str] = []
    pods_by_namespace: dict[str, list[Pod]] = {}
    attached: list[tuple[str, str, str, str]] = []
    for manifest in manifests:
        if manifest["kind"] == "Namespace":
            place.namespaces.append(manifest["metadata"]["name"])
        await wire.create(admin, manifest)
        if manifest["kind"] in ("Namespace", "NetworkPolicy"):
            continue
        namespace, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
        template = manifest["spec"]
        if manifest["kind"] == "CronJob":
            template = template["jobTemplate"]["spec"]
        labels = {
            k: v
            for k, v in template["template"]["metadata"]["labels"].items()
            if k != "netfence.io/wire"
        }
        declared = tuple(
            (p.get("protocol", TCP), p["containerPort"], p.get("name"))
            for c in template["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        )
        # "-a", not "-0": a StatefulSet claims only pods named after its ordinals.
        pods_by_namespace.setdefault(namespace, []).append(
            pod(namespace, f"{name}-a", labels, declared)
        )
        for label in manifest["metadata"].get("labels", {}):
            if label.startswith(naming.TEMPLATE_LABEL_PREFIX):
                template_name = label.removeprefix(naming.TEMPLATE_LABEL_PREFIX)
                attached.append((namespace, manifest["kind"], name, template_name))
    web = rename["web"]
    pods_by_namespace[web] = [pod(web, "browser")]
    for namespace, made in pods_by_namespace.items():
        keys += await place.pods(namespace, made)
    keys += await place.pods(
        "kube-system",
        [
            pod(
                "kube-system",
                f"coredns-{suffix}",
                {"k8s-app": "kube-dns"},
                ((UDP, 53, "dns"), (TCP, 53, "dns-tcp")),
            )
        ],
    )
    shop, payments = rename["shop"], rename["payments"]
    wanted = DEFAULTS | {
        naming.attachment_policy_name(kind, name, template)
        for namespace, kind, name, template in attached
        if namespace == shop
    }
    assert len(wanted) > len(DEFAULTS)  # the demo attaches templates in shop

    async def shop_converged() -> bool:
        return await kube.policy_names(admin, shop) == wanted

    await kube.eventually(shop_converged, timeout=20)
    first = await wire.assert_agrees(admin, place.wire, keys)

    # Opting payments in replaces its legacy policies with the baseline.
    since = datetime.datetime.now(datetime.UTC)
    await namespaces.enable(cluster, payments)
    await until_enabled(cluster, payments, since)
    second = await wire.assert_agrees(admin, place.wire, keys)
    for agreement in (first, second):
        assert 0 < agreement.allowed < agreement.compared  # some allowed, some denied
    print(  # noqa: T201 - the figures of this run
        f"\ndemo-like cluster: {first.compared} connections agree ({first.allowed} allowed); "
        f"after opting payments in {second.compared} agree ({second.allowed} allowed); "
        f"{first.self_pairs} of them a pod to itself (always allowed)"
    )


# --- disagreements found on random clusters, as small explicit cases -----------------------


async def test_a_pod_reaches_itself_whatever_its_policies_say(
    admin: AsyncClient, place: Place
) -> None:
    """A pod cannot block access to itself (Kubernetes documentation): on the wire a
    connection to the pod's own IP goes over its own loopback and never meets the
    enforcer. The evaluator says allowed, and explain says why. (Found on every random
    cluster with an isolated pod, when the evaluator still applied policies to it.)"""
    ns = await place.namespace("itself")
    [alone] = await place.pods(ns, [pod(ns, "alone")])
    await kube.create(admin, _deny_all(ns))
    inventory = await wire.read_inventory(admin)
    itself = Probe(alone, alone, 8080)
    assert wire.predicted(inventory, [alone]) == {itself: True}
    reasons = wire.explanation(inventory, itself)
    assert reasons[0] == f"{alone} → {alone} on 8080/TCP: allowed"
    assert reasons[1].startswith(f"{alone} reaches itself, which is always allowed"), reasons
    # The policy is enforced (the enforcer has seen it) and the pod reaches itself.
    elsewhere = await place.namespace("itself-peer")
    [peer] = await place.pods(elsewhere, [pod(elsewhere, "peer")])
    await place.wire.settle({Probe(peer, alone, 8080): False, Probe(alone, peer, 8080): False})
    result = await place.wire.probe(itself)
    assert (result.outcome, result.answer) == ("connected", alone)


def _deny_all(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-all", "namespace": namespace},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }


class _Hangup(asyncio.Protocol):
    """A listener that accepts and closes: connecting is the whole answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


async def test_a_pod_and_its_own_node_reach_each_other_whatever_the_policies_say(
    admin: AsyncClient, place: Place, node: Dataplane
) -> None:
    """Traffic to and from the node where a Pod is running is always allowed
    (Kubernetes documentation): kubelet probes, host-network pods. The node is no endpoint
    of the matrix (docs/connectivity.md); on the wire it reaches a pod isolated both ways,
    and that pod reaches a listener on the node's address, while another pod cannot."""
    ns = await place.namespace("node-traffic")
    [alone] = await place.pods(ns, [pod(ns, "alone")])
    await kube.create(admin, _deny_all(ns))
    elsewhere = await place.namespace("node-traffic-peer")
    [peer] = await place.pods(elsewhere, [pod(elsewhere, "peer")])
    await place.wire.settle({Probe(peer, alone, 8080): False, Probe(alone, peer, 8080): False})

    from_node = await netns.probe_netns(node.node_netns, place.wire.ips[alone], 8080, TCP, 2.0)
    assert (from_node.outcome, from_node.answer) == ("connected", alone)

    [sock] = await netns.shared_sockets().acreate(
        node.node_netns, [netns.SocketSpec("TCP", port=NODE_LISTENER_PORT, host=node.node_ip)]
    )
    assert not isinstance(sock, OSError), sock
    server = await asyncio.get_running_loop().create_server(_Hangup, sock=sock)
    try:
        to_node = await place.wire.connect(alone, node.node_ip, NODE_LISTENER_PORT, TCP, 2.0)
        assert to_node.outcome == "connected"
    finally:
        server.close()
        await server.wait_closed()


async def test_a_cidr_with_host_bits_is_read_as_its_network_like_the_enforcer(
    admin: AsyncClient, place: Place, control_plane: ControlPlane
) -> None:
    """A policy stored before strict CIDR validation may hold 10.253.0.7/24 (this API
    server refuses to create one, so it goes into etcd as an older one stored it, see
    tests/integration/stored.py): the enforcer (Go's net.ParseCIDR) means 10.253.0.0/24,
    and so does the evaluator, with a warning naming the policy and the field. The whole
    matrix of the namespace agrees with the wire, an except entry with host bits too."""
    ns = await place.namespace("legacy-cidr")
    server, client, other = await place.pods(
        ns, [pod(ns, "server"), pod(ns, "client"), pod(ns, "other")]
    )
    client_ip = ipaddress.ip_address(place.wire.ips[client])
    other_ip = ipaddress.ip_address(place.wire.ips[other])
    # The /24 around the client, written with the client's address: host bits set.
    cidr = f"{client_ip}/24"
    assert ipaddress.ip_network(cidr, strict=False).network_address != client_ip
    excepted = ipaddress.ip_network(f"{other_ip}/31", strict=False)
    except_text = f"{excepted.network_address + 1}/31"  # host bit set, covers other
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "legacy", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "server"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": cidr, "except": [except_text]}}]}],
        },
    }
    with pytest.raises(ApiError, match="must not have bits set beyond the prefix length"):
        await kube.create(admin, policy)  # what netfence would meet writing it today
    stored.store_network_policy(control_plane, policy)
    inventory = await wire.read_inventory(admin)
    warnings = [str(w) for w in cidrs.non_canonical(inventory.policies) if w.policy.startswith(ns)]
    assert warnings == [
        f"NetworkPolicy {ns}/legacy spec.ingress[0].from[0].ipBlock.cidr: {cidr!r} is not a "
        f"canonical CIDR; analysed as {ipaddress.ip_network(cidr, strict=False)}, as the "
        "network plugin reads it",
        f"NetworkPolicy {ns}/legacy spec.ingress[0].from[0].ipBlock.except[0]: "
        f"{except_text!r} is not a canonical CIDR; analysed as {excepted}, as the network "
        "plugin reads it",
    ]
    predicted = wire.predicted(inventory, [server, client, other])
    assert predicted[Probe(client, server, 8080)] is (client_ip not in excepted)
    assert predicted[Probe(other, server, 8080)] is False
    await wire.assert_agrees(admin, place.wire, [server, client, other])


async def test_a_named_port_declared_by_a_sidecar_opens_nothing_on_this_enforcer(
    admin: AsyncClient, place: Place
) -> None:
    """Found on random clusters (seed 14, the first 100 of seed 0): a policy opening the
    named port `metrics` that only a sidecar (an init container with restartPolicy
    Always) declares. The Kubernetes API counts sidecars' ports as the pod's (a Service's
    named targetPort finds them), and so does the evaluator: allowed. kube-network-policies
    v0.8.0 resolves names on spec.containers only (evaluatePorts), so the wire drops it.
    The same port by number is let through (refused: the node agent opens listeners for
    spec.containers only). Pinned here: when the enforcer is fixed, this test fails and
    the known gap in test_wire_random (wire.as_kube_network_policies) goes."""
    ns = await place.namespace("sidecar")
    [client] = await place.pods(ns, [pod(ns, "client")])
    made = wire.pod(
        ns, "app", NODE, {"app": "app"}, ((TCP, 8080, "http"),), sidecar=((TCP, 9100, "metrics"),)
    )
    [app] = await place.pods(ns, [made])

    async def open_ports(*entries: dict[str, Any]) -> None:
        spec = {
            "podSelector": {"matchLabels": {"app": "app"}},
            "ingress": [{"ports": list(entries)}],
        }
        body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"}
        manifest = {**body, "metadata": {"name": "scrape", "namespace": ns}, "spec": spec}
        try:
            await kube.create(admin, manifest)
        except ApiError as e:
            if e.status.code != 409:
                raise
            patch = [{"op": "replace", "path": "/spec", "value": spec}]
            await admin.patch(
                NetworkPolicy, "scrape", patch, namespace=ns, patch_type=PatchType.JSON
            )

    by_name, main = Probe(client, app, 9100), Probe(client, app, 8080)
    await open_ports({"port": "metrics"})
    inventory = await wire.read_inventory(admin)
    predicted = wire.predicted(inventory, [client, app])
    assert (predicted[by_name], predicted[main]) == (True, False)
    assert any("named port metrics/TCP (= 9100" in r for r in wire.explanation(inventory, by_name))
    # Once the policy is enforced (8080 dropped), 9100 is dropped too, against the API.
    await place.wire.settle({main: False, by_name: False})
    sidecars = {app: {(9100, TCP)}}
    enforced = wire.predicted(wire.as_kube_network_policies(inventory, sidecars), [client, app])
    assert enforced[by_name] is False

    await open_ports({"port": 9100})
    await place.wire.settle({main: False, by_name: True})
    assert (await place.wire.probe(by_name, 2.0)).outcome == "refused"


# --- figures ------------------------------------------------------------------------------


async def test_figures_of_changes_on_the_wire(
    admin: AsyncClient, place: Place, cluster: Cluster
) -> None:
    """Policy change -> enforced, attach -> allowed end to end, probe throughput. Each
    latency runs from just before the API call to the start of the first fresh
    connection that met the new verdict (a new one every 5 ms)."""
    ns = await place.namespace("figures")
    server, client = await place.pods(ns, [pod(ns, "server"), pod(ns, "client")])
    probe = Probe(client, server, 8080)
    await place.wire.settle({probe: True})
    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny-server", "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"]},
    }
    created: list[float] = []
    deleted: list[float] = []
    for i in range(CHANGES):
        began = time.monotonic()
        if i % 2 == 0:
            await kube.create(admin, deny)
            created.append(await place.wire.first(probe, False) - began)
        else:
            await admin.delete(NetworkPolicy, "deny-server", namespace=ns)
            deleted.append(await place.wire.first(probe, True) - began)
    await wire.drain()

    # One Deployment per cycle, all selecting the same pod: the controller leaves alone a
    # policy it rewrote ten times within a minute (RewriteLoop), as it should.
    managed = await place.namespace("figures-managed", managed=True)
    for i in range(ATTACHES):
        await wire.create(
            admin, wire.deployment(managed, f"web-{i}", {"app": "web"}, ports=ports(80))
        )
    [web] = await place.pods(managed, [pod(managed, "web-a", {"app": "web"}, ports(80))])
    await kube.wait_for_policy(admin, managed, naming.DENY_ALL_INGRESS)
    attach_probe = Probe(client, web, 80)
    await place.wire.settle({attach_probe: False})
    opened: list[float] = []
    closed: list[float] = []
    for i in range(ATTACHES):
        ref = WorkloadRef(WorkloadKind.DEPLOYMENT, f"web-{i}")
        began = time.monotonic()
        await attachments.attach(cluster, managed, ref, "http")
        opened.append(await place.wire.first(attach_probe, True) - began)
        began = time.monotonic()
        await attachments.detach(cluster, managed, ref, "http")
        closed.append(await place.wire.first(attach_probe, False) - began)
    await wire.drain()

    connected = [probe] * 1000
    began = time.monotonic()
    assert all((await place.wire.observe(connected)).values())
    through = len(connected) / (time.monotonic() - began)
    await kube.create(admin, deny)
    await place.wire.settle({probe: False})
    silent = [probe] * 256
    began = time.monotonic()
    assert not any((await place.wire.observe(silent)).values())
    dropped = time.monotonic() - began
    print(  # noqa: T201 - the figures of this run, for docs/benchmarks.md
        f"\npolicy create -> dropped: {wire.summary(created)}"
        f"\npolicy delete -> through: {wire.summary(deleted)}"
        f"\nall {len(created) + len(deleted)} changes: {wire.summary(created + deleted)}"
        f"\nattach label -> allowed end to end: {wire.summary(opened)}"
        f"\ndetach label -> dropped end to end: {wire.summary(closed)}"
        f"\nprobes: {through:.0f} connected/s ({wire.PARALLEL} at once); 256 dropped in "
        f"{dropped:.2f}s ({wire.DROP_TIMEOUT:g}s timeout)"
    )
