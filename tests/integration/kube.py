"""Small helpers for integration tests: objects to create and conditions to wait for."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lightkube import ApiError, AsyncClient, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming

T = TypeVar("T")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll until `check` returns a truthy value; fail with the last value or error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = await check()
            if value:
                return value
            last = value
        except AssertionError as e:
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last: {last!r}")
        await asyncio.sleep(interval)


async def create_namespace(client: AsyncClient, name: str, *, managed: bool = False) -> str:
    labels = {naming.MANAGED_NAMESPACE_LABEL: "true"} if managed else {}
    await client.create(Namespace(metadata=ObjectMeta(name=name, labels=labels)))
    return name


async def set_namespace_label(client: AsyncClient, name: str, value: str | None) -> None:
    await client.patch(
        Namespace, name, {"metadata": {"labels": {naming.MANAGED_NAMESPACE_LABEL: value}}}
    )


def deployment(
    namespace: str,
    name: str,
    *,
    templates: tuple[str, ...] = (),
    kind: str = "Deployment",
    replicas: int = 0,
) -> dict[str, Any]:
    """A controller; with no replicas by default: the control plane runs a controller
    manager, and these tests are about the controllers, not about pods."""
    labels = {naming.template_label_key(t): "true" for t in templates}
    pod: dict[str, Any] = {
        "metadata": {"labels": {"app": name}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx:1.27",
                    "ports": [{"containerPort": 80, "name": "http"}],
                }
            ]
        },
    }
    spec: dict[str, Any]
    if kind == "CronJob":
        api = "batch/v1"
        spec = {
            "schedule": "0 * * * *",
            "jobTemplate": {
                "spec": {"template": {**pod, "spec": {**pod["spec"], "restartPolicy": "OnFailure"}}}
            },
        }
    else:
        api = "apps/v1"
        spec = {"selector": {"matchLabels": {"app": name}}, "template": pod}
        if kind in ("Deployment", "StatefulSet"):
            spec["replicas"] = replicas
        if kind == "StatefulSet":
            spec["serviceName"] = name
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": spec,
    }


async def create(client: AsyncClient, manifest: dict[str, Any]) -> Any:
    return await client.create(codecs.from_dict(manifest))


def foreign_policy(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "a"}},
        "spec": {
            "podSelector": {"matchLabels": {"app": "legacy"}},
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 8443}]}],
        },
    }


async def policy_names(client: AsyncClient, namespace: str) -> set[str]:
    return {
        p.metadata.name
        async for p in client.list(NetworkPolicy, namespace=namespace)
        if p.metadata and p.metadata.name
    }


async def get_policy(client: AsyncClient, namespace: str, name: str) -> NetworkPolicy | None:
    try:
        return await client.get(NetworkPolicy, name, namespace=namespace)
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise


async def events(client: AsyncClient, namespace: str) -> list[Event]:
    return [e async for e in client.list(Event, namespace=namespace)]


async def event_reasons(client: AsyncClient, namespace: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in await events(client, namespace):
        found.setdefault(event.reason or "", []).append(event.message or "")
    return found


async def backup(client: AsyncClient, namespace: str, netfence_ns: str) -> ConfigMap | None:
    try:
        return await client.get(
            ConfigMap, naming.backup_configmap_name(namespace), namespace=netfence_ns
        )
    except ApiError as e:
        if e.status.code == 404:
            return None
        raise


async def wait_for_policy(
    client: AsyncClient, namespace: str, name: str, *, timeout: float = 10.0
) -> NetworkPolicy:
    policy = await eventually(lambda: get_policy(client, namespace, name), timeout=timeout)
    assert policy is not None
    return policy
