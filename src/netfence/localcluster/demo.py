"""The demo: a working application on the local cluster, fenced by netfence, and the real
connections that prove it works.

- ``shop`` (managed): an ingress controller's traffic reaches ``frontend``, which calls
  ``api``, which queries ``db``; a nightly ``report`` CronJob. The templates attached open
  exactly that and the scraping: ``frontend`` ingress-nginx + prometheus-scrape, ``api``
  dns + postgres + prometheus-scrape (so its egress is only DNS and PostgreSQL), ``db``
  prometheus-scrape, ``report`` dns + postgres.
- ``payments`` (not managed yet): ``api`` and ``ledger`` with hand-made policies, which an
  admin can preview opting in (the preview lists what the baseline would cut off: the
  shop's checkout calls and the scraping).
- ``monitoring``: Prometheus scraping the metrics ports of both, and node-exporter.
- ``ingress-nginx``: the controller in front of the shop.
- ``kube-system``: a cluster DNS pod (``k8s-app=kube-dns``) answering on port 53.

:data:`CONNECTIONS` is what the application needs and what the policies must keep shut;
:func:`prove` opens each as a fresh connection from inside the source pod.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from lightkube import ApiError, AsyncClient, codecs
from lightkube.resources.core_v1 import Pod

from netfence.core import naming
from netfence.localcluster import node_agent

Port = tuple[str, int, str]  # (name, number, protocol)


def _namespace(name: str, *, managed: bool = False) -> dict[str, Any]:
    labels = {"team": name}
    if managed:
        labels[naming.MANAGED_NAMESPACE_LABEL] = naming.MANAGED_NAMESPACE_VALUE
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _workload(
    namespace: str,
    name: str,
    kind: str,
    ports: Sequence[Port],
    templates: Sequence[str] = (),
    pod_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    labels = {naming.template_label_key(t): naming.TEMPLATE_LABEL_VALUE for t in templates}
    pod: dict[str, Any] = {
        "metadata": {"labels": {"app": name, **(pod_labels or {})}},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": f"example.org/{name}:1.0",
                    "ports": [
                        {"name": port_name, "containerPort": number, "protocol": protocol}
                        for port_name, number, protocol in ports
                    ],
                }
            ]
        },
    }
    if kind == "CronJob":
        pod["spec"]["restartPolicy"] = "OnFailure"
        spec: dict[str, Any] = {
            "schedule": "0 3 * * *",
            # The node agent's pods never finish: one Job at a time, not one a night more.
            "concurrencyPolicy": "Forbid",
            "jobTemplate": {"spec": {"template": pod}},
        }
        api = "batch/v1"
    else:
        spec = {"selector": {"matchLabels": {"app": name}}, "template": pod}
        if kind == "StatefulSet":
            spec["serviceName"] = name
        api = "apps/v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


def _policy(namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _from_namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


HTTP: Port = ("http", 8080, "TCP")


def manifests(netfence_namespace: str) -> list[dict[str, Any]]:
    """Every object of the demo, namespaces first."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": netfence_namespace}},
        _namespace("shop", managed=True),
        _namespace("payments"),
        _namespace("monitoring"),
        _namespace("ingress-nginx"),
        _workload(
            "kube-system", "coredns", "Deployment",
            [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")],
            pod_labels={"k8s-app": "kube-dns"},
        ),
        _workload(
            "ingress-nginx", "ingress-nginx-controller", "Deployment",
            [("http", 80, "TCP"), ("https", 443, "TCP")],
            pod_labels={"app.kubernetes.io/name": "ingress-nginx"},
        ),
        _workload(
            "shop", "frontend", "Deployment", [HTTP, ("metrics", 9091, "TCP")],
            ["ingress-nginx", "prometheus-scrape"],
        ),
        _workload(
            "shop", "api", "Deployment", [HTTP, ("metrics", 9090, "TCP")],
            ["dns", "postgres", "prometheus-scrape"],
        ),
        _workload(
            "shop", "db", "StatefulSet",
            [("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")], ["prometheus-scrape"],
        ),
        _workload("shop", "report", "CronJob", [], ["dns", "postgres"]),
        _workload("payments", "api", "Deployment", [HTTP, ("metrics", 9090, "TCP")]),
        _workload(
            "payments", "ledger", "StatefulSet",
            [("postgres", 5432, "TCP"), ("metrics", 9187, "TCP")],
        ),
        _policy(
            "payments", "allow-shop-to-api",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {"team": "shop"}}}],
                        "ports": [{"port": 8080}],
                    }
                ],
            },
        ),
        _policy(
            "payments", "legacy-ledger",
            {
                "podSelector": {"matchLabels": {"app": "ledger"}},
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                     "ports": [{"port": 5432}]}
                ],
            },
        ),
        _policy(
            "payments", "allow-monitoring",
            {
                "podSelector": {},
                "ingress": [{"from": [_from_namespace("monitoring")], "ports": [{"port": "metrics"}]}],
            },
        ),
        _workload(
            "monitoring", "prometheus", "Deployment", [("web", 9090, "TCP")],
            pod_labels={"app.kubernetes.io/name": "prometheus"},
        ),
        _workload("monitoring", "node-exporter", "DaemonSet", [("metrics", 9100, "TCP")]),
    ]  # fmt: skip


