"""Turning core objects into API views (pure, besides YAML rendering)."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import yaml

from netfence.core import naming, summaries, templates
from netfence.core.objects import JsonDict, Policy, Workload
from netfence.usecases import attachments, namespaces
from netfence.web import schemas

# libyaml's emitter when PyYAML has it: the namespace view renders one manifest per
# policy, hundreds in a large namespace, and the pure-Python emitter dominated its time.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def to_yaml(document: Mapping[str, Any], *, sort_keys: bool = False) -> str:
    return str(yaml.dump(dict(document), Dumper=_DUMPER, sort_keys=sort_keys))


_RENDERED: OrderedDict[bytes, str] = OrderedDict()
_RENDERED_MAX = 8192


def manifest_yaml(manifest: JsonDict) -> str:
    """`to_yaml` of a manifest, remembered by content: policies rarely change, and a
    namespace view renders every one of them on every poll. JSON (C-accelerated) of the
    same manifest is a cheap, exact key; the cache is bounded (least recently used go)."""
    key = hashlib.blake2b(
        json.dumps(manifest, sort_keys=False, default=str).encode(), digest_size=16
    ).digest()
    text = _RENDERED.get(key)
    if text is None:
        text = to_yaml(manifest)
        _RENDERED[key] = text
        if len(_RENDERED) > _RENDERED_MAX:
            _RENDERED.popitem(last=False)
    else:
        _RENDERED.move_to_end(key)
    return text


def _readable(manifest: JsonDict) -> JsonDict:
    """A manifest without the bulky snapshot annotation, which the UI shows separately."""
    metadata = dict(manifest.get("metadata", {}))
    annotations = {
        k: v for k, v in metadata.get("annotations", {}).items() if k != naming.SNAPSHOT_ANNOTATION
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    return {**manifest, "metadata": metadata}


StatusCache = dict[tuple[str | None, str | None, str | None], str | None]


def policy_row(
    policy: Policy, catalog: templates.Catalog, statuses: StatusCache | None = None
) -> schemas.PolicyRow:
    """One policy; `statuses` remembers template statuses across the rows of one response
    (many policies share a template snapshot, and comparing one parses it)."""
    key = (policy.role, policy.template, policy.annotations.get(naming.SNAPSHOT_ANNOTATION))
    if statuses is None or key not in statuses:
        status = summaries.template_status(policy, catalog)
        if statuses is not None:
            statuses[key] = status
    else:
        status = statuses[key]
    return schemas.PolicyRow(
        name=policy.name,
        managed=policy.is_managed,
        role=policy.role,
        template=policy.template,
        controller=str(policy.controller) if policy.controller else None,
        template_status=status,
        yaml=manifest_yaml(_readable(policy.manifest())),
    )


class SelectorIndex:
    """Which policies select a workload's pods, without testing every (policy, workload)
    pair: a namespace with 500 controllers and 500 policies would be 250,000 tests.

    A policy whose selector is only matchLabels can select a workload only if the
    workload's pods carry its first label pair, so policies are filed under that pair.
    """

    def __init__(self, policies: list[Policy]) -> None:
        self._everywhere: list[Policy] = []
        self._by_pair: dict[tuple[str, str], list[Policy]] = {}
        for policy in policies:
            selector = policy.spec.get("podSelector") or {}
            labels = selector.get("matchLabels") or {}
            if selector.get("matchExpressions") or not labels:
                self._everywhere.append(policy)  # tested against every workload
            else:
                pair = min((str(k), str(v)) for k, v in labels.items())
                self._by_pair.setdefault(pair, []).append(policy)

    def selecting(self, workload: Workload) -> list[str]:
        candidates = [*self._everywhere]
        for pair in workload.pod_labels.items():
            candidates.extend(self._by_pair.get(pair, ()))
        return sorted({p.name for p in candidates if summaries.selects(p, workload)})


def controller_row(
    workload: Workload, policies: list[Policy], index: SelectorIndex | None = None
) -> schemas.ControllerRow:
    return schemas.ControllerRow(
        kind=workload.kind.value,
        name=workload.name,
        templates=list(workload.attached_templates),
        pod_labels=dict(workload.pod_labels),
        policies=(
            index.selecting(workload)
            if index is not None
            else sorted(p.name for p in policies if summaries.selects(p, workload))
        ),
    )


def namespace_row(summary: summaries.NamespaceSummary) -> schemas.NamespaceRow:
    return schemas.NamespaceRow(
        name=summary.name,
        state=summary.state,
        managed=summary.managed,
        managed_policies=summary.managed_policies,
        unmanaged_policies=summary.unmanaged_policies,
        controllers=len(summary.controllers),
        attached_templates=sum(len(c.templates) for c in summary.controllers),
        backed_up=summary.backed_up,
    )


def namespace_detail(found: namespaces.NamespaceDetail) -> schemas.NamespaceDetail:
    state, summary = found.state, found.summary
    policies = sorted(state.policies, key=lambda p: (not p.is_managed, p.name))
    index = SelectorIndex(policies)
    statuses: StatusCache = {}
    warnings = []
    if summary.managed and summary.unmanaged_policies:
        warnings.append(
            f"{summary.unmanaged_policies} NetworkPolicies here were not made by netfence; "
            "they still apply, alongside netfence's."
        )
    for failure in found.failures:
        warnings.append(
            f"netfence could not finish enabling {state.name}; its old policies stay in "
            f"place until it can. The controller reports: {failure}"
        )
    return schemas.NamespaceDetail(
        name=state.name,
        state=summary.state,
        managed=summary.managed,
        unmanaged_policies=summary.unmanaged_policies,
        controllers=[
            controller_row(w, policies, index)
            for w in sorted(state.workloads, key=lambda w: (w.kind.value, w.name))
        ],
        policies=[policy_row(p, found.catalog, statuses) for p in policies],
        backup=sorted(state.backup.entries) if state.backup else None,
        warnings=warnings,
        permissions=found.permissions,
    )


def controller_detail(found: attachments.ControllerDetail) -> schemas.ControllerDetail:
    workload = found.workload
    return schemas.ControllerDetail(
        namespace=workload.namespace,
        kind=workload.kind.value,
        name=workload.name,
        templates=list(workload.attached_templates),
        pod_labels=dict(workload.pod_labels),
        selector=workload.pod_selector,
        policies=[policy_row(p, found.catalog) for p in found.policies],
        namespace_managed=found.namespace_managed,
        permissions=found.permissions,
    )


def disable_result(result: namespaces.DisableResult) -> schemas.DisableResult:
    name = result.namespace
    if not result.waited:
        message = f"Namespace {name} is being disabled: netfence removes its policies."
        return schemas.DisableResult(message=message, restored=[], skipped={})
    if result.remaining:
        message = (
            f"Disabled, but netfence's policies ({', '.join(result.remaining)}) are still "
            "there, so nothing was restored yet; is the controller running?"
        )
        return schemas.DisableResult(message=message, restored=[], skipped={})
    report = result.restore
    if report is None:
        message = f"Disabled {name}; there was no backup."
        return schemas.DisableResult(message=message, restored=[], skipped={})
    return schemas.DisableResult(
        message=f"Disabled {name} and restored {len(report.restored)} policies.",
        restored=report.restored,
        skipped=report.skipped,
    )


def template_view(
    template: templates.Template, used_by: list[schemas.TemplateUse] | None
) -> schemas.TemplateView:
    return schemas.TemplateView(
        name=template.name,
        description=template.description,
        policy_types=list(template.policy_types),
        yaml=template.to_yaml(),
        used_by=used_by,
    )
