"""Connectivity analysis against a real kube-apiserver.

The same objects give the same verdicts whether they are read from the cluster or from
files; dry runs of enable, attach and detach show what would change and change nothing.
The control plane has no kubelet, so pods stay Pending; their IPs are set through the
status subresource, as a kubelet would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod

from netfence.controller.running import Controller
from netfence.core import naming
from netfence.localcluster import ControlPlane, kubeconfig_for_user
from tests.integration import kube

NETFENCE = [sys.executable, "-m", "netfence"]


def netfence(kubeconfig: Path | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("KUBECONFIG", None)
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    return subprocess.run(
        [*NETFENCE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def pod(ns: str, name: str, labels: dict[str, str], ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "app", "ports": ports}]},
    }


def policy(ns: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def world(shop: str, web: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Manifests exercising most rules, and the pod IPs a kubelet would report."""
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": shop, "labels": {"team": "shop"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": web, "labels": {"team": "web"}},
        },
    ]
    pods = [
        pod(shop, "db", {"app": "db"}, [{"containerPort": 5432, "name": "pg"}]),
        pod(shop, "api", {"app": "api"}, [{"containerPort": 8443, "name": "https"}]),
        pod(web, "front", {"app": "front"}, [{"containerPort": 8080, "name": "http"}]),
        pod(
            web,
            "batch",
            {"app": "batch"},
            [{"containerPort": 53, "name": "dns", "protocol": "UDP"}],
        ),
    ]
    ips = {
        f"{shop}/db": "10.77.0.1",
        f"{shop}/api": "10.77.0.2",
        f"{web}/front": "10.78.0.1",
        f"{web}/batch": "10.78.0.2",
    }
    deployments = [kube.deployment(web, "front"), kube.deployment(shop, "api")]
    policies = [
        policy(shop, "deny-all-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy(
            shop,
            "db-from-api",
            {
                "podSelector": {"matchLabels": {"app": "db"}},
                "ingress": [
                    {
                        "from": [{"podSelector": {"matchLabels": {"app": "api"}}}],
                        "ports": [{"port": "pg"}],
                    }
                ],
            },
        ),
        policy(
            shop,
            "api-from-web-team",
            {
                "podSelector": {"matchLabels": {"app": "api"}},
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {"matchLabels": {"team": "web"}},
                                "podSelector": {
                                    "matchExpressions": [
                                        {"key": "app", "operator": "In", "values": ["front"]}
                                    ]
                                },
                            },
                            {"ipBlock": {"cidr": "10.78.0.0/16", "except": ["10.78.0.1/32"]}},
                        ],
                        "ports": [{"port": 8000, "endPort": 9000}],
                    }
                ],
            },
        ),
        policy(
            web,
            "batch-egress",
            {
                "podSelector": {"matchLabels": {"app": "batch"}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": shop}
                                }
                            }
                        ],
                        "ports": [{"port": "https"}],
                    }
                ],
            },
        ),
    ]
    return [*namespaces, *pods, *deployments, *policies], ips


