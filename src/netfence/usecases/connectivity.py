"""Use cases of connectivity analysis: the matrix, explain, check and impact previews.

The pure parts take an `Inventory` (read from the cluster or from files, the same way);
`scoped` reads one through the `ClusterViews` port as far as the caller may read, so the
CLI and the console analyse exactly the same objects for the same person.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from netfence.core import conversion, errors, naming, templates
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation import graphs, impacts, matrices, pitfalls, template_pitfalls
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.evaluation.namespace_matrices import NamespaceMatrix, namespace_matrix
from netfence.core.evaluation.verdicts import Verdict
from netfence.core.manifests import Inventory
from netfence.core.objects import JsonDict, Policy, WorkloadKind, WorkloadRef
from netfence.core.planning import (
    ApplyPolicy,
    DeletePolicy,
    NamespaceState,
    Notice,
    Plan,
    plan_namespace,
)
from netfence.usecases.ports import ClusterViews

__all__ = [
    "ChangePreview",
    "Connectivity",
    "Impact",
    "NamespaceMatrix",
    "Scoped",
    "check",
    "connectivity",
    "explain",
    "graph",
    "impact_of",
    "namespace_matrix",
    "preview_attachment",
    "preview_plan",
    "preview_policy_update",
    "scoped",
]


@dataclass(frozen=True, slots=True)
class Connectivity:
    evaluator: Evaluator
    matrix: matrices.Matrix


def connectivity(
    inventory: Inventory, *, workloads: bool, namespaces: Sequence[str] = ()
) -> Connectivity:
    """The matrix between pods (or controllers), optionally only those of some namespaces.

    Leaving endpoints out never changes a verdict between the ones kept: a connection
    depends only on its two ends and the policies, which are all kept.
    """
    endpoints = inventory.endpoints(workloads=workloads)
    if namespaces:
        wanted = set(namespaces)
        endpoints = tuple(e for e in endpoints if e.namespace in wanted)
    evaluator = Evaluator(
        namespaces=inventory.namespaces, endpoints=endpoints, policies=inventory.policies
    )
    return Connectivity(evaluator, matrices.compute(evaluator))


def explain(
    inventory: Inventory,
    source: str,
    destination: str,
    *,
    port: str,
    protocol: str,
    workloads: bool = False,
) -> Verdict:
    """One connection, decided and explained.

    Ends are `NS/POD` or `NS/KIND/NAME` for a controller; with `workloads`, `NS/NAME` names
    a controller first. `port` is a number or a port name declared by the destination.
    """
    endpoints = inventory.pods + inventory.controllers
    evaluator = Evaluator(
        namespaces=inventory.namespaces, endpoints=endpoints, policies=inventory.policies
    )
    try:
        s = _find(evaluator, source, workloads=workloads)
        d = _find(evaluator, destination, workloads=workloads)
    except errors.NotFound as e:
        if "pods" in inventory.unreadable:
            raise errors.NotFound(
                f"{e} (you may not list pods, so only controllers can be named)"
            ) from e
        raise
    number = _port_number(evaluator.endpoints[d], port, protocol)
    return evaluator.explain(s, d, number, protocol)


def _find(evaluator: Evaluator, ref: str, *, workloads: bool) -> int:
    parts = ref.split("/")
    if len(parts) == 3:
        return _find_controller(evaluator, ref, parts)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"expected NAMESPACE/POD or NAMESPACE/KIND/NAME, got {ref!r}")
    namespace, name = parts
    pod = evaluator.find(ref)
    controllers = [
        i
        for i, e in enumerate(evaluator.endpoints)
        if not e.is_pod and e.namespace == namespace and e.name == name
    ]
    if workloads and len(controllers) == 1:
        return controllers[0]
    if pod is not None:
        return pod
    if len(controllers) == 1:
        return controllers[0]
    if controllers:
        options = ", ".join(evaluator.endpoints[i].key for i in controllers)
        raise errors.NotFound(f"{ref} names several controllers; use one of {options}")
    what = "pod or controller" if not workloads else "controller or pod"
    raise errors.NotFound(f"there is no {what} {name} in namespace {namespace}")


def _find_controller(evaluator: Evaluator, ref: str, parts: list[str]) -> int:
    try:
        kind = WorkloadKind.parse(parts[1])
    except ValueError as e:
        raise errors.NotFound(f"{ref}: {e}") from e
    found = evaluator.find(f"{parts[0]}/{kind.value}/{parts[2]}")
    if found is None:
        raise errors.NotFound(f"there is no {kind.value} {parts[2]} in namespace {parts[0]}")
    return found


def _port_number(destination: Endpoint, port: str, protocol: str) -> int:
    if port.isdigit():
        number = int(port)
        if not 1 <= number <= 65535:
            raise ValueError(f"port {port} is out of range: use 1-65535")
        return number
    resolved = destination.named_port(port, protocol)
    if resolved is None:
        declared = ", ".join(str(p) for p in destination.ports) or "no ports"
        raise ValueError(
            f"{destination} declares no {protocol} port named {port!r} (it declares {declared})"
        )
    return resolved


def graph(
    inventory: Inventory,
    namespaces: Sequence[str] = (),
    *,
    port: int | None = None,
    protocol: str | None = None,
    denied: bool = False,
) -> graphs.Graph:
    """The connectivity graph of some namespaces (all when none are named), between
    controllers and bare pods as the matrix and the impact previews count them.

    Every endpoint read is evaluated, so edges from and to other namespaces are exact
    whichever namespaces are drawn. Raises NotFound for a namespace named but not read.
    """
    units = inventory.units()
    known = {ns.name for ns in inventory.namespaces} | {e.namespace for e in units}
    for name in namespaces:
        if name not in known:
            raise errors.NotFound(f"namespace {name} does not exist", field="namespace")
    evaluator = Evaluator(
        namespaces=inventory.namespaces, endpoints=units, policies=inventory.policies
    )
    return graphs.build(
        evaluator,
        matrices.compute(evaluator),
        namespaces=namespaces,
        port=port,
        protocol=protocol,
        denied=denied,
    )


def check(inventory: Inventory, *, look_for_plugin: bool = True) -> list[pitfalls.Finding]:
    """The pitfalls of the cluster, judged on controllers and the pods no controller owns."""
    units = inventory.units()
    unit_keys = {e.key for e in units}
    return pitfalls.find(
        namespaces=inventory.namespaces,
        policies=inventory.policies,
        endpoints=units,
        others=tuple(p for p in inventory.pods if p.key not in unit_keys),
        workloads=inventory.workloads,
        look_for_plugin=look_for_plugin,
    )


# --- reading as much as the caller may -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scoped:
    inventory: Inventory
    # True when every namespace was read; False when only the namespaces asked about were.
    complete: bool
    notes: tuple[str, ...]


def _listing(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


async def scoped(reader: ClusterViews, namespaces: Sequence[str], *, whole: bool = True) -> Scoped:
    """The cluster (with `whole`, when the caller may list it), else just `namespaces`.

    Analysis wants the whole cluster, which netfence-admin may read. A caller bound per
    namespace (netfence-developer) may not list anything cluster-wide; for them the
    namespaces in question are read instead, which is exact for every connection between
    those namespaces and says nothing of the rest. Raises NotFound for a namespace that
    does not exist, AccessDenied when the caller may not read one of `namespaces` either.
    """
    wanted = sorted(set(namespaces))
    notes: list[str] = []
    inventory: Inventory | None = None
    complete = False
    if whole:
        try:
            inventory = await reader.inventory()
            complete = True
        except errors.AccessDenied:
            notes.append(
                f"You may not read every namespace, so only {_listing(wanted)} "
                f"{'is' if len(wanted) == 1 else 'are'} analysed: traffic from and to other "
                "namespaces is not shown. (netfence-admin may read them all.)"
            )
    if inventory is not None:
        known = {ns.name for ns in inventory.namespaces}
        for name in wanted:
            if name not in known:
                raise errors.NotFound(f"namespace {name} does not exist")
    else:
        inventory = await reader.inventory(wanted)
    if "pods" in inventory.unreadable:
        notes.append(
            "You may not list pods, so controllers stand for the pods they run and pods "
            "without a controller are not shown."
        )
    return Scoped(inventory, complete, tuple(notes))


# --- impact previews ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """What a change would do: the policies created and deleted and its effect on traffic."""

    created: tuple[JsonDict, ...]
    deleted: tuple[str, ...]
    impact: impacts.ImpactReport
    refusals: tuple[Notice, ...] = ()
    # Pitfalls of the change: ports that open nothing, egress newly isolated.
    warnings: tuple[pitfalls.Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class Impact:
    """A change's effect on connectivity, computed from as much as the caller may read."""

    report: impacts.ImpactReport
    complete: bool
    notes: tuple[str, ...]
    warnings: tuple[pitfalls.Finding, ...] = ()


