"""Non-canonical CIDRs: read from the cluster or files as their network, with a warning
naming the policy and field; refused only where netfence writes a policy (templates)."""

from __future__ import annotations

import pytest

from netfence.core import cidrs, errors, manifests, templates
from netfence.core.evaluation import pitfalls
from tests.core.clusters import Cluster, namespace, pod, policies

LEGACY = policies("""
kind: NetworkPolicy
metadata: {name: legacy, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - ipBlock: {cidr: 10.0.0.7/16, except: [10.0.1.9/24]}
  egress:
  - to:
    - ipBlock: {cidr: 192.168.0.1/08}
""")


def test_files_with_host_bits_are_read_and_the_block_means_its_network() -> None:
    cluster = Cluster(
        namespace("shop"),
        pod("shop/db", {"app": "db"}, ip="10.0.9.9"),
        pod("shop/inside", {"app": "web"}, ip="10.0.200.1"),  # in 10.0.0.0/16, not .7 only
        pod("shop/excepted", {"app": "web"}, ip="10.0.1.200"),  # in the masked except
        pod("shop/outside", {"app": "web"}, ip="10.1.0.1"),
        LEGACY,
    )
    assert cluster.reaching("shop/db", 5432) == {"shop/inside"}


def test_every_non_canonical_field_is_named_with_the_network_it_is_read_as() -> None:
    inventory = manifests.read([("legacy.yaml", LEGACY[0])])
    found = cidrs.non_canonical(inventory.policies)
    assert [(f.policy, f.field, f.written, f.network) for f in found] == [
        ("shop/legacy", "spec.ingress[0].from[0].ipBlock.cidr", "10.0.0.7/16", "10.0.0.0/16"),
        ("shop/legacy", "spec.ingress[0].from[0].ipBlock.except[0]", "10.0.1.9/24", "10.0.1.0/24"),
        ("shop/legacy", "spec.egress[0].to[0].ipBlock.cidr", "192.168.0.1/08", "192.0.0.0/8"),
    ]
    assert str(found[0]) == (
        "NetworkPolicy shop/legacy spec.ingress[0].from[0].ipBlock.cidr: '10.0.0.7/16' is not "
        "a canonical CIDR; analysed as 10.0.0.0/16, as the network plugin reads it"
    )


def test_canonical_cidrs_and_other_peers_give_no_warning() -> None:
    clean = policies("""
kind: NetworkPolicy
metadata: {name: clean, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}, {podSelector: {}}]
  - {}
""")
    assert cidrs.non_canonical(manifests.read([("clean.yaml", clean[0])]).policies) == []


def test_other_errors_in_files_are_still_refused() -> None:
    broken = policies("""
kind: NetworkPolicy
metadata: {name: broken, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.7/16}}, {ipBlock: {cidr: not-a-cidr}}]
""")
    with pytest.raises(manifests.InvalidManifests) as caught:
        manifests.read([("broken.yaml", broken[0])])
    assert len(caught.value.problems) == 1
    assert "spec.ingress[0].from[1].ipBlock.cidr" in caught.value.problems[0]


def test_check_names_each_non_canonical_cidr_with_the_fix() -> None:
    inventory = manifests.read([("legacy.yaml", LEGACY[0])])
    found = [
        f
        for f in pitfalls.find(
            namespaces=inventory.namespaces, policies=inventory.policies, endpoints=()
        )
        if f.kind is pitfalls.Kind.NON_CANONICAL_CIDR
    ]
    assert [f.fix for f in found] == [
        "write 10.0.0.0/16 in spec.ingress[0].from[0].ipBlock.cidr",
        "write 10.0.1.0/24 in spec.ingress[0].from[0].ipBlock.except[0]",
        "write 192.0.0.0/8 in spec.egress[0].to[0].ipBlock.cidr",
    ]
    assert all(f.objects == ("NetworkPolicy shop/legacy",) for f in found)


def test_a_template_netfence_would_write_refuses_host_bits() -> None:
    text = "ingress:\n- from:\n  - ipBlock: {cidr: 10.0.0.7/16}\n"
    with pytest.raises(errors.InvalidTemplate) as caught:
        templates.parse_template("legacy", text)
    [error] = caught.value.errors
    assert error.field.endswith("ipBlock.cidr")
    assert error.fix == "write 10.0.0.0/16"
