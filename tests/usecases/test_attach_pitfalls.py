"""The pitfalls learned from the demo, in the attach preview and in `check`: an egress
template isolates its controller's egress, and a template whose ports match none the
pods declare opens nothing."""

from __future__ import annotations

from typing import Any

from netfence.core import naming, templates
from netfence.core.default_templates import DEFAULT_TEMPLATES
from netfence.core.evaluation import pitfalls
from netfence.core.objects import WorkloadRef
from netfence.core.policies import baseline_policies
from netfence.usecases import connectivity as analysis
from tests.core.clusters import namespace, pod, policies
from tests.usecases.test_connectivity import deployment, inventory, state_of

API_CLIENT = """\
egress:
- to:
  - podSelector: {matchLabels: {app: api}}
  ports:
  - port: 8080
"""
CATALOG = templates.parse_catalog({**DEFAULT_TEMPLATES, "api-client": API_CLIENT})
BASELINE = list(baseline_policies("shop"))  # what netfence creates in a managed namespace


def shop(*more: Any, attached: tuple[str, ...] = ()) -> Any:
    """The demo's shop: frontend and api declare 8080, db 5432, and a cluster DNS;
    `attached` templates are labelled on frontend."""
    labels = {naming.template_label_key(t): naming.TEMPLATE_LABEL_VALUE for t in attached}
    return inventory(
        namespace("shop", **{naming.MANAGED_NAMESPACE_LABEL: "true"}),
        namespace("kube-system"),
        deployment("shop/frontend", "frontend", 8080, **labels),
        deployment("shop/api", "api", 8080),
        deployment("shop/db", "db", 5432),
        pod(
            "kube-system/coredns",
            {"k8s-app": "kube-dns"},
            ports=[{"containerPort": 53, "protocol": "UDP", "name": "dns"}],
        ),
        BASELINE,
        *more,
    )


def attach(cluster: Any, controller: str, template: str) -> analysis.ChangePreview:
    return analysis.preview_attachment(
        cluster,
        state_of(cluster, "shop"),
        WorkloadRef.parse(f"deployment/{controller}"),
        template,
        CATALOG,
        attach=True,
        netfence_namespace="netfence-system",
    )


def kinds(preview: analysis.ChangePreview) -> list[str]:
    return [w.kind.value for w in preview.warnings]


def test_attaching_dns_alone_warns_that_frontend_loses_api_and_names_the_restoring_templates() -> (
    None
):
    preview = attach(shop(), "frontend", "dns")
    [warning] = preview.warnings
    assert warning.kind is pitfalls.Kind.TEMPLATE_ISOLATES_EGRESS
    assert warning.objects == ("shop/Deployment/frontend",)
    assert warning.message == (
        "attaching dns makes shop/Deployment/frontend egress-isolated: from then on its pods "
        "may send only what their egress policies allow, and they lose 3 connections they "
        "can make now (→ shop/Deployment/api on 8080/TCP, → shop/Deployment/db on 5432/TCP, "
        "→ shop/Deployment/frontend on 8080/TCP)"  # one of its pods to another
    )
    assert warning.fix == (
        "attach as well api-client (1 of them: netfence attach Deployment/frontend api-client "
        "-n shop); or postgres (1 of them: netfence attach Deployment/frontend postgres -n "
        "shop); no template restores shop/Deployment/frontend → shop/Deployment/frontend on "
        "8080/TCP"
    )


def test_a_connection_no_template_restores_is_named_in_the_fix() -> None:
    catalog_without = dict(DEFAULT_TEMPLATES)
    preview = analysis.preview_attachment(
        shop(),
        state_of(shop(), "shop"),
        WorkloadRef.parse("deployment/frontend"),
        "dns",
        templates.parse_catalog(catalog_without),
        attach=True,
        netfence_namespace="netfence-system",
    )
    [warning] = preview.warnings
    assert warning.fix.startswith("attach as well postgres (1 of them")
    assert warning.fix.endswith(
        "; no template restores shop/Deployment/frontend → shop/Deployment/api on 8080/TCP, "
        "shop/Deployment/frontend → shop/Deployment/frontend on 8080/TCP"
    )


def test_attaching_an_egress_template_to_a_controller_already_isolated_warns_nothing() -> None:
    cluster = shop()
    first = attach(cluster, "frontend", "postgres")
    assert kinds(first) == ["template-isolates-egress"]  # it loses api
    isolated = shop(first.created[0], attached=("postgres",))
    assert attach(isolated, "frontend", "dns").warnings == ()


def test_a_template_whose_port_the_pods_do_not_declare_is_said_to_open_nothing() -> None:
    preview = attach(shop(), "frontend", "http")
    [warning] = preview.warnings
    assert warning.kind is pitfalls.Kind.PORTS_MATCH_NOTHING
    assert warning.message == (
        "template http attached to Deployment shop/frontend opens 80/TCP "
        "(shop/deploy-frontend-http ingress[0]), but shop/Deployment/frontend declare only "
        "8080/TCP (main): it opens no port they declare"
    )
    assert warning.fix.startswith("attach a template that opens 8080/TCP (main) instead")
    assert preview.impact.changes_nothing  # and indeed it opens nothing


def test_a_template_that_opens_a_declared_port_warns_nothing() -> None:
    prometheus = "ingress:\n- ports:\n  - port: main\n"
    catalog = templates.parse_catalog({"by-name": prometheus})
    preview = analysis.preview_attachment(
        shop(),
        state_of(shop(), "shop"),
        WorkloadRef.parse("deployment/frontend"),
        "by-name",
        catalog,
        attach=True,
        netfence_namespace="netfence-system",
    )
    assert preview.warnings == ()


def test_check_says_an_attached_template_opens_nothing() -> None:
    made = attach(shop(), "frontend", "http").created[0]
    found = analysis.check(shop(made), look_for_plugin=False)
    [finding] = [f for f in found if f.kind is pitfalls.Kind.PORTS_MATCH_NOTHING]
    assert finding.message.startswith("template http attached to Deployment shop/frontend")
    assert finding.objects[0] == "NetworkPolicy shop/deploy-frontend-http"


def test_check_says_a_hand_written_rule_opens_nothing_and_spares_pods_without_ports() -> None:
    written = policies("""
kind: NetworkPolicy
metadata: {name: db-from-api, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: 3306}]
  - ports: [{port: 5432}]
---
kind: NetworkPolicy
metadata: {name: debug, namespace: shop}
spec:
  podSelector: {matchLabels: {run: debug}}
  ingress:
  - ports: [{port: 3306}]
""")
    cluster = shop(written, pod("shop/debug", {"run": "debug"}))
    found = [
        f
        for f in analysis.check(cluster, look_for_plugin=False)
        if f.kind is pitfalls.Kind.PORTS_MATCH_NOTHING
    ]
    assert [f.message for f in found] == [
        "NetworkPolicy shop/db-from-api ingress[0] opens 3306/TCP, but the pods it selects "
        "(shop/Deployment/db) declare only 5432/TCP (main): it opens no port they declare"
    ]
