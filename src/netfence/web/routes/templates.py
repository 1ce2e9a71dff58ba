"""/api/v1/templates: the admin-curated catalog."""

from __future__ import annotations

from fastapi import APIRouter

from netfence.core.objects import Policy
from netfence.usecases import templates
from netfence.web import schemas, views
from netfence.web.callers import CallerDep, ChangingCallerDep
from netfence.web.errors import field_errors
from netfence.web.routes.params import (
    NewTemplateName,
    ResourceVersionField,
    ResourceVersionQuery,
    TemplateName,
)

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


class TemplateWrite(schemas.TemplateWrite):
    """The body of a write, its resource_version checked like the delete's query (it goes
    to the API server as the patch's precondition)."""

    resource_version: ResourceVersionField = None


def _uses(policies: list[Policy] | None) -> list[schemas.TemplateUse] | None:
    if policies is None:
        return None
    return [
        schemas.TemplateUse(
            namespace=p.namespace,
            policy=p.name,
            controller=str(p.controller) if p.controller else None,
        )
        for p in policies
    ]


@router.get("", response_model=schemas.TemplateList)
async def list_templates(caller: CallerDep) -> schemas.TemplateList:
    found = await templates.listing(caller.cluster)
    uses = found.uses
    return schemas.TemplateList(
        templates=[
            views.template_view(t, None if uses is None else _uses(uses.get(t.name, [])))
            for t in found.stored.catalog.templates.values()
        ],
        invalid=[
            schemas.InvalidTemplateView(
                name=name, yaml=found.stored.data.get(name, ""), errors=field_errors(broken)
            )
            for name, broken in found.stored.catalog.broken.items()
        ],
        resource_version=found.stored.resource_version,
        permissions={"edit_templates": found.can_edit},
    )


@router.get("/{name}", response_model=schemas.TemplateView)
async def get_template(name: TemplateName, caller: CallerDep) -> schemas.TemplateView:
    shown = await templates.show(caller.cluster, name, uses=True)
    return views.template_view(shown.template, _uses(shown.uses))


@router.post("/validate", response_model=schemas.Validation)
async def validate(body: schemas.TemplateDraft, _caller: CallerDep) -> schemas.Validation:
    """Check a draft with the same rules as saving it; writes nothing."""
    problem = templates.validate(body.name, body.yaml)
    if problem is not None:
        return schemas.Validation(valid=False, errors=field_errors(problem))
    return schemas.Validation(valid=True, errors=[])


@router.put("/{name}", response_model=schemas.TemplateView)
async def put_template(
    name: NewTemplateName, body: TemplateWrite, caller: ChangingCallerDep
) -> schemas.TemplateView:
    """Create or update a template. Existing policies keep the version they were made from.

    `resource_version` is the catalog version the editor was opened on: if someone changed
    the catalog since, the write fails with 409 instead of overwriting their change.
    """
    applied = await templates.apply(
        caller.cluster, {name: body.yaml}, resource_version=body.resource_version
    )
    return views.template_view(applied.templates[0], None)


@router.delete("/{name}", response_model=schemas.Message)
async def delete_template(
    name: TemplateName, caller: ChangingCallerDep, resource_version: ResourceVersionQuery = None
) -> schemas.Message:
    await templates.delete(caller.cluster, name, resource_version=resource_version)
    return schemas.Message(
        message=f"Template {name} deleted; policies made from it stay as they are."
    )
