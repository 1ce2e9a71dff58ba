"""/api/v1/namespaces: the cluster view, one namespace, enabling and disabling."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from netfence import analysis, services
from netfence.core.planning import ApplyPolicy, DeletePolicy
from netfence.core.summaries import summarize_namespace
from netfence.kube import actions, reading, template_store
from netfence.web import inventories, permissions, schemas, views
from netfence.web.callers import Caller, CallerDep, ChangingCallerDep
from netfence.web.errors import ApiProblem
from netfence.web.routes import previews

router = APIRouter(prefix="/api/v1/namespaces", tags=["namespaces"])


@router.get("", response_model=schemas.NamespaceList)
async def list_namespaces(caller: CallerDep) -> schemas.NamespaceList:
    """Every namespace: managed or not, unmanaged policies, controllers and templates."""
    ns = caller.settings.netfence_namespace
    states, allowed = await asyncio.gather(
        reading.read_cluster(caller.client, netfence_namespace=ns),
        permissions.answers(caller, {"enable_namespaces": permissions.enable_namespaces()}),
    )
    return schemas.NamespaceList(
        namespaces=[views.namespace_row(state, ns) for state in states], permissions=allowed
    )


@router.get("/{namespace}", response_model=schemas.NamespaceDetail)
async def get_namespace(namespace: str, caller: CallerDep) -> schemas.NamespaceDetail:
    """One namespace: its controllers with their templates and all of its policies."""
    ns = caller.settings.netfence_namespace
    state, stored, allowed = await asyncio.gather(
        reading.read_namespace(caller.client, namespace, netfence_namespace=ns),
        template_store.load(caller.client, namespace=ns),
        permissions.answers(
            caller,
            {
                "enable_namespaces": permissions.enable_namespaces(),
                "attach": permissions.attach_in(namespace),
                # Restoring a backup recreates policies with the caller's own rights.
                "restore": permissions.restore_in(namespace),
            },
        ),
    )
    summary = summarize_namespace(state, netfence_namespace=ns)
    policies = sorted(state.policies, key=lambda p: (not p.is_managed, p.name))
    index = views.SelectorIndex(policies)
    statuses: views.StatusCache = {}
    warnings = []
    if summary.managed and summary.unmanaged_policies:
        warnings.append(
            f"{summary.unmanaged_policies} NetworkPolicies here were not made by netfence; "
            "they still apply, alongside netfence's."
        )
    return schemas.NamespaceDetail(
        name=namespace,
        state=summary.state,
        managed=summary.managed,
        unmanaged_policies=summary.unmanaged_policies,
        controllers=[
            views.controller_row(w, policies, index)
            for w in sorted(state.workloads, key=lambda w: (w.kind.value, w.name))
        ],
        policies=[views.policy_row(p, stored.catalog, statuses) for p in policies],
        backup=sorted(state.backup.entries) if state.backup else None,
        warnings=warnings,
        permissions=allowed,
    )


@router.get("/{namespace}/enable-preview", response_model=schemas.EnablePreview)
async def enable_preview(namespace: str, caller: CallerDep) -> schemas.EnablePreview:
    """What enabling would back up, delete and create. Changes nothing."""
    ns = caller.settings.netfence_namespace
    services.check_manageable(namespace, netfence_namespace=ns)
    state = await reading.read_namespace(caller.client, namespace, netfence_namespace=ns)
    stored, scoped = await asyncio.gather(
        template_store.load(caller.client, namespace=ns),
        inventories.for_impact(caller, namespace),
    )
    plan = services.preview_enable(state, stored.catalog, netfence_namespace=ns)
    backed_up = sorted((p for p in state.policies if not p.is_managed), key=lambda p: p.name)
    effect, note = await previews.impact(
        scoped,
        namespace,
        lambda inventory: analysis.preview_enable(
            inventory, state, stored.catalog, netfence_namespace=ns
        ),
    )
    return schemas.EnablePreview(
        namespace=namespace,
        backup=[
            schemas.NamedYaml(name=p.name, yaml=views.to_yaml(p.manifest())) for p in backed_up
        ],
        delete=[s.name for s in plan.steps if isinstance(s, DeletePolicy)],
        create=[
            schemas.NamedYaml(name=s.name, yaml=views.to_yaml(s.manifest))
            for s in plan.steps
            if isinstance(s, ApplyPolicy)
        ],
        warnings=[n.message for n in plan.refusals] + ([note] if note else []),
        impact=effect,
    )


@router.post("/{namespace}/enable", response_model=schemas.Message, status_code=202)
async def enable(namespace: str, caller: ChangingCallerDep) -> schemas.Message:
    """Label the namespace managed; the controller backs up, replaces and reports."""
    services.check_manageable(namespace, netfence_namespace=caller.settings.netfence_namespace)
    await actions.set_namespace_managed(caller.client, namespace, managed=True)
    return schemas.Message(
        message=f"Namespace {namespace} is being enabled: its policies are backed up, then "
        "replaced by deny-all-ingress and allow-namespace-communication."
    )


@router.post("/{namespace}/disable", response_model=schemas.DisableResult)
async def disable(
    namespace: str, body: schemas.Disable, caller: ChangingCallerDep
) -> schemas.DisableResult:
    """Remove the label; with `restore`, wait for netfence's policies to go, then restore."""
    ns = caller.settings.netfence_namespace
    if body.restore and not await permissions.can(caller, permissions.restore_in(namespace)):
        # Asked before anything changes: refusing the restore after the label is gone
        # would report a failure for a namespace that was in fact disabled.
        raise ApiProblem(
            403,
            f"You may not restore the backup of {namespace}: that recreates NetworkPolicies "
            "there, which your role does not allow. Nothing was changed; disable without "
            "restoring, or ask someone who may create NetworkPolicies in this namespace.",
            field="restore",
        )
    await actions.set_namespace_managed(caller.client, namespace, managed=False)
    if not body.restore:
        return schemas.DisableResult(
            message=f"Namespace {namespace} is being disabled: netfence removes its policies.",
            restored=[],
            skipped={},
        )
    state = await reading.until_released(
        caller.client, namespace, netfence_namespace=ns, timeout=15
    )
    remaining = [p.name for p in state.policies if p.is_managed]
    if remaining:
        return schemas.DisableResult(
            message=f"Disabled, but netfence's policies ({', '.join(remaining)}) are still "
            "there, so nothing was restored yet; is the controller running?",
            restored=[],
            skipped={},
        )
    if state.backup is None:
        return schemas.DisableResult(
            message=f"Disabled {namespace}; there was no backup.", restored=[], skipped={}
        )
    report = await actions.restore_backup(
        caller.client, namespace, state.backup, existing={p.name for p in state.policies}
    )
    return schemas.DisableResult(
        message=f"Disabled {namespace} and restored {len(report.restored)} policies.",
        restored=report.restored,
        skipped=report.skipped,
    )