# The demo's second cluster, `prod`: a control plane without a node (its pods stay
# Pending), so the console's cluster picker has a real second cluster to show.
SECOND_CLUSTER: Final = "prod"


def second_cluster_manifests(netfence_namespace: str) -> list[dict[str, Any]]:
    """The smaller application of the second cluster: a managed ``storefront`` (web and
    its cache) and an unmanaged ``jobs`` with a nightly CronJob."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": netfence_namespace}},
        _namespace("storefront", managed=True),
        _namespace("jobs"),
        _workload("storefront", "web", "Deployment", [HTTP], ["http", "dns", "redis"]),
        _workload("storefront", "cache", "StatefulSet", [("redis", 6379, "TCP")]),
        _workload("jobs", "cleanup", "CronJob", [], ["dns"]),
    ]  # fmt: skip


async def seed(
    client: AsyncClient,
    *,
    netfence_namespace: str,
    objects: Sequence[dict[str, Any]] | None = None,
) -> int:
    """Create the demo objects (``objects``, else the first cluster's) that are missing;
    returns how many were created."""
    created = 0
    for manifest in manifests(netfence_namespace) if objects is None else objects:
        try:
            await client.create(codecs.from_dict(manifest))
            created += 1
        except ApiError as e:
            if e.status.code != 409:
                raise
    return created


# --- the proof on the wire ----------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """A connection the demo's application makes (``allowed``) or that its policies must
    keep shut; ``source`` and ``destination`` are ``namespace/app`` of a workload."""

    source: str
    destination: str
    port: int
    protocol: str
    allowed: bool
    purpose: str


def _needs(
    source: str, destination: str, port: int, purpose: str, protocol: str = "TCP"
) -> Connection:
    return Connection(source, destination, port, protocol, True, purpose)


def _shut(source: str, destination: str, port: int, purpose: str) -> Connection:
    return Connection(source, destination, port, "TCP", False, purpose)


_INGRESS = "ingress-nginx/ingress-nginx-controller"
_PROMETHEUS = "monitoring/prometheus"
_DNS = "kube-system/coredns"

CONNECTIONS: tuple[Connection, ...] = (
    _needs(_INGRESS, "shop/frontend", 8080, "the ingress serves the shop"),
    _needs("shop/frontend", "shop/api", 8080, "the frontend calls its API"),
    _needs("shop/frontend", "payments/api", 8080, "checkout calls payments"),
    _needs("shop/frontend", _DNS, 53, "name lookups", "UDP"),
    _needs("shop/api", "shop/db", 5432, "the API queries its database"),
    _needs("shop/api", _DNS, 53, "name lookups (template dns)", "UDP"),
    _needs("payments/api", "payments/ledger", 5432, "payments writes its ledger"),
    _needs(_PROMETHEUS, "shop/frontend", 9091, "scraping (template prometheus-scrape)"),
    _needs(_PROMETHEUS, "shop/api", 9090, "scraping (template prometheus-scrape)"),
    _needs(_PROMETHEUS, "shop/db", 9187, "scraping (template prometheus-scrape)"),
    _needs(_PROMETHEUS, "payments/api", 9090, "scraping (policy allow-monitoring)"),
    _needs(_PROMETHEUS, "payments/ledger", 9187, "scraping (policy allow-monitoring)"),
    _needs(_PROMETHEUS, "monitoring/node-exporter", 9100, "scraping the node"),
    _shut("payments/api", "shop/db", 5432, "shop's database only takes shop's pods"),
    _shut(_PROMETHEUS, "shop/api", 8080, "monitoring may scrape, not call"),
    _shut("shop/api", "payments/api", 8080, "shop's API may reach only DNS and PostgreSQL"),
    _shut(_INGRESS, "shop/api", 8080, "only the frontend is exposed"),
)


@dataclass(frozen=True)
class Outcome:
    """What a fresh connection of :data:`CONNECTIONS` met: ``observed`` is connected,
    refused, dropped or unreachable as the probe says, or "no pod" while the source or the
    destination has no Running pod with an address yet."""

    source: str
    destination: str
    port: int
    protocol: str
    allowed: bool
    purpose: str
    observed: str
    answer: str | None = None

    @property
    def as_intended(self) -> bool:
        # Refused still means the policy let it through: the port has no listener.
        if self.allowed:
            return self.observed in ("connected", "refused")
        return self.observed == "dropped"


async def _running_pods(client: AsyncClient, workloads: set[str]) -> dict[str, tuple[str, str]]:
    """``namespace/app`` → (``namespace/pod``, its IP) of one Running pod with an address."""
    found: dict[str, tuple[str, str]] = {}
    for namespace in sorted({w.split("/", 1)[0] for w in workloads}):
        async for pod in client.list(Pod, namespace=namespace):
            app = (pod.metadata.labels or {}).get("app") if pod.metadata else None
            key = f"{namespace}/{app}"
            status = pod.status
            if key not in workloads or key in found or status is None:
                continue
            if status.phase == "Running" and status.podIP and pod.metadata and pod.metadata.name:
                found[key] = (f"{namespace}/{pod.metadata.name}", status.podIP)
    return found


async def prove(client: AsyncClient, dataplane_dir: Path, *, timeout: float = 1.0) -> list[Outcome]:
    """Open every connection of :data:`CONNECTIONS` once, all at the same time."""
    pods = await _running_pods(
        client, {c.source for c in CONNECTIONS} | {c.destination for c in CONNECTIONS}
    )

    async def one(c: Connection) -> Outcome:
        source, destination = pods.get(c.source), pods.get(c.destination)
        if source is None or destination is None:
            return Outcome(**vars(c), observed="no pod")
        try:
            result = await node_agent.probe(
                dataplane_dir, source[0], destination[1], c.port, c.protocol, timeout
            )
        except LookupError:  # the agent has not made its namespace yet
            return Outcome(**vars(c), observed="no pod")
        return Outcome(**vars(c), observed=result.outcome, answer=result.answer)

    return list(await asyncio.gather(*(one(c) for c in CONNECTIONS)))


async def prove_until(
    client: AsyncClient, dataplane_dir: Path, *, within: float = 90.0
) -> list[Outcome]:
    """Probe again until every connection behaves as intended (pods starting, the
    controller creating its policies) or ``within`` seconds passed; the last outcomes."""
    deadline = time.monotonic() + within
    while True:
        outcomes = await prove(client, dataplane_dir)
        if all(o.as_intended for o in outcomes) or time.monotonic() > deadline:
            return outcomes
        await asyncio.sleep(1.0)


__all__ = ["CONNECTIONS", "Connection", "Outcome", "manifests", "prove", "prove_until", "seed"]
