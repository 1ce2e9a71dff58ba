"""The connectivity use cases the CLI and the console share: explain, check, previews."""

from __future__ import annotations

from typing import Any

import pytest

from netfence.core import errors, manifests, naming, templates
from netfence.core.objects import WorkloadRef
from netfence.core.planning import NamespaceState
from netfence.usecases import connectivity as analysis
from netfence.usecases import namespaces
from tests.core.clusters import namespace, pod, policies

CATALOG = templates.parse_catalog(
    {"https": "ingress:\n- from:\n  - namespaceSelector: {}\n  ports:\n  - port: 8443\n"}
)


def deployment(ref: str, app: str, port: int, **labels: str) -> dict[str, Any]:
    ns, _, name = ref.partition("/")
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}},
                "spec": {
                    "containers": [
                        {"name": "c", "ports": [{"containerPort": port, "name": "main"}]}
                    ]
                },
            },
        },
    }


def inventory(*documents: Any) -> manifests.Inventory:
    flat: list[Any] = []
    for document in documents:
        flat.extend(document if isinstance(document, list) else [document])
    return manifests.read((f"doc{i}", d) for i, d in enumerate(flat))


def state_of(found: manifests.Inventory, name: str) -> NamespaceState:
    return NamespaceState(
        name=name,
        namespace=next(ns for ns in found.namespaces if ns.name == name),
        workloads=[w for w in found.workloads if w.namespace == name],
        policies=[p for p in found.policies if p.namespace == name],
    )


CLUSTER = inventory(
    namespace("shop", **{naming.MANAGED_NAMESPACE_LABEL: "true"}),
    namespace("web"),
    deployment("shop/api", "api", 8443),
    deployment("shop/db", "db", 5432),
    deployment("web/front", "front", 8080),
    pod("web/debug", {"run": "debug"}, ip="10.0.0.9"),
    [
        {
            **p,
            "metadata": {
                **p["metadata"],
                "labels": {
                    naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
                    naming.ROLE_LABEL: "baseline",
                },
            },
        }
        for p in policies("""
kind: NetworkPolicy
metadata: {name: deny-all-ingress, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
kind: NetworkPolicy
metadata: {name: allow-namespace-communication, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {}}]}]
""")
    ],
)


def test_attaching_a_template_previews_the_policy_and_the_connections_it_opens() -> None:
    preview = analysis.preview_attachment(
        CLUSTER,
        state_of(CLUSTER, "shop"),
        WorkloadRef.parse("deployment/api"),
        "https",
        CATALOG,
        attach=True,
        netfence_namespace="netfence-system",
    )
    assert [m["metadata"]["name"] for m in preview.created] == ["deploy-api-https"]
    assert preview.deleted == ()
    assert sorted(str(c) for c in preview.impact.newly_allowed) == [
        "web/Deployment/front → shop/Deployment/api on 8443/TCP",
        "web/debug → shop/Deployment/api on 8443/TCP",
    ]
    assert preview.impact.newly_denied == ()


def test_detaching_what_is_not_attached_changes_nothing() -> None:
    preview = analysis.preview_attachment(
        CLUSTER,
        state_of(CLUSTER, "shop"),
        WorkloadRef.parse("deployment/api"),
        "https",
        CATALOG,
        attach=False,
        netfence_namespace="netfence-system",
    )
    assert preview.created == ()
    assert preview.impact.changes_nothing


def test_enabling_a_namespace_previews_the_connections_it_cuts() -> None:
    plan = namespaces.plan_enable(
        state_of(CLUSTER, "web"), CATALOG, netfence_namespace="netfence-system"
    )
    preview = analysis.preview_plan(CLUSTER, plan)
    assert sorted(m["metadata"]["name"] for m in preview.created) == [
        naming.ALLOW_NAMESPACE_COMMUNICATION,
        naming.DENY_ALL_INGRESS,
    ]
    assert [str(c) for c in preview.impact.newly_denied] == [
        "shop/Deployment/api → web/Deployment/front on 8080/TCP",
        "shop/Deployment/db → web/Deployment/front on 8080/TCP",
    ]
    assert [e.key for e in preview.impact.without_ports] == ["web/debug"]


def test_a_policy_update_previews_the_new_spec() -> None:
    preview = analysis.preview_policy_update(
        CLUSTER,
        "shop",
        "allow-namespace-communication",
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {}}]}],
        },
    )
    assert len(preview.impact.newly_allowed) == 4
    with pytest.raises(errors.NotFound, match="no NetworkPolicy nope"):
        analysis.preview_policy_update(CLUSTER, "shop", "nope", {})


def test_explain_finds_pods_and_controllers_and_resolves_named_ports() -> None:
    verdict = analysis.explain(CLUSTER, "web/debug", "shop/db", port="main", protocol="TCP")
    assert verdict.destination.key == "shop/Deployment/db"
    assert verdict.port == 5432
    assert not verdict.allowed
    same = analysis.explain(CLUSTER, "web/debug", "shop/deploy/db", port="5432", protocol="TCP")
    assert same.allowed == verdict.allowed


def test_explain_names_what_it_cannot_find() -> None:
    with pytest.raises(errors.NotFound, match="no pod or controller nope in namespace shop"):
        analysis.explain(CLUSTER, "shop/nope", "shop/db", port="80", protocol="TCP")
    with pytest.raises(ValueError, match="declares no TCP port named 'http'"):
        analysis.explain(CLUSTER, "web/debug", "shop/db", port="http", protocol="TCP")
    with pytest.raises(ValueError, match="expected NAMESPACE/POD"):
        analysis.explain(CLUSTER, "debug", "shop/db", port="80", protocol="TCP")


def test_the_matrix_can_be_narrowed_to_some_namespaces() -> None:
    result = analysis.connectivity(CLUSTER, workloads=True, namespaces=["shop"])
    assert [e.key for e in result.matrix.endpoints] == ["shop/Deployment/api", "shop/Deployment/db"]


# One namespace's matrix moved into the core: tests/core/test_namespace_matrices.py.
