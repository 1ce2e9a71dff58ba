"""The lab on the local cluster: an export's objects, with real pods on a node of their own.

:func:`up` starts (or reuses) the lab's dataplane, a node ``netfence-lab`` with pod CIDR
10.247.0.0/16 run from CONTROL_PLANE_DIR/lab, then creates what
:func:`netfence.core.labs.plan` made of the documents and waits until every pod runs.
It refuses before writing anything when a namespace it would make exists and is not the
lab's, and removes what it created when a create fails, so a lab is never half made.
:func:`down` removes every object labelled ``netfence.io/lab`` (and the lab's
namespaces), then stops the lab's dataplane.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightkube import ApiError, Client, KubeConfig, codecs
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.batch_v1 import CronJob
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import labs
from netfence.localcluster import dataplane
from netfence.localcluster.running import ControlPlane

NODE = "netfence-lab"
POD_CIDR = "10.247.0.0/16"
_SELECTOR: dict[str, Any] = {labs.LAB_LABEL: labs.LAB_VALUE}
# What `down` removes, in this order (the pods before their controllers).
_NAMESPACED: tuple[Any, ...] = (
    NetworkPolicy, Pod, ConfigMap, Deployment, StatefulSet, DaemonSet, CronJob,
)  # fmt: skip
# Per namespace, the object the lab's pods name as their controller, so that no
# controller of the export adopts them (a DaemonSet would, and delete them from a node
# its nodeSelector does not match).
OWNER = "netfence-lab"


class LabError(RuntimeError):
    """The lab could not be made or removed as asked; the message says why."""


@dataclass(frozen=True)
class LabUp:
    plan: labs.LabPlan
    pods: int
    seconds: float
    node: dataplane.Dataplane


def directory_of(control_plane: ControlPlane) -> Path:
    return control_plane.dir / "lab"


def up(
    control_plane: ControlPlane, documents: Iterable[object], *, timeout: float = 120.0
) -> LabUp:
    """Load the documents onto the local cluster as a lab (see the module's docstring)."""
    began = time.monotonic()
    node = dataplane.start(
        control_plane, directory_of(control_plane), node_name=NODE, pod_cidr=POD_CIDR
    )
    plan = labs.plan(documents, node=node.node_name)
    client = Client(KubeConfig.from_file(control_plane.kubeconfig), field_manager="netfence-lab")
    try:
        _refuse_taken(client, plan)
        created: list[dict[str, Any]] = []
        try:
            for manifest in plan.objects():
                if manifest["kind"] == "Pod":
                    manifest = _owned(client, manifest, created)
                if _create(client, manifest):
                    created.append(manifest)
        except ApiError as e:
            for made in reversed(created):
                _delete(client, made)
            what = f"{manifest['kind']} {manifest['metadata'].get('namespace', '')}/{manifest['metadata']['name']}"
            raise LabError(
                f"the API server refused {what}: {e.status.message}; nothing of the lab was left"
            ) from e
        _wait_running(client, plan, timeout)
    finally:
        client.close()
    return LabUp(plan, len(plan.pods), time.monotonic() - began, node)


def down(control_plane: ControlPlane) -> int:
    """Remove every object of the lab and stop its dataplane; how many objects went."""
    client = Client(KubeConfig.from_file(control_plane.kubeconfig), field_manager="netfence-lab")
    removed = 0
    try:
        for kind in _NAMESPACED:
            for found in client.list(kind, namespace="*", labels=_SELECTOR):
                meta: Any = found.metadata
                assert meta is not None and meta.name is not None
                try:
                    if kind is Pod:
                        client.delete(Pod, meta.name, namespace=meta.namespace, grace_period=0)
                    else:
                        client.delete(kind, meta.name, namespace=meta.namespace)
                    removed += 1
                except ApiError as e:
                    if e.status.code != 404:
                        raise
        for space in client.list(Namespace, labels=_SELECTOR):
            assert space.metadata is not None and space.metadata.name is not None
            try:
                client.delete(Namespace, space.metadata.name)
                removed += 1
            except ApiError as e:
                if e.status.code != 404:
                    raise
    finally:
        client.close()
    dataplane.stop(directory_of(control_plane))
    return removed


def _refuse_taken(client: Client, plan: labs.LabPlan) -> None:
    taken = []
    for manifest in plan.namespaces:
        name = manifest["metadata"]["name"]
        try:
            found = client.get(Namespace, name)
        except ApiError as e:
            if e.status.code == 404:
                continue
            raise
        labels = (found.metadata.labels if found.metadata else None) or {}
        if labels.get(labs.LAB_LABEL) != labs.LAB_VALUE:
            taken.append(name)
        elif found.status is not None and found.status.phase == "Terminating":
            raise LabError(
                f"namespace {name} of an earlier lab is still being deleted: try again once "
                "it is gone (kubectl get namespace " + name + "); nothing was written"
            )
    if taken:
        raise LabError(
            f"namespace{'s' if len(taken) > 1 else ''} {', '.join(taken)} already exist{'s' if len(taken) == 1 else ''} "
            "and not as the lab's: the lab would mix its objects with others. Delete "
            f"{'them' if len(taken) > 1 else 'it'}, or use another control plane (--dir); nothing was written"
        )


def _owned(client: Client, pod: dict[str, Any], created: list[dict[str, Any]]) -> dict[str, Any]:
    """The pod with the namespace's lab owner as its controller (made on first use)."""
    namespace = pod["metadata"]["namespace"]
    owner = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": OWNER, "namespace": namespace, "labels": dict(_SELECTOR)},
        "data": {"why": "owns the lab's pods, so that no controller of the export adopts them"},
    }
    if _create(client, owner):
        created.append(owner)
    found = client.get(ConfigMap, OWNER, namespace=namespace)
    meta: ObjectMeta | None = found.metadata
    assert meta is not None and meta.uid is not None
    reference = {
        "apiVersion": "v1", "kind": "ConfigMap", "name": OWNER, "uid": meta.uid,
        "controller": True, "blockOwnerDeletion": False,
    }  # fmt: skip
    return {**pod, "metadata": {**pod["metadata"], "ownerReferences": [reference]}}


def _create(client: Client, manifest: dict[str, Any]) -> bool:
    """Create one object; False when the lab's own is already there (lab up again)."""
    try:
        client.create(codecs.from_dict(manifest))
    except ApiError as e:
        if e.status.code == 409:
            return False
        raise
    return True


def _delete(client: Client, manifest: dict[str, Any]) -> None:
    kind: Any = type(codecs.from_dict(manifest))
    meta = manifest["metadata"]
    try:
        client.delete(kind, meta["name"], namespace=meta.get("namespace"))
    except ApiError as e:
        if e.status.code != 404:
            raise


def _wait_running(client: Client, plan: labs.LabPlan, timeout: float) -> None:
    wanted = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in plan.pods}
    deadline = time.monotonic() + timeout
    while True:
        running = {
            (p.metadata.namespace, p.metadata.name)
            for p in client.list(Pod, namespace="*", labels=_SELECTOR)
            if p.metadata is not None
            and p.status is not None
            and p.status.phase == "Running"
            and p.status.podIP
        }
        missing = wanted - running
        if not missing:
            return
        if time.monotonic() > deadline:
            shown = ", ".join(f"{ns}/{name}" for ns, name in sorted(missing)[:5])
            raise LabError(
                f"{len(missing)} pods of the lab do not run after {timeout:g}s: {shown} "
                "(netfence lab down removes what was made)"
            )
        time.sleep(0.2)
