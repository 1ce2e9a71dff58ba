"""Which pods are isolated, in which direction, and how policies combine.

From the Kubernetes documentation, "Network Policies", sections "The two sorts of pod
isolation" and "Default policies", and the NetworkPolicySpec reference for policyTypes.
"""

from __future__ import annotations

from tests.core.clusters import Cluster, deployment, namespace, pod, policies

PODS = [
    namespace("shop"),
    pod("shop/web", {"app": "web"}, ip="10.0.0.1"),
    pod("shop/db", {"app": "db"}, ip="10.0.0.2"),
]


def test_without_policies_every_pod_reaches_every_pod() -> None:
    cluster = Cluster(PODS)
    assert cluster.reachable("shop/web", 80) == {"shop/db"}
    assert cluster.reachable("shop/db", 5432, "UDP") == {"shop/web"}


def test_a_pod_no_policy_selects_stays_open_while_its_neighbour_is_isolated() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: isolate-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
"""),
    )
    assert not cluster.allows("shop/web", "shop/db", 5432)
    assert cluster.allows("shop/db", "shop/web", 80)


def test_a_default_deny_ingress_policy_selects_every_pod_and_allows_nothing_in() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""),
    )
    assert cluster.reaching("shop/db", 5432) == set()
    assert cluster.reaching("shop/web", 80) == set()


def test_ingress_isolation_leaves_egress_open() -> None:
    cluster = Cluster(
        PODS,
        [pod("other/api", {"app": "api"}, ip="10.0.1.1")],
        policies("""
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""),
    )
    assert cluster.reachable("shop/web", 443) == {"other/api"}


def test_a_default_deny_egress_policy_blocks_what_leaves_but_not_what_enters() -> None:
    cluster = Cluster(
        PODS,
        [pod("other/api", {"app": "api"}, ip="10.0.1.1")],
        policies("""
kind: NetworkPolicy
metadata: {name: default-deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
"""),
    )
    assert cluster.reachable("shop/web", 443) == set()
    assert cluster.reaching("shop/web", 443) == {"other/api"}


def test_both_egress_at_the_source_and_ingress_at_the_destination_must_allow() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: web-may-call-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
---
kind: NetworkPolicy
metadata: {name: db-accepts-nobody, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
"""),
    )
    verdict = cluster.explain("shop/web", "shop/db", 5432)
    assert verdict.egress.allowed
    assert not verdict.ingress.allowed
    assert not cluster.allows("shop/web", "shop/db", 5432)


def test_without_policy_types_a_policy_with_egress_rules_isolates_both_directions() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: web-to-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]
"""),
    )
    assert cluster.reachable("shop/web", 5432) == {"shop/db"}
    # Ingress is implied too, and the policy has no ingress rules: nothing reaches web.
    assert cluster.reaching("shop/web", 80) == set()


def test_without_policy_types_a_policy_without_egress_rules_isolates_ingress_only() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: web-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  egress: []
  ingress:
  - from: [{podSelector: {matchLabels: {app: db}}}]
"""),
    )
    assert cluster.reaching("shop/web", 80) == {"shop/db"}
    # `egress: []` is no egress rule at all: web's egress stays open.
    assert not cluster.explain("shop/web", "shop/db", 443).egress.isolated
    assert cluster.allows("shop/web", "shop/db", 443)


def test_rules_of_a_direction_missing_from_policy_types_are_ignored() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: egress-only, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: nobody}}}]
"""),
    )
    # The ingress rules would isolate db, but the policy's types say Egress only.
    assert cluster.allows("shop/web", "shop/db", 5432)
    assert cluster.reachable("shop/db", 80) == set()


def test_an_empty_ingress_rule_allows_all_traffic_in() -> None:
    cluster = Cluster(
        PODS,
        [pod("other/api", {"app": "api"}, ip="10.0.1.1")],
        policies("""
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
---
kind: NetworkPolicy
metadata: {name: allow-all-ingress, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - {}
  policyTypes: [Ingress]
"""),
    )
    assert cluster.reaching("shop/db", 5432) == {"shop/web", "other/api"}


def test_an_empty_egress_rule_allows_all_traffic_out() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: allow-all-egress, namespace: shop}
spec:
  podSelector: {}
  egress:
  - {}
  policyTypes: [Egress]
"""),
    )
    assert cluster.reachable("shop/web", 12345, "UDP") == {"shop/db"}


def test_policies_are_additive_the_union_of_their_rules_applies() -> None:
    cluster = Cluster(
        PODS,
        [pod("shop/cache", {"app": "cache"}, ip="10.0.0.3")],
        policies("""
