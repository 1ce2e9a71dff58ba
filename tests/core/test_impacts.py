"""Impact previews: the connections a change of policies newly denies and newly allows."""

from __future__ import annotations

from netfence.core import policies as rendering
from netfence.core import templates
from netfence.core.evaluation.impacts import impact
from netfence.core.objects import Policy, Workload, WorkloadKind
from tests.core.clusters import Cluster, namespace, pod

CLUSTER = Cluster(
    namespace("shop"),
    namespace("web"),
    pod("shop/db", {"app": "db"}, ports=[{"containerPort": 5432}]),
    pod("shop/api", {"app": "api"}, ports=[{"containerPort": 8443}]),
    pod("web/front", {"app": "front"}),
)


def baseline(namespace_name: str) -> list[Policy]:
    return [
        Policy(namespace_name, m["metadata"]["name"], spec=m["spec"])
        for m in rendering.baseline_policies(namespace_name)
    ]


def test_enabling_a_namespace_denies_what_came_from_outside_it() -> None:
    report = impact([], baseline("shop"), CLUSTER.endpoints, CLUSTER.inventory.namespaces)
    assert [str(c) for c in report.newly_denied] == [
        "web/front → shop/api on 8443/TCP",
        "web/front → shop/db on 5432/TCP",
    ]
    assert report.newly_allowed == ()
    assert [e.key for e in report.without_ports] == ["web/front"]


def test_attaching_a_template_allows_what_it_opens() -> None:
    https = templates.parse_catalog(
        {"https": "ingress:\n- from:\n  - namespaceSelector: {}\n  ports:\n  - port: 8443\n"}
    ).templates["https"]
    api = Workload(
        "shop", WorkloadKind.DEPLOYMENT, "api", pod_selector={"matchLabels": {"app": "api"}}
    )
    manifest = rendering.attachment_policy(api, https)
    attached = Policy("shop", manifest["metadata"]["name"], spec=manifest["spec"])
    before = baseline("shop")
    report = impact(before, [*before, attached], CLUSTER.endpoints, CLUSTER.inventory.namespaces)
    assert [str(c) for c in report.newly_allowed] == ["web/front → shop/api on 8443/TCP"]
    assert report.newly_denied == ()
    assert report.as_json()["newlyAllowed"] == [
        {"source": "web/front", "destination": "shop/api", "port": 8443, "protocol": "TCP"}
    ]


def test_an_unchanged_policy_set_changes_nothing() -> None:
    report = impact(
        baseline("shop"), baseline("shop"), CLUSTER.endpoints, CLUSTER.inventory.namespaces
    )
    assert report.changes_nothing