async def impact_of(
    reader: ClusterViews, namespace: str, preview: Callable[[Inventory], ChangePreview]
) -> Impact | str:
    """The impact of a change to `namespace`, or why there is none.

    A preview is still worth showing without its effect on traffic (it lists the policies
    it changes), so a refusal or an unreachable API server becomes a sentence. Evaluation
    is pure and can be long: it runs in a worker thread, off the event loop.
    """
    try:
        found = await scoped(reader, [namespace])
    except (errors.AccessDenied, errors.ClusterError) as e:
        return f"The effect on connectivity could not be computed: {e}"
    computed = await asyncio.to_thread(preview, found.inventory)
    return Impact(computed.impact, found.complete, found.notes, computed.warnings)


def preview_plan(inventory: Inventory, plan: Plan) -> ChangePreview:
    """The policies a plan creates and deletes, and its effect on traffic."""
    deleted = {(s.namespace, s.name) for s in plan.steps if isinstance(s, DeletePolicy)}
    applied = [s for s in plan.steps if isinstance(s, ApplyPolicy)]
    return ChangePreview(
        created=tuple(s.manifest for s in applied if not s.exists),
        deleted=tuple(sorted(name for _, name in deleted)),
        impact=_impact(inventory, _policies_after(inventory, plan)),
        refusals=plan.refusals,
    )


