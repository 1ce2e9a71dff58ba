"""Pitfalls of attaching templates, learned from the demo (`check` and the attach preview).

* An ingress rule whose `ports` match no port the pods it selects declare opens nothing
  they declare: `http` opens 80, the demo's frontend declares 8080. Judged only where
  every selected pod or controller declares ports (declaring them is optional, and a pod
  may listen on one it does not declare); a named port no selected pod declares opens
  nothing at all, since names resolve against declared ports only.
* An egress template attached to a controller makes its pods egress-isolated: from then
  on they may send only what their egress policies allow, so attaching `dns` alone cuts
  them off from everything else. The preview says which connections that newly denies
  and which templates of the catalog, attached as well, would restore them.

Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from netfence.core import bitsets, naming
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.evaluation.findings import Finding, Kind
from netfence.core.evaluation.impacts import Connection
from netfence.core.evaluation.targets import Rule, Target
from netfence.core.objects import Namespace, Policy, WorkloadKind

_SHOWN = 3


def ports_opening_nothing(
    evaluator: Evaluator, policies: Iterable[Policy], count: int | None = None
) -> list[Finding]:
    """Every ingress rule with a `ports` list that matches no port the endpoints its policy
    selects declare. Only the first `count` endpoints of the evaluator count as selected
    (the others are stand-ins); all of them when None."""
    by_key = {f"{p.namespace}/{p.name}": p for p in policies}
    real = bitsets.full(evaluator.size if count is None else count)
    findings = []
    for number, target in enumerate(evaluator.targets):
        selected = [
            evaluator.endpoints[i] for i in bitsets.indices(evaluator.selected[number] & real)
        ]
        if not selected or not all(e.ports for e in selected):
            continue
        for rule in target.ingress or ():
            if rule.ports is not None and not _opens_any(rule, selected):
                findings.append(_ports_finding(target, rule, selected, by_key.get(target.key)))
    return findings


def ports_opening_nothing_in(
    created: Sequence[Policy], endpoints: Sequence[Endpoint], namespaces: Iterable[Namespace]
) -> list[Finding]:
    """`ports_opening_nothing` for the policies a change creates, among `endpoints`."""
    evaluator = Evaluator(namespaces=namespaces, endpoints=endpoints, policies=created)
    return ports_opening_nothing(evaluator, created)


def _opens_any(rule: Rule, selected: Sequence[Endpoint]) -> bool:
    assert rule.ports is not None
    return any(
        matcher.matches(port, protocol, endpoint)
        for endpoint in selected
        for port, protocol in endpoint.declared()
        for matcher in rule.ports
    )


def _ports_finding(
    target: Target, rule: Rule, selected: Sequence[Endpoint], policy: Policy | None
) -> Finding:
    assert rule.ports is not None
    opened = ", ".join(m.describe() for m in rule.ports)
    declared = ", ".join(sorted({str(p) for e in selected for p in e.ports}))
    names = _some([e.key for e in selected])
    labels = policy.labels if policy is not None else {}
    template = labels.get(naming.TEMPLATE_LABEL)
    kind = _kind_name(labels.get(naming.CONTROLLER_KIND_LABEL))
    controller = labels.get(naming.CONTROLLER_NAME_LABEL)
    objects = (f"NetworkPolicy {target.key}", *(e.key for e in selected[:_SHOWN]))
    if template and kind and controller:
        return Finding(
            kind=Kind.PORTS_MATCH_NOTHING,
            message=(
                f"template {template} attached to {kind} {target.namespace}/{controller} "
                f"opens {opened} ({target.key} {rule.path}), but {names} declare only "
                f"{declared}: it opens no port they declare"
            ),
            objects=objects,
            fix=(
                f"attach a template that opens {declared} instead (netfence detach "
                f"{kind}/{controller} {template} -n {target.namespace}), or declare the "
                f"containerPort if the pods do listen on {opened}"
            ),
        )
    return Finding(
        kind=Kind.PORTS_MATCH_NOTHING,
        message=(
            f"NetworkPolicy {target.key} {rule.path} opens {opened}, but the pods it selects "
            f"({names}) declare only {declared}: it opens no port they declare"
        ),
        objects=objects,
        fix=(
            f"open the port the pods declare ({declared}), or declare the containerPort if "
            f"they do listen on {opened}"
        ),
    )


def _kind_name(label: str | None) -> str | None:
    """`Deployment` for the label's `deployment`, as endpoints and commands spell it."""
    if label is None:
        return None
    try:
        return WorkloadKind.parse(label).value
    except ValueError:
        return label


# --- egress isolation ---------------------------------------------------------------------


def still_allowed(
    connections: Sequence[Connection],
    *,
    endpoints: Sequence[Endpoint],
    namespaces: Iterable[Namespace],
    policies: Iterable[Policy],
) -> tuple[Connection, ...]:
    """The connections these policies allow (each end must be among `endpoints`)."""
    evaluator = Evaluator(namespaces=namespaces, endpoints=endpoints, policies=policies)
    kept = []
    for connection in connections:
        source = evaluator.find(connection.source.key)
        destination = evaluator.find(connection.destination.key)
        if source is None or destination is None:
            continue
        verdict = evaluator.explain(source, destination, connection.port, connection.protocol)
        if verdict.allowed:
            kept.append(connection)
    return tuple(kept)


def egress_isolation(
    controller: Endpoint,
    template: str,
    lost: Sequence[Connection],
    restorers: Mapping[str, Sequence[Connection]],
) -> Finding:
    """Attaching `template` to `controller` newly denies `lost`, connections from it; per
    template of the catalog, the ones of those it would restore if attached too."""
    shown = ", ".join(f"→ {c.destination} on {c.port}/{c.protocol}" for c in lost[:_SHOWN])
    more = f" and {len(lost) - _SHOWN} more" if len(lost) > _SHOWN else ""
    message = (
        f"attaching {template} makes {controller} egress-isolated: from then on its pods may "
        f"send only what their egress policies allow, and they lose {len(lost)} "
        f"connection{'s' if len(lost) != 1 else ''} they can make now ({shown}{more})"
    )
    ref = f"{controller.kind}/{controller.name}"
    if restorers:
        ranked = sorted(restorers.items(), key=lambda item: (-len(item[1]), item[0]))
        parts = []
        for name, restored in ranked[:_SHOWN]:
            every = "all of them" if len(restored) == len(lost) else f"{len(restored)} of them"
            parts.append(
                f"{name} ({every}: netfence attach {ref} {name} -n {controller.namespace})"
            )
        fix = "attach as well " + "; or ".join(parts)
        restored_any = {str(c) for _, restored in ranked for c in restored}
        left = [str(c) for c in lost if str(c) not in restored_any]
        if left:
            fix += f"; no template restores {_some(left)}"
    else:
        fix = (
            "no template of the catalog restores them: write one with an egress rule to "
            "those destinations and ports (netfence templates apply -f FILE) and attach it "
            "as well, or do not attach this one"
        )
    return Finding(
        kind=Kind.TEMPLATE_ISOLATES_EGRESS,
        message=message,
        objects=(controller.key,),
        fix=fix,
    )


def _some(names: Sequence[str]) -> str:
    if len(names) <= _SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:_SHOWN])} and {len(names) - _SHOWN} more"
