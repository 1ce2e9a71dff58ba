"""`netfence check`: each pitfall found with the objects involved and the fix."""

from __future__ import annotations

from typing import Any

from netfence.core.evaluation import pitfalls
from netfence.core.evaluation.pitfalls import Kind
from tests.core.clusters import Cluster, namespace, pod, policies

BASE: list[Any] = [
    namespace("kube-system"),
    namespace("shop", team="shop"),
    pod("kube-system/coredns-1", {"k8s-app": "kube-dns"}, ip="10.0.9.1"),
    pod("shop/web", {"app": "web"}, ip="10.0.0.1", ports=[{"containerPort": 8080}]),
    pod("shop/db", {"app": "db"}, ip="10.0.0.2", ports=[{"containerPort": 5432}]),
    {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "calico-node", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"k8s-app": "calico-node"}},
            "template": {
                "metadata": {"labels": {"k8s-app": "calico-node"}},
                "spec": {"containers": []},
            },
        },
    },
]


def findings(*documents: Any, look_for_plugin: bool = True) -> list[pitfalls.Finding]:
    cluster = Cluster(BASE, *documents)
    inventory = cluster.inventory
    return pitfalls.find(
        namespaces=inventory.namespaces,
        policies=inventory.policies,
        endpoints=inventory.pods,
        workloads=inventory.workloads,
        look_for_plugin=look_for_plugin,
    )


def kinds(found: list[pitfalls.Finding]) -> list[Kind]:
    return [f.kind for f in found]


def test_a_sound_cluster_has_no_findings() -> None:
    assert findings() == []


def test_an_egress_isolated_pod_without_dns_is_found_with_its_policy() -> None:
    (finding,) = findings(
        policies("""
kind: NetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
""")
    )
    assert finding.kind is Kind.NO_DNS
    assert finding.objects == ("NetworkPolicy shop/web-out", "shop/web")
    assert "every name lookup will fail" in finding.message
    assert "attach" in finding.fix and "dns" in finding.fix


def test_egress_that_allows_dns_to_kube_dns_is_fine() -> None:
    assert (
        findings(
            policies("""
kind: NetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to:
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
      podSelector: {matchLabels: {k8s-app: kube-dns}}
    ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
""")
        )
        == []
    )


def test_dns_is_judged_against_a_stand_in_when_the_cluster_dns_is_not_in_the_input() -> None:
    cluster = Cluster(
        namespace("shop"),
        pod("shop/web", {"app": "web"}),
        policies("""
kind: NetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  podSelector: {}
  egress:
  - to: [{namespaceSelector: {}}]
    ports: [{protocol: UDP, port: 53}]
---
kind: NetworkPolicy
metadata: {name: deny-out, namespace: other}
spec:
  podSelector: {}
  policyTypes: [Egress]
"""),
        pod("other/batch", {"app": "batch"}),
    )
    found = pitfalls.find(
        namespaces=cluster.inventory.namespaces,
        policies=cluster.inventory.policies,
        endpoints=cluster.inventory.pods,
        look_for_plugin=False,
    )
    assert [(f.kind, f.objects) for f in found] == [
        (Kind.NO_DNS, ("NetworkPolicy other/deny-out", "other/batch"))
    ]


def test_a_namespace_selector_on_the_name_label_is_found_with_the_right_label_as_fix() -> None:
    found = findings(
        policies("""
kind: NetworkPolicy
metadata: {name: from-system, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {name: kube-system}}}]
""")
    )
    (finding,) = found
    assert finding.kind is Kind.NAMESPACES_MATCH_NOTHING
    assert finding.message.startswith(
        "NetworkPolicy shop/from-system ingress[0].from[0]: namespaceSelector name=kube-system "
        "matches no namespace"
    )
    assert "kubernetes.io/metadata.name: kube-system" in finding.fix


def test_a_pod_selector_matching_no_pod_is_found() -> None:
    found = findings(
        policies("""
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: wbe}}}]
""")
    )
    assert kinds(found) == [Kind.PODS_MATCH_NOTHING]
    assert "podSelector app=wbe matches no pod or controller in namespace shop" in found[0].message


def test_a_pod_selector_matching_a_controller_template_counts_as_matching() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "selector": {"matchLabels": {"app": "api"}},
            "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": []}},
        },
    }
    cluster = Cluster(
        BASE,
        deployment,
        policies("""
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: api}}}]
"""),
    )
    inventory = cluster.inventory
    assert (
        pitfalls.find(
            namespaces=inventory.namespaces,
            policies=inventory.policies,
            endpoints=inventory.units(),
            workloads=inventory.workloads,
        )
        == []
    )


def test_a_policy_selecting_no_pod_is_found() -> None:
    found = findings(
        policies("""
kind: NetworkPolicy
metadata: {name: typo, namespace: shop}
spec:
  podSelector: {matchLabels: {app: dB}}
""")
    )
    assert kinds(found) == [Kind.POLICY_SELECTS_NOTHING]
    assert found[0].objects == ("NetworkPolicy shop/typo",)


def test_a_namespace_without_workloads_is_not_judged() -> None:
    assert (
        findings(
            policies("""
kind: NetworkPolicy
metadata: {name: waiting, namespace: empty}
spec:
  podSelector: {matchLabels: {app: later}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: later}}}]
""")
        )
        == []
    )


def test_a_namespace_selector_then_a_pod_selector_as_two_peers_is_found() -> None:
    found = findings(
        policies("""
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: shop}}
    - podSelector: {matchLabels: {app: web}}
""")
    )
    (finding,) = found
    assert finding.kind is Kind.OR_WHERE_AND
    assert "ingress[0].from[0] and [1] are two separate peers, so they are ORed" in finding.message
    assert "put both selectors in one entry" in finding.fix


def test_the_same_selectors_in_one_peer_are_fine() -> None:
    assert (
        findings(
            policies("""
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: shop}}
      podSelector: {matchLabels: {app: web}}
""")
        )
        == []
    )


def test_a_cluster_without_an_enforcing_plugin_is_found() -> None:
    cluster = Cluster(
        namespace("shop"),
        pod("shop/web", {"app": "web"}),
        pod("kube-system/kube-flannel-ds-x1", {"app": "flannel"}),
    )
    (finding,) = pitfalls.find(
        namespaces=cluster.inventory.namespaces,
        policies=(),
        endpoints=cluster.inventory.pods,
        workloads=cluster.inventory.workloads,
    )
    assert finding.kind is Kind.NO_ENFORCING_PLUGIN
    assert "flannel runs, but does not enforce NetworkPolicy" in finding.message
    assert "Calico" in finding.fix


def test_plugins_are_recognised_by_their_pods_labels_in_any_namespace() -> None:
    cluster = Cluster(
        namespace("shop"),
        pod("shop/web", {"app": "web"}),
        pod("cilium-system/cilium-x1", {"k8s-app": "cilium"}),
    )
    assert (
        pitfalls.find(
            namespaces=cluster.inventory.namespaces,
            policies=(),
            endpoints=cluster.inventory.pods,
        )
        == []
    )


def test_kube_network_policies_is_an_enforcing_plugin() -> None:
    cluster = Cluster(
        namespace("shop"),
        pod("shop/web", {"app": "web"}),
        pod("kube-system/kube-network-policies-x1", {"app": "kube-network-policies"}),
    )
    assert (
        pitfalls.find(
            namespaces=cluster.inventory.namespaces,
            policies=(),
            endpoints=cluster.inventory.pods,
        )
        == []
    )
