"""Connectivity: a namespace's matrix, why one connection is allowed or denied, pitfalls.

Each request reads what the analysis needs with the caller's own credentials: the whole
cluster when the caller may list it, else the namespaces in question
(`usecases.connectivity.scoped`).
The evaluation itself is pure computation, run in a worker thread so that a large
namespace does not hold up the event loop (which also runs the controller).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from netfence.core import name_syntax
from netfence.core.endpoints import parse_protocol
from netfence.usecases import connectivity
from netfence.web import connectivity_views, schemas
from netfence.web.answers import answers_of
from netfence.web.callers import CallerDep
from netfence.web.errors import ApiProblem
from netfence.web.routes.params import NamespaceName

router = APIRouter(prefix="/api/v1", tags=["connectivity"])

EndQuery = Annotated[
    str, Query(min_length=1, max_length=600, description="NAMESPACE/KIND/NAME or NAMESPACE/POD.")
]


@router.get("/namespaces/{namespace}/connectivity", response_model=schemas.ConnectivityMatrix)
async def namespace_connectivity(
    request: Request, namespace: NamespaceName, caller: CallerDep
) -> Response:
    """Who may connect to whom among the namespace's controllers (and pods no controller
    runs), per declared port, and how much of the rest of the cluster may connect in."""

    async def answer() -> bytes:
        scoped = await connectivity.scoped(caller.cluster.reader, [namespace])

        def compute() -> bytes:
            result = connectivity.namespace_matrix(
                scoped.inventory, namespace, others=scoped.complete
            )
            return connectivity_views.matrix_json(
                result, complete=scoped.complete, notes=scoped.notes
            )

        return await asyncio.to_thread(compute)

    revision = await caller.cluster.reader.revision()
    key = None if revision is None else ("matrix", namespace, revision)
    return Response(await answers_of(request).body(key, answer), media_type="application/json")


def _end(ref: str, field: str) -> str:
    """The namespace of NAMESPACE/NAME or NAMESPACE/KIND/NAME; 422 for anything else
    (the namespace is read from the API server, so it must be a valid name)."""
    parts = ref.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ApiProblem(
            422,
            f"{field} {ref!r} is not NAMESPACE/KIND/NAME (a controller) or NAMESPACE/POD",
            field=field,
        )
    problems = name_syntax.dns1123_label_errors(parts[0])
    if problems:
        raise ApiProblem(422, f"{field}: namespace {parts[0]!r} {'; '.join(problems)}", field=field)
    return parts[0]


@router.get("/connectivity/explain", response_model=schemas.Explanation)
async def explain(
    caller: CallerDep,
    source: EndQuery,
    destination: EndQuery,
    port: Annotated[
        str, Query(max_length=64, description="A number, or a port name the destination declares.")
    ],
    protocol: Annotated[str, Query(max_length=8, description="TCP, UDP or SCTP.")] = "TCP",
) -> schemas.Explanation:
    """Whether `source` may open a connection to `destination` on a port, and why: the
    policies that select each end, and the rule and peer that allowed it, or that none did."""
    try:
        wanted = parse_protocol(protocol)
    except ValueError as e:
        raise ApiProblem(422, str(e), field="protocol") from e
    namespaces = [_end(source, "source"), _end(destination, "destination")]
    # Egress is decided in the source's namespace and ingress in the destination's, so
    # those two are all a verdict needs, whoever asks.
    scoped = await connectivity.scoped(caller.cluster.reader, namespaces, whole=False)
    try:
        verdict = connectivity.explain(
            scoped.inventory, source, destination, port=port, protocol=wanted
        )
    except ValueError as e:
        raise ApiProblem(422, str(e), field="port") from e
    return connectivity_views.explanation(verdict)


@router.get("/namespaces/{namespace}/findings", response_model=schemas.FindingList)
async def findings(namespace: NamespaceName, caller: CallerDep) -> schemas.FindingList:
    """The pitfalls that concern the namespace (egress without DNS, selectors matching
    nothing, policies selecting nothing, peers ORed where AND was meant), and whether any
    network plugin enforces NetworkPolicy at all."""
    scoped = await connectivity.scoped(caller.cluster.reader, [namespace])
    notes = list(scoped.notes)
    if not scoped.complete:
        notes.append(
            "Selectors that look into other namespaces, and whether a network plugin "
            "enforces NetworkPolicy, need read access to every namespace; they were not "
            "checked."
        )

    def compute() -> schemas.FindingList:
        found = connectivity.check(scoped.inventory, look_for_plugin=scoped.complete)
        return connectivity_views.findings_view(
            found, namespace, complete=scoped.complete, notes=notes
        )

    return await asyncio.to_thread(compute)
