"""/api/v1/namespaces: the cluster view, one namespace, enabling and disabling."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from netfence.core import errors
from netfence.usecases import attachments, namespaces, permissions
from netfence.web import connectivity_views, schemas, views
from netfence.web.answers import answers_of
from netfence.web.callers import CallerDep, ChangingCallerDep
from netfence.web.routes.params import NamespaceName, PolicyName

router = APIRouter(prefix="/api/v1/namespaces", tags=["namespaces"])


# Namespaces netfence never manages (kube-system, its own ...), and those labelled
# managed anyway, which it refuses.
_SYSTEM_STATES = frozenset({"system", "refused"})


@router.get("", response_model=schemas.NamespaceList)
async def list_namespaces(
    request: Request,
    caller: CallerDep,
    q: Annotated[
        str | None, Query(max_length=253, description="Only namespaces whose name contains this.")
    ] = None,
    system: Annotated[
        bool, Query(description="Include system namespaces (kube-system, netfence's own ...).")
    ] = True,
    limit: Annotated[
        int | None, Query(ge=1, le=10000, description="At most this many rows (default: all).")
    ] = None,
    after: Annotated[
        str | None,
        Query(
            alias="continue",
            pattern=r"^[0-9]{1,6}$",
            description="The `continue` of the previous page.",
        ),
    ] = None,
) -> Response:
    """Every namespace the caller may read: managed or not, unmanaged policies, controllers
    and templates; a page of them with `limit` (the console asks for a few hundred)."""

    async def rows() -> tuple[list[dict[str, Any]], dict[str, int], list[str]]:
        found = [
            views.namespace_row(s).model_dump() for s in await namespaces.status(caller.cluster)
        ]
        ordinary = [r for r in found if r["state"] not in _SYSTEM_STATES]
        totals = {
            "namespaces": len(ordinary),
            "managed": sum(1 for r in ordinary if r["state"] == "managed"),
            "unmanaged_policies": sum(r["unmanaged_policies"] for r in ordinary),
            "controllers": sum(r["controllers"] for r in ordinary),
            "attached_templates": sum(r["attached_templates"] for r in ordinary),
        }
        return found, totals, [r["name"] for r in found if r["state"] == "refused"]

    revision = await caller.cluster.reader.revision()
    found, totals, refused = await answers_of(request).body(
        None if revision is None else ("namespaces", revision), rows
    )
    needle = (q or "").strip().lower()
    matching = [
        r
        for r in found
        if (system or r["state"] not in _SYSTEM_STATES) and (not needle or needle in r["name"])
    ]
    start = int(after or 0)
    end = len(matching) if limit is None else start + limit
    allowed = await permissions.answers(
        caller.cluster.authorizer, {"enable_namespaces": permissions.enable_namespaces()}
    )
    # The rows are shared by everyone who sees the same; the permissions are the caller's.
    body = {
        "namespaces": matching[start:end],
        "permissions": allowed,
        "total": len(matching),
        "totals": totals,
        "refused": refused,
        "continue": str(end) if end < len(matching) else None,
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/{namespace}", response_model=schemas.NamespaceDetail)
async def get_namespace(request: Request, namespace: NamespaceName, caller: CallerDep) -> Response:
    """One namespace: its controllers with their templates and all of its policies."""
    found = await namespaces.detail(caller.cluster, namespace)
    revision = await caller.cluster.reader.revision()
    # Rendering (every policy's YAML, the template statuses) is the cost; it is shared by
    # callers who see the same and have the same rights here.
    key = (
        None
        if revision is None
        else ("namespace", namespace, revision, tuple(sorted(found.permissions.items())))
    )

    async def render() -> bytes:
        return views.namespace_detail(found).model_dump_json(by_alias=True).encode()

    return Response(await answers_of(request).body(key, render), media_type="application/json")


@router.get("/{namespace}/enable-preview", response_model=schemas.EnablePreview)
async def enable_preview(namespace: NamespaceName, caller: CallerDep) -> schemas.EnablePreview:
    """What enabling would back up, delete and create. Changes nothing."""
    preview = await namespaces.preview_enable(caller.cluster, namespace)
    effect, note = connectivity_views.impact_field(preview.impact, namespace)
    return schemas.EnablePreview(
        namespace=namespace,
        backup=[
            schemas.NamedYaml(name=p.name, yaml=views.to_yaml(p.manifest()))
            for p in preview.backed_up
        ],
        delete=preview.deletes,
        create=[
            schemas.NamedYaml(name=s.name, yaml=views.to_yaml(s.manifest)) for s in preview.creates
        ],
        warnings=preview.warnings + ([note] if note else []),
        impact=effect,
    )


@router.post("/{namespace}/enable", response_model=schemas.Message, status_code=202)
async def enable(namespace: NamespaceName, caller: ChangingCallerDep) -> schemas.Message:
    """Label the namespace managed; the controller backs up, replaces and reports."""
    await namespaces.enable(caller.cluster, namespace)
    return schemas.Message(
        message=f"Namespace {namespace} is being enabled: its policies are backed up, then "
        "replaced by deny-all-ingress and allow-namespace-communication."
    )


@router.get("/{namespace}/disable-preview", response_model=schemas.DisablePreview)
async def disable_preview(
    namespace: NamespaceName,
    caller: CallerDep,
    restore: Annotated[bool, Query(description="Also restore the backup")] = False,
) -> schemas.DisablePreview:
    """What disabling would delete and (with `restore`) put back from the backup, and the
    connections that change. Changes nothing."""
    preview = await namespaces.preview_disable(caller.cluster, namespace, restore=restore)
    effect, note = connectivity_views.impact_field(preview.impact, namespace)
    return schemas.DisablePreview(
        namespace=namespace,
        managed=preview.was_managed,
        delete=sorted(preview.deletes),
        backup=list(preview.backed_up) if preview.has_backup else None,
        restore=[
            schemas.NamedYaml(name=m["metadata"]["name"], yaml=views.to_yaml(m))
            for m in preview.restored
        ],
        skipped=dict(preview.skipped),
        warnings=preview.warnings,
        impact=effect,
        impact_note=note,
    )


@router.post("/{namespace}/disable", response_model=schemas.DisableResult)
async def disable(
    namespace: NamespaceName, body: schemas.Disable, caller: ChangingCallerDep
) -> schemas.DisableResult:
    """Remove the label; with `restore`, wait for netfence's policies to go, then restore."""
    try:
        result = await namespaces.disable(
            caller.cluster, namespace, restore=body.restore, wait=15 if body.restore else 0
        )
    except errors.AccessDenied as e:
        raise errors.AccessDenied(str(e), field="restore") from e
    return views.disable_result(result)


