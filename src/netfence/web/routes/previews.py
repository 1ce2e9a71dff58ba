"""Previews of attaching and detaching a template: the policy, and its effect on traffic.

The enable and update previews live with their namespace routes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from netfence.usecases import attachments
from netfence.web import connectivity_views, schemas, views
from netfence.web.callers import CallerDep
from netfence.web.routes.controllers import controller_ref
from netfence.web.routes.params import ControllerName, NamespaceName, TemplateName

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/controllers", tags=["connectivity"])

Action = Literal["attach", "detach"]


@router.get("/{kind}/{name}/templates/{template}/preview", response_model=schemas.AttachmentPreview)
async def attachment_preview(
    namespace: NamespaceName,
    kind: str,
    name: ControllerName,
    template: TemplateName,
    action: Annotated[Action, Query(description="attach or detach")],
    caller: CallerDep,
) -> schemas.AttachmentPreview:
    """What attaching (or detaching) a template would do: the NetworkPolicy netfence would
    create (or delete) and the connections that change. Changes nothing."""
    ref = controller_ref(kind, name)
    preview = await attachments.preview(
        caller.cluster, namespace, ref, template, attach=action == "attach"
    )
    effect, note = connectivity_views.impact_field(preview.impact, namespace)
    return schemas.AttachmentPreview(
        action=preview.action,
        namespace=namespace,
        controller=str(ref),
        template=template,
        policy=preview.policy,
        create=[
            schemas.NamedYaml(name=m["metadata"]["name"], yaml=views.to_yaml(m))
            for m in preview.changes.created
        ],
        delete=list(preview.changes.deleted),
        warnings=preview.warnings,
        impact=effect,
        impact_note=note,
    )
