"""The generated cluster the connectivity benchmarks read, as the manifests a user would have.

Shaped like a netfence-managed cluster: team namespaces plus `kube-system` (CoreDNS) and
`monitoring`; Deployments whose pods share labels apart from their name and IP; named
container ports (`http`, `https`, `pg`, `redis`, `metrics`, `dns`), 7 (port, protocol)
pairs in all; five policies per namespace, netfence's two baseline policies plus three of
six kinds in rotation (namespace selectors with `In`/`NotIn` expressions, namespace AND pod
selectors, named ports, a port range, an ipBlock with `except`, egress to the cluster DNS,
the default `https` template open to every namespace). With 25 pods per namespace that is
one policy for every five pods.

Every policy is one the API server accepts (`tests/core/test_benchmark_cluster.py` holds it
to netfence's own validation): an `except` lies inside its `cidr`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

# app -> (container ports as (number, protocol, name), replicas)
_APPS: dict[str, tuple[tuple[tuple[int, str, str], ...], int]] = {
    "web": (((8080, "TCP", "http"), (9100, "TCP", "metrics")), 6),
    "api": (((8443, "TCP", "https"), (9100, "TCP", "metrics")), 6),
    "db": (((5432, "TCP", "pg"),), 3),
    "cache": (((6379, "TCP", "redis"),), 3),
    "worker": (((9100, "TCP", "metrics"),), 4),
    "dns": (((53, "UDP", "dns"), (53, "TCP", "dns-tcp")), 3),
}
_ENVS = ("prod", "staging", "dev")
PODS_PER_NAMESPACE = 25


def manifests(
    *,
    namespaces: int,
    controllers_per_namespace: int = 6,
    pods_per_namespace: int = PODS_PER_NAMESPACE,
    seed: int = 1,
) -> list[Manifest]:
    """Namespaces, Deployments, Pods and NetworkPolicies (five per namespace), in that order."""
    rng = random.Random(seed)
    spaces: list[Manifest] = [
        _namespace(f"team{i % 40}-svc{i}", {"team": f"team{i % 40}", "env": _ENVS[i % 3]})
        for i in range(namespaces - 2)
    ]
    spaces.append(_namespace("kube-system", {}))
    spaces.append(_namespace("monitoring", {"purpose": "monitoring"}))
    controllers: list[Manifest] = []
    pods: list[Manifest] = []
    address = 0
    for space in spaces:
        name = space["metadata"]["name"]
        apps = ["web", "api", "db", "cache", "worker"]
        if name == "kube-system":
            apps = ["dns"]
        elif name == "monitoring":
            apps = ["worker"]
        owned: list[tuple[Manifest, tuple[tuple[int, str, str], ...], int]] = []
        for number in range(controllers_per_namespace):
            app = apps[number % len(apps)]
            ports, replicas = _APPS[app]
            labels = {"app": app, "version": f"v{rng.randint(1, 3)}"}
            labels["tier"] = "front" if app == "web" else "back"
            if app == "dns":
                labels["k8s-app"] = "kube-dns"
            controller = _deployment(name, f"{app}-{number}", labels, ports, replicas)
            controllers.append(controller)
            owned.append((controller, ports, replicas))
        made = 0
        while owned and made < pods_per_namespace:
            for controller, ports, replicas in owned:
                for replica in range(replicas):
                    if made >= pods_per_namespace:
                        break
                    ip = f"10.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"
                    address += 1
                    pods.append(_pod(controller, ports, f"{made}-{replica}", ip))
                    made += 1
    policies: list[Manifest] = []
    for number, space in enumerate(spaces):
        pool = _policies_for(space, number, rng)
        # The baseline pair everywhere, then three of the other kinds, rotating.
        chosen = pool[:2] + [pool[2 + (number + k) % (len(pool) - 2)] for k in range(3)]
        policies.extend(
            _policy(space["metadata"]["name"], policy_name, spec) for spec, policy_name in chosen
        )
    return [*spaces, *controllers, *pods, *policies]


def write(path: Path, documents: list[Manifest]) -> None:
    """One multi-document YAML file, as `kubectl get -o yaml` users keep them."""
    with path.open("w") as out:
        yaml.dump_all(documents, out, Dumper=_Dumper, sort_keys=False)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    def ignore_aliases(self, data: Any) -> bool:
        return True  # every document reads on its own, as kubectl writes them


def _namespace(name: str, labels: dict[str, str]) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _containers(ports: tuple[tuple[int, str, str], ...]) -> list[Manifest]:
    return [
        {
            "name": "app",
            "image": "example/app:1",
            "ports": [
                {"name": name, "containerPort": number, "protocol": protocol}
                for number, protocol, name in ports
            ],
        }
    ]


def _deployment(
    namespace: str,
    name: str,
    labels: dict[str, str],
    ports: tuple[tuple[int, str, str], ...],
    replicas: int,
) -> Manifest:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": labels["app"], "version": labels["version"]}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"containers": _containers(ports)},
            },
        },
    }


def _pod(
    controller: Manifest, ports: tuple[tuple[int, str, str], ...], suffix: str, ip: str
) -> Manifest:
    # Nothing shared between documents, so the YAML holds no anchors and aliases.
    metadata = controller["metadata"]
    template = controller["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{metadata['name']}-{suffix}",
            "namespace": metadata["namespace"],
            "labels": {**template["metadata"]["labels"], "pod-template-hash": "5d8f7c9b4"},
        },
        "spec": {"containers": _containers(ports)},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]},
    }


def _policy(namespace: str, name: str, spec: Manifest) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _policies_for(space: Manifest, number: int, rng: random.Random) -> list[tuple[Manifest, str]]:
    team = space["metadata"]["labels"].get("team", "none")
    neighbour = f"team{(number + 1) % 40}"
    dns_peer = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }
    dns_ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    block = rng.randint(0, 1)
    return [
        ({"podSelector": {}, "policyTypes": ["Ingress"]}, "deny-all-ingress"),
        (
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"podSelector": {}}]}],
            },
            "allow-namespace-communication",
        ),
        (
            {
                "podSelector": {"matchLabels": {"app": "web"}},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {"namespaceSelector": {"matchLabels": {"team": team}}},
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "team", "operator": "In", "values": [neighbour]}
                                    ]
                                },
                                "podSelector": {"matchLabels": {"tier": "front"}},
                            },
                        ],
                        "ports": [{"port": "http"}, {"port": 8000, "endPort": 8100}],
                    }
                ],
            },
            "web-from-team",
        ),
        (
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {"to": [dns_peer], "ports": dns_ports},
                    {
                        "to": [{"podSelector": {"matchLabels": {"app": "db"}}}],
                        "ports": [{"port": "pg"}],
                    },
                    # The except lies inside the cidr, as the API server requires.
                    {
                        "to": [
                            {
                                "ipBlock": {
                                    "cidr": f"10.{block}.0.0/16",
                                    "except": [f"10.{block}.3.0/24"],
                                }
                            }
                        ]
                    },
                ],
            },
            "api-egress",
        ),
        (
            {
                "podSelector": {
                    "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]
                },
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [{"namespaceSelector": {"matchLabels": {"purpose": "monitoring"}}}],
                        "ports": [{"port": "metrics"}],
                    }
                ],
            },
            "allow-monitoring",
        ),
        (
            # The default `https` template attached to the api: open to every namespace.
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "policyTypes": ["Ingress"],
                "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 8443}]}],
            },
            "deploy-api-https",
        ),
        (
            # Everything but the dev environments may reach the cache.
            {
                "podSelector": {"matchLabels": {"app": "cache"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchExpressions": [
                                        {"key": "env", "operator": "NotIn", "values": ["dev"]}
                                    ]
                                }
                            }
                        ],
                        "ports": [{"port": 6379}],
                    }
                ],
            },
            "cache-from-non-dev",
        ),
        (
            # Workers only talk to the database and DNS.
            {
                "podSelector": {"matchLabels": {"app": "worker"}},
                "egress": [
                    {"to": [dns_peer], "ports": dns_ports},
                    {"to": [{"podSelector": {"matchLabels": {"app": "db"}}}]},
                ],
            },
            "worker-egress",
        ),
    ]


def policies(documents: list[Manifest]) -> Iterator[Manifest]:
    return (d for d in documents if d["kind"] == "NetworkPolicy")
