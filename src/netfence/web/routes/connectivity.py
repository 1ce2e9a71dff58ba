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

from netfence.core import errors, name_syntax
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


def _graph_port(text: str | None) -> tuple[int | None, str | None]:
    """PORT or PORT/PROTOCOL (any protocol when it is left out); 422 for anything else."""
    if not text:
        return None, None
    number, _, protocol = text.partition("/")
    if not number.isdigit() or not 1 <= int(number) <= 65535:
        raise ApiProblem(
            422, f"port {text!r} is not PORT or PORT/PROTOCOL, e.g. 8080 or 53/UDP", field="port"
        )
    try:
        return int(number), parse_protocol(protocol) if protocol else None
    except ValueError as e:
        raise ApiProblem(422, f"port {text!r}: {e}", field="port") from e


@router.get("/connectivity/graph", response_model=schemas.ConnectivityGraph)
async def graph(
    request: Request,
    caller: CallerDep,
    namespace: Annotated[
        list[str] | None,
        Query(
            max_length=200,
            description="A namespace to draw (repeatable); every namespace when left out.",
        ),
    ] = None,
    port: Annotated[
        str | None, Query(max_length=16, description="Only this port: PORT or PORT/PROTOCOL.")
    ] = None,
    denied: Annotated[
        bool, Query(description="Also the denied connections into the namespaces drawn.")
    ] = False,
) -> Response:
    """Who may connect to whom, as a graph: controllers and bare pods as nodes, allowed
    connections as edges with their ports, a group of sources (every workload of a
    namespace, or of the cluster) as one edge where all of it is allowed alike."""
    wanted = sorted(set(namespace or ()))
    for name in wanted:
        problems = name_syntax.dns1123_label_errors(name)
        if problems:
            raise ApiProblem(422, f"namespace {name!r} {'; '.join(problems)}", field="namespace")
    number, protocol = _graph_port(port)

    async def answer() -> bytes:
        if wanted:
            scoped = await connectivity.scoped(caller.cluster.reader, wanted)
        else:
            try:
                scoped = connectivity.Scoped(await caller.cluster.reader.inventory(), True, ())
            except errors.AccessDenied as e:
                raise ApiProblem(
                    403,
                    "You may not read every namespace, so the graph of all of them cannot be "
                    "drawn: name the namespaces you may read (namespace=NS, repeatable).",
                    field="namespace",
                ) from e

        def compute() -> bytes:
            found = connectivity.graph(
                scoped.inventory, wanted, port=number, protocol=protocol, denied=denied
            )
            view = connectivity_views.graph_view(
                found, scoped.inventory, complete=scoped.complete, notes=scoped.notes
            )
            return view.model_dump_json(by_alias=True).encode()

        return await asyncio.to_thread(compute)

    # Drawn once for everyone who sees the same, until the cluster changes.
    revision = await caller.cluster.reader.revision()
    key = None if revision is None else ("graph", tuple(wanted), port, denied, revision)
    return Response(await answers_of(request).body(key, answer), media_type="application/json")


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
