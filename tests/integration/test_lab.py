"""`netfence lab up|down` on the local cluster: an export round trip, the docs' example in
the lab, and probe on both.

The lab runs its own node (netfence-lab, 10.247.0.0/16, from CONTROL_PLANE_DIR/lab); the
commands run as a user runs them. `pytest -s` prints the figures (docs/benchmarks.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Pod
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import labs
from netfence.localcluster import ControlPlane, dataplane, enforcer
from netfence.localcluster import lab as lab_module
from tests.integration import kube

pytestmark = pytest.mark.timeout(600 if enforcer.needs_build() else 300)

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "shop.yaml"
NETFENCE = [sys.executable, "-m", "netfence"]


def netfence(control_plane: ControlPlane, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "KUBECONFIG": str(control_plane.kubeconfig),
    }
    return subprocess.run(
        [*NETFENCE, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture
def lab(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    if dataplane.missing_requirements():
        pytest.skip("this machine cannot run the dataplane")
    try:
        yield control_plane
    finally:
        lab_module.down(control_plane)


def _export(items: list[Any]) -> dict[str, Any]:
    """What `kubectl get ... -o yaml` prints: a List of the objects as the API serves them."""
    return {"apiVersion": "v1", "kind": "List", "items": items}


async def _served(admin: AsyncClient, ns: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [(await admin.get(Namespace, ns)).to_dict()]
    kinds: tuple[Any, ...] = (Deployment, Pod, NetworkPolicy)
    for kind in kinds:
        async for item in admin.list(kind, namespace=ns):
            found.append({"apiVersion": item.apiVersion, "kind": item.kind, **item.to_dict()})
    return found


async def test_an_export_round_trips_through_the_lab_and_probes_as_predicted(
    admin: AsyncClient, lab: ControlPlane, tmp_path: Path
) -> None:
    ns = kube.unique("exported")
    await kube.create(
        admin,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {"team": "shop"}},
        },
    )
    web = kube.deployment(ns, "web", replicas=0)
    web["spec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": 8080, "name": "http"}
    ]
    await kube.create(admin, web)
    db = kube.deployment(ns, "db", replicas=0)
    db["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 5432}]
    await kube.create(admin, db)
    db_policy: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "db-from-web", "namespace": ns},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "web"}}},
                        {"ipBlock": {"cidr": "10.9.0.0/24"}},
                    ]
                }
            ],
        },
    }
    await kube.create(admin, db_policy)
    exported = await _served(admin, ns)
    # A pod of the web Deployment as the original cluster ran it, at an address the
    # policy's ipBlock names: the lab leaves it out (its own pod stands for it) and warns.
    exported.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web-6d4b9c-x2x7q",
                "namespace": ns,
                "labels": {"app": "web"},
                "uid": "0c4f", "resourceVersion": "1",
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d4b9c", "uid": "1"}],
            },
            "spec": {"containers": [{"name": "web", "image": "web", "ports": [{"containerPort": 8080}]}], "nodeName": "node-7"},
            "status": {"phase": "Running", "podIP": "10.9.0.14", "hostIP": "192.168.5.7"},
        }
    )  # fmt: skip
    # A pod no controller owns is copied, reduced to its labels, containers and ports.
    exported.append(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "client", "namespace": ns, "labels": {"app": "client"}, "uid": "9"},
            "spec": {"containers": [{"name": "c", "image": "c", "env": [{"name": "X", "value": "1"}]}], "serviceAccountName": "gone"},
            "status": {"phase": "Running", "podIP": "10.9.3.3"},
        }
    )  # fmt: skip
    await admin.delete(Namespace, ns)

    async def gone() -> bool:
        return ns not in {n.metadata.name async for n in admin.list(Namespace) if n.metadata}

    await kube.eventually(gone, timeout=60)
    export = tmp_path / "export.yaml"
    export.write_text(yaml.safe_dump(_export(exported)))

    began = time.monotonic()
    result = netfence(lab, "lab", "up", "-f", str(export), "--dir", str(lab.dir))
    up_seconds = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert (
        "Lab up" in result.stdout
        and "2 controllers, 3 running pods, 1 NetworkPolicies" in result.stdout
    )
    assert (
        f"warning: NetworkPolicy {ns}/db-from-web spec.ingress[0].from[1].ipBlock 10.9.0.0/24 "
        f"named addresses of the original cluster ({ns}/web-6d4b9c-x2x7q)"
    ) in " ".join(result.stderr.split())

    # What the lab made is what was exported, minus what the server set, plus its label.
    space = await admin.get(Namespace, ns)
    assert space.metadata is not None and space.metadata.labels is not None
    assert space.metadata.labels["team"] == "shop"
    assert space.metadata.labels[labs.LAB_LABEL] == "true"
    made = await admin.get(NetworkPolicy, "db-from-web", namespace=ns)
    assert made.to_dict()["spec"] == {**db_policy["spec"], "policyTypes": ["Ingress"]}
    deployment = await admin.get(Deployment, "web", namespace=ns)
    assert deployment.spec is not None and deployment.spec.replicas == 0
    pods = {
        p.metadata.name: p for p in [x async for x in admin.list(Pod, namespace=ns)] if p.metadata
    }
    assert set(pods) == {"web-lab-deployment", "db-lab-deployment", "client"}
    assert all(p.status is not None and p.status.phase == "Running" for p in pods.values())

    # The lab works like any cluster: probe agrees with the prediction.
    probed = netfence(lab, "probe", "-n", ns, "-o", "json", "--fail-on-disagreement")
    assert probed.returncode == 0, probed.stderr
    summary = json.loads(probed.stdout)["summary"]
    assert summary["disagree"] == 0 and summary["dropped"] > 0

    began = time.monotonic()
    down = netfence(lab, "lab", "down", "--dir", str(lab.dir))
    down_seconds = time.monotonic() - began
    assert down.returncode == 0, down.stderr
    assert "Lab down" in down.stdout
    assert [p async for p in admin.list(Pod, namespace=ns)] == []
    assert not dataplane.is_running(lab_module.directory_of(lab))
    print(f"\nlab round trip: up {up_seconds:.1f}s, down {down_seconds:.1f}s (2 controllers)")  # noqa: T201


def _renamed(documents: list[Any], suffix: str) -> list[Any]:
    """The example with its namespaces renamed, so the test never meets fixed names."""
    text = yaml.safe_dump_all(documents)
    for name in ("shop", "monitoring"):
        text = text.replace(f"namespace: {name}\n", f"namespace: {name}-{suffix}\n")
        text = text.replace(f"name: {name}\n", f"name: {name}-{suffix}\n")
    return list(yaml.safe_load_all(text))


async def test_the_docs_example_runs_in_the_lab_as_predicted(
    admin: AsyncClient, lab: ControlPlane, tmp_path: Path
) -> None:
    suffix = kube.unique("lab").rsplit("-", 1)[1]
    documents = _renamed([d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d], suffix)
    example = tmp_path / "shop.yaml"
    example.write_text(yaml.safe_dump_all(documents))
    result = netfence(lab, "lab", "up", "-f", str(example), "--dir", str(lab.dir))
    assert result.returncode == 0, result.stderr
    assert "2 namespaces, 0 controllers, 4 running pods, 5 NetworkPolicies" in result.stdout
    spaces = [f"shop-{suffix}", f"monitoring-{suffix}"]
    probed = netfence(
        lab,
        "probe",
        *(a for s in spaces for a in ("-n", s)),
        "-o",
        "json",
        "--fail-on-disagreement",
    )
    assert probed.returncode == 0, probed.stderr + probed.stdout[-2000:]
    report = json.loads(probed.stdout)
    offline = netfence(lab, "connectivity", "-f", str(EXAMPLE), "-o", "json")
    allowed_offline = sum(v["allowed"] for v in json.loads(offline.stdout)["verdicts"])
    # The same verdicts as the files predict, now on real packets.
    assert report["summary"]["probed"] == len(json.loads(offline.stdout)["verdicts"])
    assert report["summary"]["connected"] + report["summary"]["refused"] == allowed_offline

    again = netfence(lab, "lab", "up", "-f", str(example), "--dir", str(lab.dir))
    assert again.returncode == 0, again.stderr  # the lab's own objects: up again changes nothing


async def test_lab_up_refuses_a_namespace_that_is_not_the_labs_and_writes_nothing(
    admin: AsyncClient, lab: ControlPlane, tmp_path: Path
) -> None:
    ns = await kube.create_namespace(admin, kube.unique("taken"))
    export = tmp_path / "export.yaml"
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": ns},
        "spec": {"podSelector": {}},
    }
    export.write_text(
        yaml.safe_dump_all(
            [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}, policy]
        )
    )
    result = netfence(lab, "lab", "up", "-f", str(export), "--dir", str(lab.dir))
    assert result.returncode == 1
    assert f"namespace {ns} already exists and not as the lab's" in " ".join(result.stderr.split())
    assert [p async for p in admin.list(NetworkPolicy, namespace=ns)] == []
    await admin.delete(Namespace, ns)


def _big_export(suffix: str, namespaces: int = 10, per_namespace: int = 20) -> list[Any]:
    """`namespaces` of `per_namespace` Deployments declaring 8080; every other namespace
    is closed to the rest (deny-all-ingress and allow-namespace-communication)."""
    items: list[Any] = []
    for n in range(namespaces):
        ns = f"big{n}-{suffix}"
        items.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for i in range(per_namespace):
            made = kube.deployment(ns, f"app{i:02d}", replicas=3)
            made["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
            items.append(made)
        if n % 2 == 0:
            for name, spec in (
                ("deny-all-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
                (
                    "allow-namespace-communication",
                    {"podSelector": {}, "ingress": [{"from": [{"podSelector": {}}]}]},
                ),
            ):
                items.append(
                    {
                        "apiVersion": "networking.k8s.io/v1",
                        "kind": "NetworkPolicy",
                        "metadata": {"name": name, "namespace": ns},
                        "spec": spec,
                    }
                )
    return items


async def test_figures_of_a_200_pod_lab(lab: ControlPlane, tmp_path: Path) -> None:
    suffix = kube.unique("x").rsplit("-", 1)[1]
    export = tmp_path / "big.yaml"
    export.write_text(yaml.safe_dump(_export(_big_export(suffix))))
    began = time.monotonic()
    result = netfence(lab, "lab", "up", "-f", str(export), "--dir", str(lab.dir))
    up_seconds = time.monotonic() - began
    assert result.returncode == 0, result.stderr
    assert "200 controllers, 200 running pods" in result.stdout
    spaces = [a for n in range(10) for a in ("-n", f"big{n}-{suffix}")]
    figures = []
    # A dropped connection costs the timeout: 18,000 of them at 1 s, 64 at once, would take
    # almost five minutes; 250 ms, 256 at once, is what a lab this size wants.
    for parallel, timeout in (("256", "250ms"),):
        began = time.monotonic()
        probed = netfence(
            lab, "probe", *spaces, "-o", "json", "--parallel", parallel, "--timeout", timeout
        )
        wall = time.monotonic() - began
        assert probed.returncode == 0, probed.stderr
        summary = json.loads(probed.stdout)["summary"]
        assert summary["probed"] == 200 * 200 and summary["disagree"] == 0, summary
        figures.append(
            f"{parallel} at once, timeout {timeout}: {wall:.1f}s wall time, "
            f"{summary['connectionsPerSecond']:.0f} connections/s ({summary['connected']} "
            f"connected, {summary['dropped']} dropped)"
        )
    began = time.monotonic()
    down = netfence(lab, "lab", "down", "--dir", str(lab.dir))
    down_seconds = time.monotonic() - began
    assert down.returncode == 0, down.stderr
    print(  # noqa: T201 - the figures of this run, for docs/benchmarks.md
        f"\n200-pod lab: up {up_seconds:.1f}s, down {down_seconds:.1f}s; probe of 40,000 "
        "connections: " + "; ".join(figures)
    )
