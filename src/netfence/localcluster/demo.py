"""Demo workloads for the local control plane: a few teams, controllers and legacy policies."""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient, codecs

from netfence.core import naming


def _namespace(name: str, *, managed: bool = False) -> dict[str, Any]:
    labels = {"team": name}
    if managed:
        labels[naming.MANAGED_NAMESPACE_LABEL] = naming.MANAGED_NAMESPACE_VALUE
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def _workload(namespace: str, name: str, kind: str, port: int, *templates: str) -> dict[str, Any]:
    labels = {naming.template_label_key(t): naming.TEMPLATE_LABEL_VALUE for t in templates}
    pod: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": name,
                    "image": f"example.org/{name}:1.0",
                    "ports": [{"containerPort": port, "name": "main"}],
                }
            ]
        },
    }
    if kind == "CronJob":
        pod["spec"]["restartPolicy"] = "OnFailure"
        spec: dict[str, Any] = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": pod}}}
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


def _legacy_policy(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": {"app": "api"}},
            "ingress": [
                {
                    "from": [{"namespaceSelector": {"matchLabels": {"team": "web"}}}],
                    "ports": [{"port": 8080}],
                }
            ],
        },
    }


def manifests(netfence_namespace: str) -> list[dict[str, Any]]:
    """A shop: `shop` is managed with templates attached, `payments` still has hand-made
    policies waiting to be opted in, `monitoring` is left alone."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": netfence_namespace}},
        _namespace("shop", managed=True),
        _namespace("payments"),
        _namespace("monitoring"),
        _workload("shop", "frontend", "Deployment", 8080, "http", "dns"),
        _workload("shop", "api", "Deployment", 8080, "dns", "postgres"),
        _workload("shop", "db", "StatefulSet", 5432),
        _workload("shop", "report", "CronJob", 9000, "dns"),
        _workload("payments", "api", "Deployment", 8080),
        _workload("payments", "ledger", "StatefulSet", 5432),
        _legacy_policy("payments", "allow-web-to-api"),
        _legacy_policy("payments", "legacy-ledger"),
        _workload("monitoring", "prometheus", "Deployment", 9090),
        _workload("monitoring", "node-exporter", "DaemonSet", 9100),
    ]


async def seed(client: AsyncClient, *, netfence_namespace: str) -> int:
    """Create the demo objects that are missing; returns how many were created."""
    created = 0
    for manifest in manifests(netfence_namespace):
        try:
            await client.create(codecs.from_dict(manifest))
            created += 1
        except ApiError as e:
            if e.status.code != 409:
                raise
    return created
