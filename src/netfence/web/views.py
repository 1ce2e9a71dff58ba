"""Turning core objects into API views (pure, besides YAML rendering)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from netfence.core import naming, summaries, templates
from netfence.core.objects import JsonDict, Policy, Workload
from netfence.core.planning import NamespaceState
from netfence.web import schemas


def to_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False)


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


def policy_row(policy: Policy, catalog: templates.Catalog) -> schemas.PolicyRow:
    return schemas.PolicyRow(
        name=policy.name,
        managed=policy.is_managed,
        role=policy.role,
        template=policy.template,
        controller=str(policy.controller) if policy.controller else None,
        template_status=summaries.template_status(policy, catalog),
        yaml=to_yaml(_readable(policy.manifest())),
    )


def selects(policy: Policy, workload: Workload) -> bool:
    """Whether a policy of the workload's namespace selects the workload's pods."""
    if policy.namespace != workload.namespace:
        return False
    return summaries.selector_matches(policy.spec.get("podSelector") or {}, workload.pod_labels)


def controller_row(workload: Workload, policies: list[Policy]) -> schemas.ControllerRow:
    return schemas.ControllerRow(
        kind=workload.kind.value,
        name=workload.name,
        templates=list(workload.attached_templates),
        pod_labels=dict(workload.pod_labels),
        policies=sorted(p.name for p in policies if selects(p, workload)),
    )


def namespace_row(state: NamespaceState, netfence_namespace: str) -> schemas.NamespaceRow:
    summary = summaries.summarize_namespace(state, netfence_namespace=netfence_namespace)
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