@pytest.fixture(scope="module")
async def mirrored(
    admin: AsyncClient, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    """The world created in the cluster and written to a file: (file, its namespaces)."""
    shop, web = kube.unique("conn-shop"), kube.unique("conn-web")
    documents, ips = world(shop, web)
    for document in documents:
        await kube.create(admin, document)
    for ref, ip in ips.items():
        ns, name = ref.split("/")
        await admin.patch(
            Pod.Status, name, {"status": {"podIP": ip, "podIPs": [{"ip": ip}]}}, namespace=ns
        )
    # The file holds what the cluster holds, pod IPs included, as `kubectl get -o yaml` would.
    for document in documents:
        if document["kind"] == "Pod":
            ip = ips[f"{document['metadata']['namespace']}/{document['metadata']['name']}"]
            document["status"] = {"podIP": ip, "podIPs": [{"ip": ip}]}
    path = tmp_path_factory.mktemp("connectivity") / "world.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path, [shop, web]


def verdicts(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    found: list[dict[str, Any]] = json.loads(result.stdout)["verdicts"]
    return found


@pytest.mark.parametrize("level", [[], ["--workloads"]], ids=["pods", "controllers"])
def test_the_live_cluster_and_its_manifests_give_the_same_verdicts(
    control_plane: ControlPlane, mirrored: tuple[Path, list[str]], level: list[str]
) -> None:
    path, namespaces = mirrored
    narrow = [arg for ns in namespaces for arg in ("-n", ns)]
    live = verdicts(
        netfence(control_plane.kubeconfig, "connectivity", *level, *narrow, "-o", "json")
    )
    offline = verdicts(
        netfence(None, "connectivity", *level, "--from-files", str(path), "-o", "json")
    )
    assert live == offline
    # Pods: 4 sources x 4 declared destination ports; controllers: 2 x 2, one port each.
    assert len(live) == (16 if not level else 4)
    assert any(v["allowed"] for v in live)
    assert not all(v["allowed"] for v in live)


def test_the_live_verdicts_follow_the_policies(
    control_plane: ControlPlane, mirrored: tuple[Path, list[str]]
) -> None:
    _, (shop, web) = mirrored
    narrow = ["-n", shop, "-n", web]
    live = verdicts(netfence(control_plane.kubeconfig, "connectivity", *narrow, "-o", "json"))
    allowed = {(v["source"], v["destination"], v["port"]) for v in live if v["allowed"]}
    assert allowed == {
        (f"{shop}/api", f"{shop}/db", 5432),  # named port pg, podSelector in the same namespace
        (f"{web}/front", f"{shop}/api", 8443),  # namespace AND pod selector, port range
        # batch: its IP is in the ipBlock, but its egress allows only the named port https
        # in the shop namespace, and the api declares https: allowed.
        (f"{web}/batch", f"{shop}/api", 8443),
        (f"{shop}/api", f"{web}/front", 8080),
        (f"{shop}/db", f"{web}/front", 8080),
        (f"{shop}/api", f"{web}/batch", 53),
        (f"{shop}/db", f"{web}/batch", 53),
        (f"{web}/front", f"{web}/batch", 53),
        # A pod always reaches itself, whatever its policies say.
        (f"{shop}/api", f"{shop}/api", 8443),
        (f"{shop}/db", f"{shop}/db", 5432),
        (f"{web}/front", f"{web}/front", 8080),
        (f"{web}/batch", f"{web}/batch", 53),
    }


def test_explain_reads_the_same_from_the_cluster_and_from_files(
    control_plane: ControlPlane, mirrored: tuple[Path, list[str]]
) -> None:
    path, (shop, web) = mirrored
    args = ["explain", f"{web}/front", f"{shop}/db", "--port", "pg", "-o", "json"]
    live = netfence(control_plane.kubeconfig, *args)
    offline = netfence(None, *args, "--from-files", str(path))
    assert live.returncode == 0, live.stderr
    assert json.loads(live.stdout) == json.loads(offline.stdout)
    words = netfence(control_plane.kubeconfig, *args[:-2])
    assert f"{web}/front → {shop}/db on 5432/TCP: denied" in words.stdout
    assert f"{shop}/db-from-api ingress[0]: the port matches" in words.stdout


def test_check_finds_no_enforcing_plugin_on_the_local_control_plane(
    control_plane: ControlPlane, mirrored: tuple[Path, list[str]]
) -> None:
    result = netfence(control_plane.kubeconfig, "check", "-o", "json", "--fail-on-findings")
    assert result.returncode == 3, result.stderr
    kinds = {f["kind"] for f in json.loads(result.stdout)["findings"]}
    assert "no-networkpolicy-enforcing-plugin" in kinds
    _, (_, web) = mirrored
    findings = json.loads(result.stdout)["findings"]
    (dns,) = [
        f
        for f in findings
        if f["kind"] == "egress-without-dns" and f"NetworkPolicy {web}/batch-egress" in f["objects"]
    ]
    assert f"{web}/batch" in dns["objects"]


# --- dry runs -------------------------------------------------------------------------


async def test_enable_dry_run_lists_the_connections_it_would_cut(
    control_plane: ControlPlane, admin: AsyncClient
) -> None:
    target = await kube.create_namespace(admin, kube.unique("conn-enable"))
    # Other tests' controllers are in the cluster too; the table lists the first 20
    # connections by destination and source, so this source is named to sort first.
    other = await kube.create_namespace(admin, kube.unique("a0-client"))
    await kube.create(admin, kube.deployment(target, "web"))
    await kube.create(admin, kube.deployment(other, "client"))

    table = netfence(control_plane.kubeconfig, "enable", target, "--dry-run")
    assert table.returncode == 0, table.stderr
    assert "newly denied" in table.stdout
    assert f"{other}/Deployment/client → {target}/Deployment/web on 80/TCP" in table.stdout
    assert "Dry run: nothing was changed." in table.stdout

    data = json.loads(
        netfence(control_plane.kubeconfig, "enable", target, "--dry-run", "-o", "json").stdout
    )
    assert {
        "source": f"{other}/Deployment/client",
        "destination": f"{target}/Deployment/web",
        "port": 80,
        "protocol": "TCP",
    } in data["impact"]["newlyDenied"]
    assert data["impact"]["newlyAllowed"] == []
    assert await kube.policy_names(admin, target) == set()


async def test_attach_and_detach_dry_runs_show_the_policy_and_its_effect(
    control_plane: ControlPlane, admin: AsyncClient, controller: Controller
) -> None:
    managed = await kube.create_namespace(admin, kube.unique("conn-managed"), managed=True)
    # Named to sort first among the sources the table lists (see the enable test).
    other = await kube.create_namespace(admin, kube.unique("a0-caller"))
    api = kube.deployment(managed, "api")
    api["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 443}]
    await kube.create(admin, api)
    await kube.create(admin, kube.deployment(other, "caller"))
    await kube.wait_for_policy(admin, managed, naming.ALLOW_NAMESPACE_COMMUNICATION)

    attach = netfence(
        control_plane.kubeconfig, "attach", "deployment/api", "https", "-n", managed, "--dry-run"
    )
    assert attach.returncode == 0, attach.stderr
    assert f"create NetworkPolicy {managed}/deploy-api-https with spec:" in attach.stdout
    assert "port: 443" in attach.stdout
    assert "newly allowed (" in attach.stdout
    assert f"{other}/Deployment/caller → {managed}/Deployment/api on 443/TCP" in attach.stdout
    assert "deploy-api-https" not in await kube.policy_names(admin, managed)

    attached = netfence(
        control_plane.kubeconfig, "attach", "deployment/api", "https", "-n", managed, "--wait", "0"
    )
    assert attached.returncode == 0, attached.stderr
    await kube.wait_for_policy(admin, managed, "deploy-api-https")

    detach = netfence(
        control_plane.kubeconfig, "detach", "deployment/api", "https", "-n", managed, "--dry-run"
    )
    assert detach.returncode == 0, detach.stderr
    assert f"delete NetworkPolicy {managed}/deploy-api-https" in detach.stdout
    assert "newly denied (" in detach.stdout
    assert f"{other}/Deployment/caller → {managed}/Deployment/api on 443/TCP" in detach.stdout
    assert "deploy-api-https" in await kube.policy_names(admin, managed)
    still = await admin.get(Deployment, "api", namespace=managed)
    assert still.metadata is not None and still.metadata.labels is not None
    assert naming.template_label_key("https") in still.metadata.labels


async def test_a_user_without_read_access_is_told_what_is_missing(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    # Async although it awaits nothing: when a module's last test is synchronous,
    # pytest-asyncio finalises the module's in-loop controller fixture outside the session
    # loop and the teardown hangs until the test timeout.
    alice = kubeconfig_for_user(control_plane, "alice", tmp_path / "alice.kubeconfig")
    result = netfence(alice, "connectivity")
    assert result.returncode == 1
    assert "connectivity analysis needs read access to them cluster-wide" in result.stderr