def _spec_yaml(spec: Any) -> str:
    # Both sides in one key order (the API server returns keys sorted, rendering does
    # not), so that a line diff of current and proposed shows only real changes.
    return views.to_yaml({"spec": spec}, sort_keys=True)


@router.get("/{namespace}/policies/{name}/update-preview", response_model=schemas.UpdatePreview)
async def update_preview(
    namespace: NamespaceName, name: PolicyName, caller: CallerDep
) -> schemas.UpdatePreview:
    """The policy as it is and as its template's current version would make it, and the
    connections updating it would newly deny or allow."""
    proposal = await attachments.proposal(caller.cluster, namespace, name, impact=True)
    effect, note = connectivity_views.impact_field(proposal.impact, namespace)
    return schemas.UpdatePreview(
        policy=proposal.policy,
        template=proposal.template.name,
        current_yaml=_spec_yaml(proposal.current_spec),
        proposed_yaml=_spec_yaml(proposal.proposed_spec),
        changed=proposal.changed,
        impact=effect,
        impact_note=note,
    )


@router.post("/{namespace}/policies/{name}/update", response_model=schemas.Message, status_code=202)
async def update(
    namespace: NamespaceName, name: PolicyName, caller: ChangingCallerDep
) -> schemas.Message:
    """Ask netfence to re-render this policy from its template's current version."""
    proposal = await attachments.update(caller.cluster, namespace, name)
    return schemas.Message(
        message=f"Policy {name} is being updated to the current version of template "
        f"{proposal.template.name}."
    )
