"""Reading manifests the way `kubectl` writes them into what connectivity analysis needs."""

from __future__ import annotations

from typing import Any

import pytest

from netfence.core import manifests
from netfence.core.endpoints import ContainerPort
from netfence.core.objects import WorkloadKind


def read(*documents: Any) -> manifests.Inventory:
    return manifests.read((f"doc{i}", d) for i, d in enumerate(documents))


def pod(name: str, **extra: Any) -> dict[str, Any]:
    spec = extra.pop("spec", {"containers": [{"name": "c"}]})
    return {"kind": "Pod", "metadata": {"name": name, **extra}, "spec": spec}


def test_a_list_is_read_item_by_item_and_unknown_kinds_are_counted() -> None:
    found = read(
        {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                pod("a", namespace="x"),
                {"kind": "Service", "metadata": {"name": "s", "namespace": "x"}},
                {"kind": "Service", "metadata": {"name": "t", "namespace": "x"}},
            ],
        },
        None,  # an empty document after a trailing ---
    )
    assert [p.key for p in found.pods] == ["x/a"]
    assert found.skipped == {"Service": 2}


def test_an_object_without_namespace_lands_in_default() -> None:
    assert [p.key for p in read(pod("a")).pods] == ["default/a"]


def test_finished_and_host_network_pods_are_left_out() -> None:
    found = read(
        {**pod("done"), "status": {"phase": "Succeeded"}},
        pod("host", spec={"hostNetwork": True, "containers": []}),
        {**pod("pending"), "status": {"phase": "Pending"}},
    )
    assert [p.name for p in found.pods] == ["pending"]


def test_pod_ips_and_ports_of_containers_and_sidecars_are_read() -> None:
    (found,) = read(
        {
            **pod(
                "a",
                namespace="x",
                spec={
                    "containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}],
                    "initContainers": [
                        {
                            "name": "proxy",
                            "restartPolicy": "Always",
                            "ports": [{"containerPort": 15001, "protocol": "UDP"}],
                        },
                        {"name": "setup", "ports": [{"containerPort": 9999}]},
                    ],
                },
            ),
            "status": {"podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}, {"ip": "fd00::1"}]},
        }
    ).pods
    assert found.ips == ("10.0.0.1", "fd00::1")
    assert found.ports == (ContainerPort(80, "TCP", "http"), ContainerPort(15001, "UDP"))


def test_controllers_stand_for_their_pods_by_template() -> None:
    found = read(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "report", "namespace": "x"},
            "spec": {
                "jobTemplate": {
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app": "report"}},
                            "spec": {
                                "containers": [{"name": "r", "ports": [{"containerPort": 8080}]}]
                            },
                        }
                    }
                }
            },
        }
    )
    (endpoint,) = found.controllers
    assert endpoint.key == "x/CronJob/report"
    assert endpoint.labels == {"app": "report"}
    assert endpoint.ips == ()
    (workload,) = found.workloads
    assert workload.kind is WorkloadKind.CRONJOB
    assert workload.pod_selector == {"matchLabels": {"app": "report"}}


def test_units_are_controllers_and_the_pods_no_controller_owns() -> None:
    found = read(
        {
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "x"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}},
            },
        },
        pod("web-1", namespace="x", labels={"app": "web", "pod-template-hash": "1"}),
        pod("debug", namespace="x", labels={"run": "debug"}),
        pod("web-elsewhere", namespace="y", labels={"app": "web"}),
    )
    assert [e.key for e in found.units()] == ["x/Deployment/web", "x/debug", "y/web-elsewhere"]


def test_every_problem_in_the_files_is_reported_with_its_place() -> None:
    with pytest.raises(manifests.InvalidManifests) as raised:
        read(
            "just text",
            {"kind": "Pod", "metadata": {}},
            {
                "kind": "NetworkPolicy",
                "metadata": {"name": "p", "namespace": "x"},
                "spec": {
                    "podSelecter": {},
                    "ingress": [
                        {
                            "from": [{"namespaceSelector": {"matchLabels": {"a": "b"}}}],
                            "ports": [{"port": 0}],
                        }
                    ],
                },
            },
        )
    problems = raised.value.problems
    assert problems[0] == "doc0: expected a Kubernetes object, got a string"
    assert problems[1] == "doc1: Pod without metadata.name"
    assert problems[2].startswith("doc2: NetworkPolicy x/p: spec.podSelecter: unknown field")
    assert problems[3].startswith("doc2: NetworkPolicy x/p: spec.ingress[0].ports[0].port")
    assert len(problems) == 4