async def _proposal(caller: Caller, namespace: str, name: str) -> services.UpdateProposal:
    ns = caller.settings.netfence_namespace
    state, stored = await asyncio.gather(
        reading.read_namespace(caller.client, namespace, netfence_namespace=ns),
        template_store.load(caller.client, namespace=ns),
    )
    return services.propose_update(state, stored.catalog, name)


def _spec_yaml(spec: Any) -> str:
    # Both sides in one key order (the API server returns keys sorted, rendering does
    # not), so that a line diff of current and proposed shows only real changes.
    return views.to_yaml({"spec": spec}, sort_keys=True)


def _preview(proposal: services.UpdateProposal) -> schemas.UpdatePreview:
    return schemas.UpdatePreview(
        policy=proposal.policy,
        template=proposal.template.name,
        current_yaml=_spec_yaml(proposal.current_spec),
        proposed_yaml=_spec_yaml(proposal.proposed_spec),
        changed=proposal.changed,
    )


@router.get("/{namespace}/policies/{name}/update-preview", response_model=schemas.UpdatePreview)
async def update_preview(namespace: str, name: str, caller: CallerDep) -> schemas.UpdatePreview:
    """The policy as it is and as its template's current version would make it, and the
    connections updating it would newly deny or allow."""
    proposal, scoped = await asyncio.gather(
        _proposal(caller, namespace, name), inventories.for_impact(caller, namespace)
    )
    effect, note = await previews.impact(
        scoped,
        namespace,
        lambda inventory: analysis.preview_policy_update(
            inventory, namespace, name, proposal.proposed_spec
        ),
    )
    return _preview(proposal).model_copy(update={"impact": effect, "impact_note": note})


@router.post("/{namespace}/policies/{name}/update", response_model=schemas.Message, status_code=202)
async def update(namespace: str, name: str, caller: ChangingCallerDep) -> schemas.Message:
    """Ask netfence to re-render this policy from its template's current version."""
    proposal = await _proposal(caller, namespace, name)
    await actions.request_refresh(
        caller.client, namespace, proposal.controller, proposal.template.name, proposal.version
    )
    return schemas.Message(
        message=f"Policy {name} is being updated to the current version of template "
        f"{proposal.template.name}."
    )
