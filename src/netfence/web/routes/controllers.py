"""/api/v1/namespaces/{ns}/controllers: one controller, attaching and detaching templates."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from netfence.core import errors, naming
from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.kube import actions, reading, template_store
from netfence.web import permissions, schemas, views
from netfence.web.callers import Caller, CallerDep, ChangingCallerDep
from netfence.web.errors import ApiProblem

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/controllers", tags=["controllers"])


def _kind(kind: str) -> WorkloadKind:
    try:
        return WorkloadKind.parse(kind)
    except ValueError as e:
        raise ApiProblem(404, str(e), field="kind") from e


@router.get("/{kind}/{name}", response_model=schemas.ControllerDetail)
async def get_controller(
    namespace: str, kind: str, name: str, caller: CallerDep
) -> schemas.ControllerDetail:
    """One controller: its templates and every policy that selects its pods."""
    workload_kind = _kind(kind)
    ns = caller.settings.netfence_namespace
    state, stored, allowed = await asyncio.gather(
        reading.read_namespace(caller.client, namespace, netfence_namespace=ns),
        template_store.load(caller.client, namespace=ns),
        permissions.answers(caller, {"attach": permissions.attach_in(namespace, workload_kind)}),
    )
    workload = next(
        (w for w in state.workloads if w.kind is workload_kind and w.name == name), None
    )
    if workload is None:
        raise errors.NotFound(f"{workload_kind.value} {name} does not exist in {namespace}")
    selecting = [p for p in state.policies if views.selects(p, workload)]
    return schemas.ControllerDetail(
        namespace=namespace,
        kind=workload.kind.value,
        name=workload.name,
        templates=list(workload.attached_templates),
        pod_labels=dict(workload.pod_labels),
        selector=workload.pod_selector,
        policies=[
            views.policy_row(p, stored.catalog)
            for p in sorted(selecting, key=lambda p: (not p.is_managed, p.name))
        ],
        namespace_managed=bool(state.namespace and state.namespace.wants_management),
        permissions=allowed,
    )


async def _check_template(caller: Caller, template: str) -> None:
    stored = await template_store.load(caller.client, namespace=caller.settings.netfence_namespace)
    if template in stored.catalog.broken:
        raise ApiProblem(422, str(stored.catalog.broken[template]), field="template")
    if template not in stored.catalog.templates:
        known = ", ".join(sorted(stored.catalog.templates)) or "none"
        raise ApiProblem(
            404, f"Template {template} does not exist; known templates: {known}.", field="template"
        )


@router.post("/{kind}/{name}/templates", response_model=schemas.Message, status_code=202)
async def attach(
    namespace: str, kind: str, name: str, body: schemas.Attach, caller: ChangingCallerDep
) -> schemas.Message:
    """Attach a template (a label on the controller); netfence creates the policy."""
    ref = WorkloadRef(_kind(kind), name)
    await _check_template(caller, body.template)
    await actions.set_template_label(caller.client, namespace, ref, body.template, attached=True)
    policy = naming.attachment_policy_name(ref.kind.value, name, body.template)
    return schemas.Message(
        message=f"Template {body.template} attached to {ref}; netfence creates "
        f"NetworkPolicy {policy}."
    )


@router.delete(
    "/{kind}/{name}/templates/{template}", response_model=schemas.Message, status_code=202
)
async def detach(
    namespace: str, kind: str, name: str, template: str, caller: ChangingCallerDep
) -> schemas.Message:
    """Detach a template (remove the label); netfence deletes the policy."""
    ref = WorkloadRef(_kind(kind), name)
    await actions.set_template_label(caller.client, namespace, ref, template, attached=False)
    return schemas.Message(
        message=f"Template {template} detached from {ref}; netfence deletes its policy."
    )
