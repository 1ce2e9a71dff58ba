"""Connectivity results as API views: the matrix, explanations, findings, impacts (pure)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from netfence.core.endpoints import Endpoint
from netfence.core.evaluation import graphs, impacts, pitfalls
from netfence.core.evaluation.namespace_matrices import NamespaceMatrix
from netfence.core.evaluation.verdicts import Side, Verdict
from netfence.core.manifests import Inventory
from netfence.usecases import connectivity
from netfence.web import schemas

# Impact lists are cut here: enabling a namespace in a large cluster can newly deny
# hundreds of thousands of connections, and a person reads the first few hundred.
IMPACT_LIMIT = 500

ALLOWED, DENIED, PARTIAL, NO_PORTS = "allowed", "denied", "partial", "no-ports"


def endpoint_view(endpoint: Endpoint) -> schemas.EndpointView:
    names: dict[tuple[int, str], str] = {}
    for port in endpoint.ports:
        if port.name:
            names.setdefault((port.port, port.protocol), port.name)
    return schemas.EndpointView(
        id=endpoint.key,
        namespace=endpoint.namespace,
        kind=endpoint.kind,
        name=endpoint.name,
        ports=[
            schemas.PortView(port=port, protocol=protocol, name=names.get((port, protocol)))
            for port, protocol in endpoint.declared()
        ],
    )


def verdict_word(allowed: Sequence[bool]) -> str:
    if not allowed:
        return NO_PORTS
    if all(allowed):
        return ALLOWED
    return PARTIAL if any(allowed) else DENIED


def _count_word(counts: Sequence[int], sources: int) -> str:
    if not counts:
        return NO_PORTS
    if sources and all(c == sources for c in counts):
        return ALLOWED
    return PARTIAL if any(counts) else DENIED


def matrix_json(result: NamespaceMatrix, *, complete: bool, notes: Sequence[str]) -> bytes:
    """The matrix as the JSON of `schemas.ConnectivityMatrix`, written directly.

    A namespace of 500 controllers has 250,000 cells; validating them into models and
    back (what a response model costs) took longer than evaluating them. The cells are
    shared tuples (see `core.evaluation.namespace_matrices`), so each distinct one is named
    once, and orjson writes the document in one pass (the CLI's writers use it as well).
    """
    endpoints = result.endpoints
    words: dict[tuple[bool, ...], str] = {}
    counts = dict.fromkeys((ALLOWED, DENIED, PARTIAL, NO_PORTS), 0)
    verdict_rows: dict[int, list[str]] = {}
    rows = []
    for source, cells in zip(endpoints, result.allowed, strict=True):
        verdicts = verdict_rows.get(id(cells))
        if verdicts is None:
            verdicts = []
            for cell in cells:
                word = words.get(cell)
                if word is None:
                    word = words[cell] = verdict_word(cell)
                verdicts.append(word)
            verdict_rows[id(cells)] = verdicts
        for word in verdicts:
            counts[word] += 1
        rows.append({"source": source.key, "verdicts": verdicts, "ports": cells})
    others = None
    if result.others is not None and result.outside is not None:
        sources = result.outside
        others = {
            "sources": sources,
            "verdicts": [_count_word(c.allowed, sources) for c in result.others],
            "ports": [c.allowed for c in result.others],
            "allowed_examples": [c.allowed_examples for c in result.others],
            "denied_examples": [c.denied_examples for c in result.others],
        }
    document = {
        "namespace": result.namespace,
        "endpoints": [endpoint_view(e).model_dump() for e in endpoints],
        "rows": rows,
        "others": others,
        "counts": counts,
        "complete": complete,
        "notes": list(notes),
    }
    return orjson.dumps(document)


def graph_view(
    graph: graphs.Graph, inventory: Inventory, *, complete: bool, notes: Sequence[str]
) -> schemas.ConnectivityGraph:
    def port(key: tuple[int, str]) -> schemas.GraphPort:
        return schemas.GraphPort(port=key[0], protocol=key[1])

    known = {ns.name for ns in inventory.namespaces} | {e.namespace for e in inventory.units()}
    return schemas.ConnectivityGraph(
        namespaces=list(graph.namespaces),
        nodes=[
            schemas.GraphNode(
                **endpoint_view(n.endpoint).model_dump(),
                ingress_policies=list(n.ingress_policies),
                egress_policies=list(n.egress_policies),
                shown=n.shown,
            )
            for n in graph.nodes
        ],
        groups=[
            schemas.GraphGroup(id=g.id, namespace=g.namespace, size=g.size, example=g.example)
            for g in graph.groups
        ],
        edges=[
            schemas.GraphEdge(
                source=e.source,
                destination=e.destination,
                allowed=e.allowed,
                ports=[port(k) for k in e.ports],
                excepted=list(e.excepted),
                example=e.example,
            )
            for e in graph.edges
        ],
        ports=[port(k) for k in graph.ports],
        hidden=graph.hidden,
        known_namespaces=sorted(known),
        complete=complete,
        notes=list(notes),
    )


def _side(side: Side, peer_word: str) -> schemas.SideView:
    return schemas.SideView(
        endpoint=side.endpoint.key,
        isolated=side.isolated,
        allowed=side.allowed,
        policies=list(side.policies),
        rules=[
            schemas.RuleCheckView(
                policy=c.policy,
                rule=c.rule,
                allows=c.allows,
                peer_matched=c.peer is not None,
                peer=c.peer_description,
                port_matched=c.port is not None,
                port=c.port_description,
            )
            for c in side.checks
        ],
        reasons=side.reasons(peer_word=peer_word),
    )


def explanation(verdict: Verdict) -> schemas.Explanation:
    return schemas.Explanation(
        source=verdict.source.key,
        destination=verdict.destination.key,
        port=verdict.port,
        protocol=verdict.protocol,
        allowed=verdict.allowed,
        headline=verdict.headline(),
        egress=_side(verdict.egress, "destination"),
        ingress=_side(verdict.ingress, "source"),
        reasons=verdict.reasons(),
        notes=list(verdict.notes),
    )


def _connection(c: impacts.Connection) -> schemas.Connection:
    return schemas.Connection(
        source=c.source.key, destination=c.destination.key, port=c.port, protocol=c.protocol
    )


def impact_view(
    report: impacts.ImpactReport, namespace: str, *, complete: bool, notes: Sequence[str]
) -> schemas.Impact:
    """The impact of a change to `namespace`'s policies. Of the endpoints without ports,
    only the namespace's are named: those elsewhere are rarely what the change is about,
    and a cluster has many (CronJobs seldom declare a port)."""
    unlisted = [e.key for e in report.without_ports if e.namespace == namespace]
    return schemas.Impact(
        newly_denied=[_connection(c) for c in report.newly_denied[:IMPACT_LIMIT]],
        newly_allowed=[_connection(c) for c in report.newly_allowed[:IMPACT_LIMIT]],
        not_covered=unlisted[:IMPACT_LIMIT],
        newly_denied_total=len(report.newly_denied),
        newly_allowed_total=len(report.newly_allowed),
        complete=complete,
        notes=list(notes),
    )


def impact_field(
    impact: connectivity.Impact | str | None, namespace: str
) -> tuple[schemas.Impact | None, str | None]:
    """A preview's impact as the API shows it, or (None, why there is none)."""
    if impact is None or isinstance(impact, str):
        return None, impact
    view = impact_view(impact.report, namespace, complete=impact.complete, notes=impact.notes)
    return view, None


def _about(obj: str, namespace: str) -> bool:
    # "NetworkPolicy NS/NAME", "NS/Kind/NAME" or "NS/POD"
    return obj.rpartition(" ")[2].startswith(f"{namespace}/")


# Findings that can be judged from one namespace's objects alone. The others look for
# what selectors match elsewhere (which a caller who reads one namespace cannot see), or
# for a network plugin, which runs in a namespace of its own.
_LOCAL_KINDS = frozenset(
    {
        pitfalls.Kind.NO_DNS,
        pitfalls.Kind.POLICY_SELECTS_NOTHING,
        pitfalls.Kind.OR_WHERE_AND,
        pitfalls.Kind.NON_CANONICAL_CIDR,
        pitfalls.Kind.PORTS_MATCH_NOTHING,
    }
)
_OWN_NAMESPACE_PEER = "a podSelector alone means the policy's own"


def judged_locally(finding: pitfalls.Finding) -> bool:
    """Whether a finding made from one namespace's objects holds for the whole cluster."""
    if finding.kind in _LOCAL_KINDS:
        return True
    return finding.kind is pitfalls.Kind.PODS_MATCH_NOTHING and (
        _OWN_NAMESPACE_PEER in finding.message
    )


def findings_view(
    found: Sequence[pitfalls.Finding], namespace: str, *, complete: bool, notes: Sequence[str]
) -> schemas.FindingList:
    shown = []
    for finding in found:
        if finding.kind is pitfalls.Kind.NO_ENFORCING_PLUGIN:
            scope = "cluster"
        elif any(_about(obj, namespace) for obj in finding.objects):
            scope = "namespace"
        else:
            continue
        if not complete and not judged_locally(finding):
            continue
        shown.append(
            schemas.FindingView(
                kind=finding.kind.value,
                message=finding.message,
                objects=list(finding.objects),
                fix=finding.fix,
                scope=scope,
            )
        )
    return schemas.FindingList(
        namespace=namespace, findings=shown, complete=complete, notes=list(notes)
    )
