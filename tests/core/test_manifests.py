"""Reading manifests the way `kubectl` writes them into what connectivity analysis needs."""

from __future__ import annotations

from typing import Any

import pytest

from netfence.core import manifests, selectors
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


def problems_of(text: str, name: str = "shop.yaml") -> tuple[str, ...]:
    with pytest.raises(manifests.InvalidManifests) as raised:
        manifests.read_texts([(name, text)])
    return raised.value.problems


def test_a_label_yaml_reads_as_a_boolean_or_a_number_is_refused_as_written() -> None:
    problems = problems_of(
        "kind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: on\n    tier: 1\n"
    )
    assert problems == (
        "shop.yaml: Namespace shop: metadata.labels[team]: label value must be a string, got a "
        'boolean (line 5: YAML reads on as a boolean; quote it: "on")',
        "shop.yaml: Namespace shop: metadata.labels[tier]: label value must be a string, got an "
        'integer (line 6: YAML reads 1 as a number; quote it: "1")',
    )


def test_labels_are_checked_wherever_the_reader_reads_them() -> None:
    problems = problems_of(
        """\
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {replicas: 3}}
spec:
  selector: {matchLabels: {app: web, canary: yes}}
  template:
    metadata: {labels: {app: web, canary: yes}}
    spec: {containers: []}
---
kind: List
items:
- kind: Pod
  metadata: {name: a, namespace: shop, labels: {version: 1.10}}
- kind: NetworkPolicy
  metadata: {name: p, namespace: shop}
  spec:
    podSelector: {matchLabels: {app: web}}
    ingress: [{from: [{namespaceSelector: {matchLabels: {env: off}}}]}]
"""
    )
    assert [p.split(": ", 3)[2:] for p in problems] == [
        [
            "metadata.annotations[replicas]",
            "annotation value must be a string, got an integer (line 2: YAML reads 3 as a "
            'number; quote it: "3")',
        ],
        [
            "spec.selector.matchLabels[canary]",
            "label value must be a string, got a boolean (line 4: YAML reads yes as a boolean; "
            'quote it: "yes")',
        ],
        [
            "spec.template.metadata.labels[canary]",
            "label value must be a string, got a boolean (line 6: YAML reads yes as a boolean; "
            'quote it: "yes")',
        ],
        [
            "metadata.labels[version]",
            "label value must be a string, got a number with a fraction (line 12: YAML reads "
            '1.10 as a number; quote it: "1.10")',
        ],
        [
            "spec.ingress[0].from[0].namespaceSelector.matchLabels[env]",
            "label value must be a string, got a boolean (line 17: YAML reads off as a boolean; "
            'quote it: "off")',
        ],
    ]
    assert problems[3].startswith("shop.yaml document 2 items[0]: Pod shop/a: ")


def test_a_match_expression_without_key_is_refused_and_would_match_nothing() -> None:
    problems = problems_of(
        "kind: NetworkPolicy\nmetadata: {name: p, namespace: shop}\n"
        "spec:\n  podSelector:\n    matchExpressions: [{operator: Exists}]\n"
    )
    assert problems == (
        "shop.yaml: NetworkPolicy shop/p: spec.podSelector.matchExpressions[0].key: is "
        "required (name the label to test, e.g. key: app)",
    )
    keyless = selectors.parse({"matchExpressions": [{"operator": "DoesNotExist"}]})
    assert not keyless.matches({})


def test_json_is_read_as_json_and_quoted_yaml_values_are_strings() -> None:
    found = manifests.read_texts(
        [
            ("a.json", '{"kind": "Namespace", "metadata": {"name": "a", "labels": {"x": "1"}}}'),
            ("b.yaml", "kind: Namespace\nmetadata: {name: b, labels: {team: 'on'}}\n"),
            ("c.yaml", "{kind: Namespace, metadata: {name: c}}\n"),
        ]
    )
    assert [(ns.name, ns.labels) for ns in found.namespaces] == [
        ("a", {"x": "1"}),
        ("b", {"team": "on"}),
        ("c", {}),
    ]


def test_a_file_that_is_not_yaml_is_reported_and_the_others_still_read() -> None:
    with pytest.raises(manifests.InvalidManifests) as raised:
        manifests.read_texts(
            [
                ("bad.yaml", "kind: Pod\nmetadata: {name: a\n"),
                ("other.yaml", "kind: Namespace\nmetadata: {name: x, labels: {a: true}}\n"),
            ]
        )
    problems = raised.value.problems
    assert problems[0] == "bad.yaml:3: not valid YAML (did not find expected ',' or '}')"
    assert problems[1].startswith("other.yaml: Namespace x: metadata.labels[a]:")
    assert problems[1].endswith('(line 2: YAML reads true as a boolean; quote it: "true")')
