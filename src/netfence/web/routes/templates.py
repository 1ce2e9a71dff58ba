"""/api/v1/templates: the admin-curated catalog."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query
from lightkube import ALL_NS, ApiError
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import errors, naming, templates
from netfence.kube import converting, template_store
from netfence.web import permissions, schemas, views
from netfence.web.callers import Caller, CallerDep, ChangingCallerDep
from netfence.web.errors import field_errors

router = APIRouter(prefix="/api/v1/templates", tags=["templates"])


async def _uses(
    caller: Caller, template: str | None = None
) -> dict[str, list[schemas.TemplateUse]] | None:
    """Where each template (or just `template`) is attached, or None if the caller may not
    list all policies. For one template the API server filters by its label."""
    labels: dict[str, Any] = {naming.ROLE_LABEL: naming.ROLE_ATTACHMENT}
    if template is not None:
        labels[naming.TEMPLATE_LABEL] = template
    try:
        found: dict[str, list[schemas.TemplateUse]] = {}
        async for obj in caller.client.list(NetworkPolicy, namespace=ALL_NS, labels=labels):
            policy = converting.policy_from(obj)
            if policy.template is not None:
                found.setdefault(policy.template, []).append(
                    schemas.TemplateUse(
                        namespace=policy.namespace,
                        policy=policy.name,
                        controller=str(policy.controller) if policy.controller else None,
                    )
                )
        return found
    except ApiError as e:
        if e.status.code == 403:
            return None
        raise


@router.get("", response_model=schemas.TemplateList)
async def list_templates(caller: CallerDep) -> schemas.TemplateList:
    ns = caller.settings.netfence_namespace
    stored, uses, allowed = await asyncio.gather(
        template_store.load(caller.client, namespace=ns),
        _uses(caller),
        permissions.answers(caller, {"edit_templates": permissions.edit_templates(ns)}),
    )
    return schemas.TemplateList(
        templates=[
            views.template_view(t, None if uses is None else uses.get(t.name, []))
            for t in stored.catalog.templates.values()
        ],
        invalid=[
            schemas.InvalidTemplateView(
                name=name, yaml=stored.data.get(name, ""), errors=field_errors(broken)
            )
            for name, broken in stored.catalog.broken.items()
        ],
        resource_version=stored.resource_version,
        permissions=allowed,
    )


@router.get("/{name}", response_model=schemas.TemplateView)
async def get_template(name: str, caller: CallerDep) -> schemas.TemplateView:
    stored = await template_store.load(caller.client, namespace=caller.settings.netfence_namespace)
    if name in stored.catalog.broken:
        raise stored.catalog.broken[name]
    template = stored.catalog.templates.get(name)
    if template is None:
        raise errors.NotFound(f"template {name} does not exist")
    uses = await _uses(caller, name)
    return views.template_view(template, None if uses is None else uses.get(name, []))


@router.post("/validate", response_model=schemas.Validation)
async def validate(body: schemas.TemplateDraft, _caller: CallerDep) -> schemas.Validation:
    """Check a draft with the same rules as saving it; writes nothing."""
    try:
        templates.parse_template(body.name, body.yaml)
    except errors.InvalidTemplate as e:
        return schemas.Validation(valid=False, errors=field_errors(e))
    return schemas.Validation(valid=True, errors=[])


@router.put("/{name}", response_model=schemas.TemplateView)
async def put_template(
    name: str, body: schemas.TemplateWrite, caller: ChangingCallerDep
) -> schemas.TemplateView:
    """Create or update a template. Existing policies keep the version they were made from.

    `resource_version` is the catalog version the editor was opened on: if someone changed
    the catalog since, the write fails with 409 instead of overwriting their change.
    """
    ns = caller.settings.netfence_namespace
    template = templates.parse_template(name, body.yaml)
    version = body.resource_version
    if version is None:
        version = (await template_store.load(caller.client, namespace=ns)).resource_version
    await template_store.put_many(
        caller.client, namespace=ns, documents={name: body.yaml}, resource_version=version
    )
    return views.template_view(template, None)


@router.delete("/{name}", response_model=schemas.Message)
async def delete_template(
    name: str, caller: ChangingCallerDep, resource_version: str | None = Query(default=None)
) -> schemas.Message:
    ns = caller.settings.netfence_namespace
    stored = await template_store.load(caller.client, namespace=ns)
    if name not in stored.data or stored.resource_version is None:
        raise errors.NotFound(f"template {name} does not exist")
    await template_store.remove(
        caller.client,
        namespace=ns,
        name=name,
        resource_version=resource_version or stored.resource_version,
    )
    return schemas.Message(
        message=f"Template {name} deleted; policies made from it stay as they are."
    )
