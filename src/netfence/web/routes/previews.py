"""Previews of attaching and detaching a template: the policy, and its effect on traffic.

The enable and update previews live with their namespace routes and use the same helpers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from netfence import analysis
from netfence.core import errors, manifests, naming
from netfence.core.objects import WorkloadKind, WorkloadRef
from netfence.kube import reading, template_store
from netfence.web import connectivity_views, inventories, schemas, views
from netfence.web.callers import CallerDep
from netfence.web.errors import ApiProblem

router = APIRouter(prefix="/api/v1/namespaces/{namespace}/controllers", tags=["connectivity"])

Action = Literal["attach", "detach"]


async def impact(
    scoped: inventories.Scoped | str,
    namespace: str,
    preview: Callable[[manifests.Inventory], analysis.ChangePreview],
) -> tuple[schemas.Impact | None, str | None]:
    """The impact of a change to `namespace` computed from `scoped`, or (None, why not)."""
    if isinstance(scoped, str):
        return None, scoped

    def compute() -> schemas.Impact:
        report = preview(scoped.inventory).impact
        return connectivity_views.impact_view(
            report, namespace, complete=scoped.complete, notes=scoped.notes
        )

    return await asyncio.to_thread(compute), None


@router.get("/{kind}/{name}/templates/{template}/preview", response_model=schemas.AttachmentPreview)
async def attachment_preview(
    namespace: str,
    kind: str,
    name: str,
    template: str,
    action: Annotated[Action, Query(description="attach or detach")],
    caller: CallerDep,
) -> schemas.AttachmentPreview:
    """What attaching (or detaching) a template would do: the NetworkPolicy netfence would
    create (or delete) and the connections that change. Changes nothing."""
    try:
        ref = WorkloadRef(WorkloadKind.parse(kind), name)
    except ValueError as e:
        raise ApiProblem(404, str(e), field="kind") from e
    ns = caller.settings.netfence_namespace
    state, stored, scoped = await asyncio.gather(
        reading.read_namespace(caller.client, namespace, netfence_namespace=ns),
        template_store.load(caller.client, namespace=ns),
        inventories.for_impact(caller, namespace),
    )
    workload = next((w for w in state.workloads if w.ref == ref), None)
    if workload is None:
        raise errors.NotFound(f"{ref.kind.value} {name} does not exist in {namespace}")
    catalog = stored.catalog
    attach = action == "attach"
    if attach:
        if template in catalog.broken:
            raise ApiProblem(422, str(catalog.broken[template]), field="template")
        if template not in catalog.templates:
            known = ", ".join(sorted(catalog.templates)) or "none"
            raise ApiProblem(
                404,
                f"Template {template} does not exist; known templates: {known}.",
                field="template",
            )
    elif template not in workload.attached_templates:
        raise ApiProblem(404, f"Template {template} is not attached to {ref}.", field="template")

    def preview(inventory: manifests.Inventory) -> analysis.ChangePreview:
        return analysis.preview_attachment(
            inventory, state, ref, template, catalog, attach=attach, netfence_namespace=ns
        )

    # The policies changed, from the namespace alone (always readable here) ...
    changes = preview(manifests.Inventory(policies=tuple(state.policies)))
    # ... and their effect, from as much of the cluster as the caller may read.
    effect, note = await impact(scoped, namespace, preview)
    warnings = [n.message for n in changes.refusals]
    if not (state.namespace and state.namespace.wants_management):
        warnings.append(
            f"netfence does not manage {namespace}, so nothing changes until an admin "
            "enables it; the template label is kept until then."
        )
    return schemas.AttachmentPreview(
        action=action,
        namespace=namespace,
        controller=str(ref),
        template=template,
        policy=naming.attachment_policy_name(ref.kind.value, name, template),
        create=[
            schemas.NamedYaml(name=m["metadata"]["name"], yaml=views.to_yaml(m))
            for m in changes.created
        ],
        delete=list(changes.deleted),
        warnings=warnings,
        impact=effect,
        impact_note=note,
    )