def _policies_after(inventory: Inventory, plan: Plan) -> list[Policy]:
    deleted = {(s.namespace, s.name) for s in plan.steps if isinstance(s, DeletePolicy)}
    applied = [s for s in plan.steps if isinstance(s, ApplyPolicy)]
    replaced = {(s.namespace, s.name) for s in applied}
    after = [p for p in inventory.policies if (p.namespace, p.name) not in deleted | replaced]
    return after + [conversion.policy_from(s.manifest) for s in applied]


def attachment_plan(
    state: NamespaceState,
    ref: WorkloadRef,
    template: str,
    catalog: templates.Catalog,
    *,
    attach: bool,
    netfence_namespace: str,
) -> Plan:
    """The plan the controller would make once the template label is set (or removed)."""
    return plan_namespace(
        _labelled(state, ref, template, attach=attach),
        catalog,
        netfence_namespace=netfence_namespace,
    )


def _labelled(
    state: NamespaceState, ref: WorkloadRef, template: str, *, attach: bool
) -> NamespaceState:
    """The namespace once the template label is set on (or removed from) the controller."""
    workload = next((w for w in state.workloads if w.ref == ref), None)
    if workload is None:
        raise errors.NotFound(f"there is no {ref} in namespace {state.name}")
    labels = dict(workload.labels)
    key = naming.template_label_key(template)
    if attach:
        labels[key] = naming.TEMPLATE_LABEL_VALUE
    else:
        labels.pop(key, None)
    changed = dataclasses.replace(workload, labels=labels)
    workloads = [changed if w.ref == ref else w for w in state.workloads]
    return dataclasses.replace(state, workloads=workloads)


def preview_attachment(
    inventory: Inventory,
    state: NamespaceState,
    ref: WorkloadRef,
    template: str,
    catalog: templates.Catalog,
    *,
    attach: bool,
    netfence_namespace: str,
) -> ChangePreview:
    """Attaching a template to a controller, or detaching it, as the controller would plan
    it; an attach also says what it opens that the pods do not declare, and which
    connections of the controller it newly denies (with the templates that restore them)."""
    plan = attachment_plan(
        state, ref, template, catalog, attach=attach, netfence_namespace=netfence_namespace
    )
    preview = preview_plan(inventory, plan)
    if not attach:
        return preview
    units = inventory.units()
    created = [conversion.policy_from(m) for m in preview.created]
    warnings = template_pitfalls.ports_opening_nothing_in(created, units, inventory.namespaces)
    controller = next(
        (e for e in units if e.key == f"{state.name}/{ref.kind.value}/{ref.name}"), None
    )
    lost = [c for c in preview.impact.newly_denied if controller and c.source.key == controller.key]
    if controller is not None and lost:
        restorers = _restorers(
            inventory, state, ref, template, catalog, lost, netfence_namespace=netfence_namespace
        )
        warnings.append(template_pitfalls.egress_isolation(controller, template, lost, restorers))
    return dataclasses.replace(preview, warnings=tuple(warnings))


def _restorers(
    inventory: Inventory,
    state: NamespaceState,
    ref: WorkloadRef,
    template: str,
    catalog: templates.Catalog,
    lost: Sequence[impacts.Connection],
    *,
    netfence_namespace: str,
) -> dict[str, tuple[impacts.Connection, ...]]:
    """Per template of the catalog not attached yet, the lost connections it would restore
    if attached as well."""
    attached = _labelled(state, ref, template, attach=True)
    workload = next(w for w in attached.workloads if w.ref == ref)
    units = inventory.units()
    found: dict[str, tuple[impacts.Connection, ...]] = {}
    for name in catalog.templates:
        if name in workload.attached_templates:
            continue
        plan = attachment_plan(
            attached, ref, name, catalog, attach=True, netfence_namespace=netfence_namespace
        )
        restored = template_pitfalls.still_allowed(
            lost,
            endpoints=units,
            namespaces=inventory.namespaces,
            policies=_policies_after(inventory, plan),
        )
        if restored:
            found[name] = restored
    return found


def preview_policy_update(
    inventory: Inventory, namespace: str, policy: str, proposed_spec: JsonDict
) -> ChangePreview:
    """Re-rendering one policy with a new spec (its template's current version)."""
    current = next(
        (p for p in inventory.policies if p.namespace == namespace and p.name == policy), None
    )
    if current is None:
        raise errors.NotFound(f"there is no NetworkPolicy {policy} in namespace {namespace}")
    updated = dataclasses.replace(current, spec=proposed_spec)
    after = [updated if p is current else p for p in inventory.policies]
    return ChangePreview(
        created=(updated.manifest(),),
        deleted=(),
        impact=_impact(inventory, after),
    )


def _impact(inventory: Inventory, after: Sequence[Policy]) -> impacts.ImpactReport:
    return impacts.impact(inventory.policies, after, inventory.units(), inventory.namespaces)
