"""/api/v1/namespaces/{ns}/controllers: one controller, attaching and detaching templates."""

from __future__ import annotations

from fastapi import APIRouter

from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.usecases import attachments
from netfence.web import schemas, views
from netfence.web.callers import CallerDep, ChangingCallerDep
from netfence.web.errors import ApiProblem
from netfence.web.routes.params import ControllerName, NamespaceName, TemplateName

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/controllers", tags=["controllers"])


def controller_ref(kind: str, name: str) -> WorkloadRef:
    try:
        return WorkloadRef(WorkloadKind.parse(kind), name)
    except ValueError as e:
        raise ApiProblem(404, str(e), field="kind") from e


@router.get("/{kind}/{name}", response_model=schemas.ControllerDetail)
async def get_controller(
    namespace: NamespaceName, kind: str, name: ControllerName, caller: CallerDep
) -> schemas.ControllerDetail:
    """One controller: its templates and every policy that selects its pods."""
    ref = controller_ref(kind, name)
    return views.controller_detail(await attachments.controller(caller.cluster, namespace, ref))


@router.post("/{kind}/{name}/templates", response_model=schemas.Message, status_code=202)
async def attach(
    namespace: NamespaceName,
    kind: str,
    name: ControllerName,
    body: schemas.Attach,
    caller: ChangingCallerDep,
) -> schemas.Message:
    """Attach a template (a label on the controller); netfence creates the policy."""
    ref = controller_ref(kind, name)
    policy = await attachments.attach(caller.cluster, namespace, ref, body.template)
    return schemas.Message(
        message=f"Template {body.template} attached to {ref}; netfence creates "
        f"NetworkPolicy {policy}."
    )


@router.delete(
    "/{kind}/{name}/templates/{template}", response_model=schemas.Message, status_code=202
)
async def detach(
    namespace: NamespaceName,
    kind: str,
    name: ControllerName,
    template: TemplateName,
    caller: ChangingCallerDep,
) -> schemas.Message:
    """Detach a template (remove the label); netfence deletes the policy."""
    ref = controller_ref(kind, name)
    await attachments.detach(caller.cluster, namespace, ref, template)
    return schemas.Message(
        message=f"Template {template} detached from {ref}; netfence deletes its policy."
    )
