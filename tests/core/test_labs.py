"""What the lab makes of an export: pure planning, no cluster."""

from __future__ import annotations

from typing import Any

from netfence.core import labs, naming

EXPORT: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "List",
    "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "uid": "1", "labels": {"team": "a"}}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-node-lease"}},
        {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "uid": "2", "resourceVersion": "9", "managedFields": [{}], "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"}},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"serviceAccountName": "web", "containers": [{"name": "web", "image": "w", "ports": [{"containerPort": 8080, "name": "http", "hostPort": 80}]}], "initContainers": [{"name": "proxy", "image": "p", "restartPolicy": "Always", "ports": [{"containerPort": 9100, "name": "metrics"}]}, {"name": "migrate", "image": "m"}]}}},
            "status": {"replicas": 5},
        },
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "shop"}, "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": {"metadata": {"labels": {"app": "agent"}}, "spec": {"containers": [{"name": "a", "image": "a"}]}}}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "report", "namespace": "shop"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "report"}}, "spec": {"containers": [{"name": "r", "image": "r"}]}}}}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-abc", "namespace": "shop", "labels": {"app": "web"}, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-x"}]}, "spec": {"containers": []}, "status": {"podIP": "10.1.0.5"}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "tools", "labels": {"run": "debug"}}, "spec": {"containers": [{"name": "d", "image": "d", "volumeMounts": [{"name": "x", "mountPath": "/x"}]}], "volumes": [{"name": "x"}], "nodeName": "old"}, "status": {"podIP": "10.1.0.6"}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "web", "namespace": "shop", "labels": {naming.MANAGED_BY_LABEL: "netfence"}}, "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/24"}}, {"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}},
    ],
}  # fmt: skip


def test_controllers_run_nothing_themselves_and_one_pod_stands_for_each() -> None:
    plan = labs.plan([EXPORT], node="lab-node")
    kinds = {c["kind"]: c for c in plan.controllers}
    assert kinds["Deployment"]["spec"]["replicas"] == 0
    assert kinds["DaemonSet"]["spec"]["template"]["spec"]["nodeSelector"] == {
        "netfence.io/lab-runs-no-daemon": "true"
    }
    assert kinds["CronJob"]["spec"]["suspend"] is True
    pods = {p["metadata"]["name"]: p for p in plan.pods}
    assert set(pods) == {"web-lab-deployment", "agent-lab-daemonset", "report-lab-cronjob", "debug"}
    web = pods["web-lab-deployment"]
    assert web["metadata"]["labels"] == {"app": "web", labs.LAB_LABEL: "true"}
    assert web["spec"]["nodeName"] == "lab-node"
    assert web["spec"]["containers"] == [
        {"name": "web", "image": "w", "ports": [{"containerPort": 8080, "name": "http"}]}
    ]
    # The sidecar keeps its ports; a plain init container is not the pod's.
    assert web["spec"]["initContainers"] == [
        {
            "name": "proxy",
            "image": "p",
            "ports": [{"containerPort": 9100, "name": "metrics"}],
            "restartPolicy": "Always",
        }
    ]
    assert "serviceAccountName" not in web["spec"]
    # A bare pod loses what the lab has not got (volumes) and lands on the lab's node.
    assert (
        pods["debug"]["spec"]["nodeName"] == "lab-node" and "volumes" not in pods["debug"]["spec"]
    )


def test_server_fields_are_stripped_and_everything_carries_the_lab_label() -> None:
    plan = labs.plan([EXPORT], node="n")
    web = next(c for c in plan.controllers if c["kind"] == "Deployment")
    assert set(web) == {"apiVersion", "kind", "metadata", "spec"}
    assert web["metadata"] == {
        "name": "web",
        "namespace": "shop",
        "annotations": {"keep": "me"},
        "labels": {labs.LAB_LABEL: "true"},
    }
    [shop, tools] = plan.namespaces
    assert shop == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"team": "a", labs.LAB_LABEL: "true"}},
    }
    assert tools["metadata"]["name"] == "tools"  # named by a pod only: made too
    [policy] = plan.policies
    assert naming.MANAGED_BY_LABEL not in policy["metadata"]["labels"]  # the lab's, not netfence's
    assert all(o["metadata"]["labels"][labs.LAB_LABEL] == "true" for o in plan.objects())


def test_pods_of_controllers_and_other_kinds_are_counted_not_made() -> None:
    plan = labs.plan([EXPORT], node="n")
    assert plan.skipped == {"Pod of a controller or on the host network": 1, "Service": 1}
    assert all(n["metadata"]["name"] != "kube-node-lease" for n in plan.namespaces)


def test_an_ip_block_naming_an_original_address_is_warned_of_but_not_every_address() -> None:
    plan = labs.plan([EXPORT], node="n")
    assert plan.warnings == (
        "NetworkPolicy shop/web spec.ingress[0].from[0].ipBlock 10.1.0.0/24 named addresses of "
        "the original cluster (shop/web-abc, tools/debug); the lab gives pods addresses of its "
        "own pod CIDR, so it matches other pods or none here",
    )