kind: NetworkPolicy
metadata: {name: from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]
---
kind: NetworkPolicy
metadata: {name: from-cache, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: cache}}}]
"""),
    )
    assert cluster.reaching("shop/db", 5432) == {"shop/web", "shop/cache"}


def test_a_policy_selects_pods_of_its_own_namespace_only() -> None:
    cluster = Cluster(
        PODS,
        [pod("other/db", {"app": "db"}, ip="10.0.1.2")],
        policies("""
kind: NetworkPolicy
metadata: {name: isolate-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
"""),
    )
    assert not cluster.allows("shop/web", "shop/db", 5432)
    assert cluster.allows("shop/web", "other/db", 5432)


def test_a_policy_without_pod_selector_selects_every_pod_of_its_namespace() -> None:
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: no-selector, namespace: shop}
spec:
  policyTypes: [Ingress]
"""),
    )
    assert cluster.reaching("shop/web", 80) == set()
    assert cluster.reaching("shop/db", 80) == set()


def test_traffic_inside_a_namespace_obeys_policies_like_any_other() -> None:
    cluster = Cluster(
        PODS,
        [pod("other/web", {"app": "web"}, ip="10.0.1.1")],
        policies("""
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
kind: NetworkPolicy
metadata: {name: allow-namespace-communication, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
  - from: [{podSelector: {}}]
"""),
    )
    # netfence's own baseline: the namespace talks to itself, nobody else gets in.
    assert cluster.reaching("shop/db", 5432) == {"shop/web"}
    assert not cluster.allows("other/web", "shop/db", 5432)


def test_a_pod_always_reaches_itself_whatever_its_policies_say() -> None:
    # "a pod cannot block access to itself" (Kubernetes documentation, Network Policies).
    cluster = Cluster(
        PODS,
        policies("""
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"""),
    )
    assert cluster.allows("shop/db", "shop/db", 5432)  # evaluator, matrix and reference
    assert not cluster.allows("shop/web", "shop/db", 5432)
    verdict = cluster.explain("shop/db", "shop/db", 5432)
    assert verdict.itself and verdict.allowed
    # Its policies are still shown, and say they do not apply.
    assert not verdict.egress.allowed and not verdict.ingress.allowed
    reasons = verdict.reasons()
    assert reasons[0].startswith("shop/db reaches itself, which is always allowed")
    assert "a pod cannot block access to itself" in reasons[0]
    assert reasons[1] == "what its policies say does not apply here; for another pod:"
    assert verdict.as_json()["itself"] is True


def test_a_controller_reaching_itself_is_two_of_its_pods_and_follows_its_policies() -> None:
    cluster = Cluster(
        namespace("shop"),
        deployment("shop/web", "web", 8080),
        policies("""
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""),
        workloads=True,
    )
    assert not cluster.allows("shop/Deployment/web", "shop/Deployment/web", 8080)
    verdict = cluster.explain("shop/Deployment/web", "shop/Deployment/web", 8080)
    assert not verdict.itself
    assert any("stands for its pods" in n for n in verdict.notes)


def test_the_documentation_example_policy() -> None:
    # "test-network-policy" from the NetworkPolicy resource section of the docs.
    cluster = Cluster(
        namespace("default"),
        namespace("myproject", project="myproject"),
        namespace("elsewhere"),
        pod("default/db", {"role": "db"}, ip="172.17.0.5"),
        pod("default/frontend", {"role": "frontend"}, ip="172.17.1.5"),
        pod("default/other", {"role": "other"}, ip="172.17.2.5"),
        pod("default/excepted", {"role": "other"}, ip="172.17.1.9"),
        pod("myproject/anything", {"role": "x"}, ip="192.168.0.1"),
        pod("elsewhere/frontend", {"role": "frontend"}, ip="192.168.0.2"),
        pod("elsewhere/svc", {"role": "svc"}, ip="10.0.0.7"),
        policies("""
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
"""),
    )
    assert cluster.reaching("default/db", 6379) == {
        "default/frontend",  # role=frontend in the policy's namespace (its IP is excepted)
        "default/other",  # 172.17.2.5 is in the ipBlock
        "myproject/anything",  # every pod of a namespace labelled project=myproject
    }
    # db's own IP is in the ipBlock, but db is egress-isolated and may only reach 5978.
    self_verdict = cluster.explain("default/db", "default/db", 6379)
    assert self_verdict.ingress.allowed
    assert not self_verdict.egress.allowed
    assert self_verdict.allowed  # but a pod always reaches itself
    assert cluster.reaching("default/db", 6380) == set()
    assert cluster.reachable("default/db", 5978) == {"elsewhere/svc"}
    assert cluster.reachable("default/db", 6379) == set()
