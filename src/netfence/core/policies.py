"""Rendering the NetworkPolicies netfence owns, and comparing them with what exists.

Purely computational, no side effects.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from netfence.core import naming, templates
from netfence.core.errors import FieldError, InvalidTemplate
from netfence.core.objects import JsonDict, Workload

_OWNED_LABELS = (
    naming.MANAGED_BY_LABEL,
    naming.ROLE_LABEL,
    naming.TEMPLATE_LABEL,
    naming.CONTROLLER_KIND_LABEL,
    naming.CONTROLLER_NAME_LABEL,
)
_SNAPSHOT_FIELD = f"metadata.annotations[{naming.SNAPSHOT_ANNOTATION}]"
_OWNED_ANNOTATIONS = (naming.CONTROLLER_ANNOTATION, naming.SNAPSHOT_ANNOTATION)


def snapshot_of(template: templates.Template) -> str:
    """The template as it is now, frozen into the text stored on the policy."""
    document = {"name": template.name, **template.to_document()}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def version_of(template: templates.Template) -> str:
    """A short, stable fingerprint of a template's content (name included)."""
    return hashlib.sha256(snapshot_of(template).encode()).hexdigest()[:16]


def template_from_snapshot(text: str) -> templates.Template:
    """Read a snapshot back; raises InvalidTemplate when someone corrupted the annotation."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidTemplate(
            "(snapshot)",
            [FieldError(_SNAPSHOT_FIELD, f"the template snapshot is not valid JSON: {e.msg}")],
        ) from e
    except RecursionError as e:
        # Someone wrote an absurdly nested annotation; it is a broken snapshot, no crash.
        raise InvalidTemplate(
            "(snapshot)",
            [FieldError(_SNAPSHOT_FIELD, "the template snapshot is nested too deeply")],
        ) from e

    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise InvalidTemplate(
            "(snapshot)", [FieldError(_SNAPSHOT_FIELD, "the template snapshot has no name")]
        )
    name = document.pop("name")
    return templates.template_from_document(name, document)


def _metadata(name: str, namespace: str, labels: JsonDict, annotations: JsonDict) -> JsonDict:
    metadata: JsonDict = {"name": name, "namespace": namespace, "labels": labels}
    if annotations:
        metadata["annotations"] = annotations
    return metadata


def _manifest(metadata: JsonDict, spec: JsonDict) -> JsonDict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": normalize_spec(spec),
    }


def baseline_policies(namespace: str) -> tuple[JsonDict, ...]:
    """The two policies every managed namespace gets: isolate ingress, then allow the namespace."""
    labels = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.ROLE_LABEL: "baseline"}
    deny = _manifest(
        _metadata(naming.DENY_ALL_INGRESS, namespace, dict(labels), {}),
        {"podSelector": {}, "policyTypes": ["Ingress"]},
    )
    allow = _manifest(
        _metadata(naming.ALLOW_NAMESPACE_COMMUNICATION, namespace, dict(labels), {}),
        {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
        },
    )
    return deny, allow


def attachment_policy(
    workload: Workload, template: templates.Template, *, snapshot: str | None = None
) -> JsonDict:
    """The policy for `template` attached to `workload`, selecting its pods by its own selector.

    `snapshot` is the stored text the template came from; it is kept verbatim so that
    re-rendering an existing policy never changes its annotation.
    """
    if workload.pod_selector is None:
        raise ValueError(f"{workload.ref} has no pod selector")
    labels = {
        naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE,
        naming.ROLE_LABEL: naming.ROLE_ATTACHMENT,
        naming.TEMPLATE_LABEL: template.name,
        naming.CONTROLLER_KIND_LABEL: workload.kind.value.lower(),
        naming.CONTROLLER_NAME_LABEL: naming.label_value_for(workload.name),
    }
    annotations = {
        naming.CONTROLLER_ANNOTATION: str(workload.ref),
        naming.SNAPSHOT_ANNOTATION: snapshot if snapshot is not None else snapshot_of(template),
    }
    spec: JsonDict = {
        "podSelector": copy.deepcopy(workload.pod_selector),
        "policyTypes": list(template.policy_types),
    }
    if template.ingress:
        spec["ingress"] = copy.deepcopy(list(template.ingress))
    if template.egress:
        spec["egress"] = copy.deepcopy(list(template.egress))
    name = naming.attachment_policy_name(workload.kind.value, workload.name, template.name)
    return _manifest(_metadata(name, workload.namespace, labels, annotations), spec)


def normalize_spec(spec: Mapping[str, Any]) -> JsonDict:
    """The spec as the API server stores it: defaults filled in, empty lists and maps dropped.

    Comparing normalized specs tells real drift from the server's own defaulting, so a
    reconcile that finds nothing to do writes nothing.
    """
    result: JsonDict = {}
    for key, value in spec.items():
        if key in ("ingress", "egress"):
            rules = [_normalize_rule(rule) for rule in value or []]
            if rules:
                result[key] = rules
        elif key == "podSelector":
            result[key] = _normalize_selector(value or {})
        elif key == "policyTypes":
            if value:
                result[key] = list(value)
        else:
            result[key] = copy.deepcopy(value)
    result.setdefault("podSelector", {})
    return result


def _normalize_rule(rule: Mapping[str, Any]) -> JsonDict:
    result: JsonDict = {}
    for key, value in rule.items():
        if key in ("from", "to"):
            peers = [_normalize_peer(peer) for peer in value or []]
            if peers:
                result[key] = peers
        elif key == "ports":
            ports = [_normalize_port(port) for port in value or []]
            if ports:
                result[key] = ports
        else:
            result[key] = copy.deepcopy(value)
    return result


def _normalize_peer(peer: Mapping[str, Any]) -> JsonDict:
    result: JsonDict = {}
    for key, value in peer.items():
        if key in ("podSelector", "namespaceSelector"):
            if value is not None:
                result[key] = _normalize_selector(value)
        elif key == "ipBlock":
            if value is not None:
                block: JsonDict = {"cidr": value.get("cidr")}
                if value.get("except"):
                    block["except"] = list(value["except"])
                result[key] = block
        else:
            result[key] = copy.deepcopy(value)
    return result


def _normalize_port(port: Mapping[str, Any]) -> JsonDict:
    result: JsonDict = {k: v for k, v in port.items() if v is not None}
    result.setdefault("protocol", "TCP")
    return result


def _normalize_selector(selector: Mapping[str, Any]) -> JsonDict:
    result: JsonDict = {}
    if selector.get("matchLabels"):
        result["matchLabels"] = dict(selector["matchLabels"])
    expressions = []
    for expression in selector.get("matchExpressions") or []:
        item: JsonDict = {"key": expression.get("key"), "operator": expression.get("operator")}
        if expression.get("values"):
            item["values"] = list(expression["values"])
        expressions.append(item)
    if expressions:
        result["matchExpressions"] = expressions
    return result


def differs(
    desired: Mapping[str, Any],
    *,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    spec: Mapping[str, Any],
) -> bool:
    """Whether an existing policy has drifted from `desired` in anything netfence owns.

    Labels and annotations that others add are left alone; the spec is netfence's alone.
    """
    metadata = desired["metadata"]
    want_labels = metadata.get("labels", {})
    want_annotations = metadata.get("annotations", {})
    for key in _OWNED_LABELS:
        if want_labels.get(key) != labels.get(key):
            return True
    for key in _OWNED_ANNOTATIONS:
        if want_annotations.get(key) != annotations.get(key):
            return True
    return bool(normalize_spec(desired["spec"]) != normalize_spec(spec))
