"""Every verdict says why: the policies that isolate each side and the rule that decided."""

from __future__ import annotations

from tests.core.clusters import Cluster, namespace, pod, policies

CLUSTER = Cluster(
    namespace("shop"),
    namespace("web", team="web"),
    pod("shop/db", {"app": "db"}, ip="10.0.0.1", ports=[{"containerPort": 5432, "name": "pg"}]),
    pod("web/front", {"app": "front"}, ip="10.0.1.1"),
    pod("shop/pending", {"app": "x"}),
    policies("""
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: db-from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: web}}
      podSelector: {matchLabels: {app: front}}
    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}
    ports: [{port: pg}]
---
kind: NetworkPolicy
metadata: {name: front-out, namespace: web}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: shop}}}]
"""),
)


def test_an_allowed_connection_names_the_rule_peer_and_port_on_each_side() -> None:
    verdict = CLUSTER.explain("web/front", "shop/db", 5432)
    assert verdict.allowed
    assert verdict.headline() == "web/front → shop/db on 5432/TCP: allowed"
    assert verdict.egress.policies == ("web/front-out",)
    (egress,) = verdict.egress.allowed_by
    assert egress.rule == "egress[0]"
    assert verdict.ingress.policies == ("shop/db-from-web", "shop/deny-all-ingress")
    (ingress,) = verdict.ingress.allowed_by
    assert (ingress.policy, ingress.rule, ingress.peer, ingress.port) == (
        "shop/db-from-web",
        "ingress[0]",
        0,
        0,
    )
    reasons = "\n".join(verdict.reasons())
    assert "allowed by shop/db-from-web ingress[0]: from[0]: pods matching app=front in " in reasons
    assert "named port pg/TCP (= 5432 on shop/db)" in reasons


def test_a_denied_connection_says_what_each_rule_missed() -> None:
    verdict = CLUSTER.explain("web/front", "shop/db", 80)
    assert not verdict.allowed
    assert verdict.egress.allowed
    reasons = verdict.reasons()
    assert (
        "ingress to shop/db is denied: it is isolated by shop/db-from-web, "
        "shop/deny-all-ingress and no rule allows it"
    ) in reasons
    assert "  shop/deny-all-ingress has no ingress rules" in reasons
    assert any("the source matches" in r and "the port is not among" in r for r in reasons)


def test_an_unrestricted_side_says_no_policy_selects_it() -> None:
    verdict = CLUSTER.explain("shop/db", "web/front", 80)
    assert verdict.allowed
    assert not verdict.egress.isolated
    assert verdict.reasons()[0] == (
        "egress from shop/db is not restricted: no NetworkPolicy with policyType Egress selects it"
    )


def test_an_endpoint_without_ip_facing_an_ip_block_gets_a_note() -> None:
    verdict = CLUSTER.explain("shop/pending", "shop/db", 5432)
    assert not verdict.allowed
    assert verdict.notes == (
        "shop/pending has no IP here, so the ipBlock peers checked cannot match it",
    )


def test_the_json_form_carries_the_verdict_each_side_and_the_reasons() -> None:
    document = CLUSTER.explain("web/front", "shop/db", 80).as_json()
    assert {k: document[k] for k in ("source", "destination", "port", "protocol", "allowed")} == {
        "source": "web/front",
        "destination": "shop/db",
        "port": 80,
        "protocol": "TCP",
        "allowed": False,
    }
    assert document["egress"]["allowed"] is True
    assert document["ingress"]["policies"] == ["shop/db-from-web", "shop/deny-all-ingress"]
    (rule,) = document["ingress"]["rules"]
    assert rule["peerMatched"] is True
    assert rule["portMatched"] is False
    assert document["reasons"] == CLUSTER.explain("web/front", "shop/db", 80).reasons()
