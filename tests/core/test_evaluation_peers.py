"""Who a rule lets through: pod and namespace selectors, their combinations, ipBlocks.

From the Kubernetes documentation, "Network Policies", sections "Behavior of to and from
selectors" and "Targeting a Namespace by its name", and the NetworkPolicyPeer and IPBlock
references.
"""

from __future__ import annotations

from typing import Any

from tests.core.clusters import Cluster, namespace, pod, policies

WORLD: list[dict[str, Any]] = [
    namespace("shop", team="shop"),
    namespace("tools", team="ops", user="alice"),
    namespace("misc", team="ops"),
    pod("shop/db", {"role": "db"}, ip="10.0.0.1"),
    pod("shop/client", {"role": "client"}, ip="10.0.0.2"),
    pod("shop/other", {"role": "other"}, ip="10.0.0.3"),
    pod("tools/client", {"role": "client"}, ip="10.0.1.2"),
    pod("tools/other", {"role": "other"}, ip="10.0.1.3"),
    pod("misc/client", {"role": "client"}, ip="10.0.2.2"),
]


def db_accepts(from_: str) -> Cluster:
    """The cluster above, with db accepting ingress from the given `from:` YAML."""
    return Cluster(
        WORLD,
        policies(f"""
kind: NetworkPolicy
metadata: {{name: db, namespace: shop}}
spec:
  podSelector: {{matchLabels: {{role: db}}}}
  policyTypes: [Ingress]
  ingress:
  - from: {from_}
"""),
    )


def test_a_pod_selector_alone_means_pods_of_the_policys_namespace() -> None:
    cluster = db_accepts("[{podSelector: {matchLabels: {role: client}}}]")
    assert cluster.reaching("shop/db", 5432) == {"shop/client"}


def test_an_empty_pod_selector_alone_means_every_pod_of_the_policys_namespace() -> None:
    cluster = db_accepts("[{podSelector: {}}]")
    assert cluster.reaching("shop/db", 5432) == {"shop/client", "shop/other"}


def test_a_namespace_selector_alone_means_every_pod_of_the_matching_namespaces() -> None:
    cluster = db_accepts("[{namespaceSelector: {matchLabels: {user: alice}}}]")
    assert cluster.reaching("shop/db", 5432) == {"tools/client", "tools/other"}


def test_an_empty_namespace_selector_means_every_pod_of_every_namespace() -> None:
    cluster = db_accepts("[{namespaceSelector: {}}]")
    assert cluster.reaching("shop/db", 5432) == {
        e["metadata"]["namespace"] + "/" + e["metadata"]["name"]
        for e in WORLD
        if e["kind"] == "Pod"
    } - {"shop/db"}


def test_both_selectors_in_one_peer_are_anded() -> None:
    cluster = db_accepts(
        "[{namespaceSelector: {matchLabels: {team: ops}}, podSelector: {matchLabels: {role: client}}}]"
    )
    assert cluster.reaching("shop/db", 5432) == {"tools/client", "misc/client"}


def test_the_same_selectors_as_two_peers_are_ored() -> None:
    cluster = db_accepts(
        "[{namespaceSelector: {matchLabels: {team: ops}}}, {podSelector: {matchLabels: {role: client}}}]"
    )
    assert cluster.reaching("shop/db", 5432) == {
        "tools/client",
        "tools/other",
        "misc/client",
        "shop/client",
    }


def test_an_empty_from_list_matches_every_source() -> None:
    every = {
        f"{e['metadata']['namespace']}/{e['metadata']['name']}" for e in WORLD if e["kind"] == "Pod"
    }
    assert db_accepts("[]").reaching("shop/db", 5432) == every - {"shop/db"}


def test_a_missing_from_list_matches_every_source() -> None:
    cluster = Cluster(
        WORLD,
        policies("""
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - ports: [{port: 5432}]
"""),
    )
    assert len(cluster.reaching("shop/db", 5432)) == 5
    assert cluster.reaching("shop/db", 5433) == set()


def test_every_namespace_can_be_targeted_by_its_name_label() -> None:
    cluster = db_accepts(
        "[{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: misc}}}]"
    )
    assert cluster.reaching("shop/db", 5432) == {"misc/client"}


def test_a_name_label_the_namespaces_do_not_carry_matches_nothing() -> None:
    cluster = db_accepts("[{namespaceSelector: {matchLabels: {name: misc}}}]")
    assert cluster.reaching("shop/db", 5432) == set()


def test_match_expressions_select_namespaces_and_pods() -> None:
    cluster = db_accepts(
        "[{namespaceSelector: {matchExpressions: [{key: team, operator: NotIn, values: [shop]}]},"
        " podSelector: {matchExpressions: [{key: role, operator: In, values: [client, other]}]}}]"
    )
    assert cluster.reaching("shop/db", 5432) == {"tools/client", "tools/other", "misc/client"}


def test_an_ip_block_matches_pods_by_their_ip_minus_its_exceptions() -> None:
    cluster = db_accepts("[{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]")
    assert cluster.reaching("shop/db", 5432) == {
        "shop/client",
        "shop/other",
        "misc/client",
    }


def test_an_ip_block_cannot_match_a_pod_without_an_ip() -> None:
    cluster = Cluster(
        WORLD,
        [pod("shop/pending", {"role": "client"})],
        policies("""
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
"""),
    )
    assert not cluster.allows("shop/pending", "shop/db", 5432)
    assert cluster.allows("shop/client", "shop/db", 5432)
    assert any("no IP" in n for n in cluster.explain("shop/pending", "shop/db", 5432).notes)


def test_an_ipv4_block_does_not_match_an_ipv6_pod() -> None:
    cluster = Cluster(
        WORLD,
        [pod("shop/v6", {"role": "client"}, ip="fd00::5")],
        policies("""
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from: [{ipBlock: {cidr: 0.0.0.0/0}}]
  - from: [{ipBlock: {cidr: "fd00::/64", except: ["fd00::/120"]}}]
    ports: [{port: 22}]
"""),
    )
    assert not cluster.allows("shop/v6", "shop/db", 5432)
    assert not cluster.allows("shop/v6", "shop/db", 22)
    assert cluster.allows("shop/client", "shop/db", 5432)


def test_an_egress_ip_block_matches_destination_pods_by_ip() -> None:
    cluster = Cluster(
        WORLD,
        policies("""
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {role: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.0.1.0/24}}]
"""),
    )
    assert cluster.reachable("shop/client", 80) == {"tools/client", "tools/other"}


def test_a_peer_selects_pods_in_namespaces_no_manifest_describes() -> None:
    # A namespace named only by its pods still carries its name label.
    cluster = Cluster(
        [pod("ghost/client", {"role": "client"}, ip="10.9.0.1")],
        WORLD,
        policies("""
kind: NetworkPolicy
metadata: {name: db, namespace: shop}
spec:
  podSelector: {matchLabels: {role: db}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ghost}}}]
"""),
    )
    assert cluster.reaching("shop/db", 5432) == {"ghost/client"}
