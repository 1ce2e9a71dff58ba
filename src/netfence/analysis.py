"""Use cases of connectivity analysis: the matrix, explain, check and impact previews.

Built from the pure core and the planning use cases only, so the CLI and the web console
call the same functions with an inventory they read their own way (`kube.surveying` or
`core.manifests`). Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from netfence import services
from netfence.core import errors, naming, templates
from netfence.core.endpoints import Endpoint, PortKey
from netfence.core.evaluation import impacts, matrices, pitfalls
from netfence.core.evaluation.evaluators import Evaluator
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
    s = _find(evaluator, source, workloads=workloads)
    d = _find(evaluator, destination, workloads=workloads)
    number = _port_number(evaluator.endpoints[d], port, protocol)
    return evaluator.explain(s, d, number, protocol)


def _find(evaluator: Evaluator, ref: str, *, workloads: bool) -> int:
    parts = ref.split("/")
    if len(parts) == 3:
        try:
            kind = WorkloadKind.parse(parts[1])
        except ValueError as e:
            raise errors.NotFound(f"{ref}: {e}") from e
        found = evaluator.find(f"{parts[0]}/{kind.value}/{parts[2]}")
        if found is None:
            raise errors.NotFound(f"there is no {kind.value} {parts[2]} in namespace {parts[0]}")
        return found
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


# --- impact previews ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangePreview:
    """What a change would do: the policies created and deleted and its effect on traffic."""

    created: tuple[JsonDict, ...]
    deleted: tuple[str, ...]
    impact: impacts.ImpactReport
    refusals: tuple[Notice, ...] = ()


def preview_enable(
    inventory: Inventory,
    state: NamespaceState,
    catalog: templates.Catalog,
    *,
    netfence_namespace: str,
) -> ChangePreview:
    """Enabling a namespace: its policies replaced by the baseline and its attachments."""
    plan = services.preview_enable(state, catalog, netfence_namespace=netfence_namespace)
    return _preview(inventory, plan)


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
    """Attaching a template to a controller, or detaching it, as the controller would plan it."""
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
    plan = plan_namespace(
        dataclasses.replace(state, workloads=workloads),
        catalog,
        netfence_namespace=netfence_namespace,
    )
    return _preview(inventory, plan)


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


def _preview(inventory: Inventory, plan: Plan) -> ChangePreview:
    deleted = {(s.namespace, s.name) for s in plan.steps if isinstance(s, DeletePolicy)}
    applied = [s for s in plan.steps if isinstance(s, ApplyPolicy)]
    replaced = {(s.namespace, s.name) for s in applied}
    after = [p for p in inventory.policies if (p.namespace, p.name) not in deleted | replaced]
    after += [_policy(s.manifest) for s in applied]
    return ChangePreview(
        created=tuple(s.manifest for s in applied if not s.exists),
        deleted=tuple(sorted(name for _, name in deleted)),
        impact=_impact(inventory, after),
        refusals=plan.refusals,
    )


def _impact(inventory: Inventory, after: Sequence[Policy]) -> impacts.ImpactReport:
    return impacts.impact(inventory.policies, after, inventory.units(), inventory.namespaces)


def _policy(manifest: JsonDict) -> Policy:
    metadata = manifest["metadata"]
    return Policy(
        namespace=metadata["namespace"],
        name=metadata["name"],
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        spec=manifest["spec"],
    )


# --- one namespace's matrix, for the console -----------------------------------------------

_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class OutsideCell:
    """Traffic from every endpoint outside the namespace to one destination in it."""

    # Per declared port of the destination, how many outside sources may connect.
    allowed: tuple[int, ...]
    # A few outside sources allowed on a declared port at least, and a few denied on all.
    allowed_examples: tuple[str, ...]
    denied_examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NamespaceMatrix:
    """Who may connect to whom inside one namespace, on each destination's declared ports.

    `endpoints` are the namespace's controllers and bare pods, rows and columns alike;
    `allowed[s][d]` holds one verdict per `endpoints[d].declared()` port. `outside` is the
    number of endpoints of other namespaces, and `others` (one cell per destination) says
    how many of them may connect; both are None when other namespaces were not read.
    """

    namespace: str
    endpoints: tuple[Endpoint, ...]
    allowed: tuple[tuple[tuple[bool, ...], ...], ...]
    outside: int | None = None
    others: tuple[OutsideCell, ...] | None = None


def namespace_matrix(
    inventory: Inventory, namespace: str, *, others: bool = True
) -> NamespaceMatrix:
    """The controller-level matrix of one namespace, plus (with `others`) a summary row of
    the traffic every other namespace may send into it.

    Verdicts between the namespace's own endpoints need only its objects; the summary row
    needs the whole cluster (the egress policies of every other namespace).
    """
    units = inventory.units()
    own = tuple(e for e in units if e.namespace == namespace)
    outside = tuple(e for e in units if e.namespace != namespace) if others else ()
    # The namespace's endpoints come first, so destination d is bit d of every row.
    evaluator = Evaluator(
        namespaces=inventory.namespaces, endpoints=own + outside, policies=inventory.policies
    )
    matrix = matrices.compute(evaluator)
    declared = [e.declared() for e in own]
    allowed = _own_cells(matrix, declared)
    if not others:
        return NamespaceMatrix(namespace, own, allowed)
    return NamespaceMatrix(
        namespace, own, allowed, len(outside), _outside_cells(matrix, len(own), declared)
    )


def _own_cells(
    matrix: matrices.Matrix, declared: Sequence[tuple[PortKey, ...]]
) -> tuple[tuple[tuple[bool, ...], ...], ...]:
    """Per source and destination of the namespace, one verdict per declared port.

    Sources that share their rows (most do: same policies, same rules) share the result,
    each row is read once as a string of bits, and equal cells are one tuple, so a
    namespace of 500 controllers costs a few distinct rows, not 250,000 bit tests.
    """
    size = len(declared)
    mask = (1 << size) - 1
    keys = sorted({key for keys in declared for key in keys})
    cells: dict[str, tuple[bool, ...]] = {}
    rows: dict[tuple[int, ...], tuple[tuple[bool, ...], ...]] = {}
    result = []
    for source in range(size):
        signature = tuple(matrix.rows[key][source] & mask for key in keys)
        row = rows.get(signature)
        if row is None:
            # Bit d of a row is destination d: reversed binary text indexes it directly.
            bits = {
                key: format(value, f"0{size}b")[::-1]
                for key, value in zip(keys, signature, strict=True)
            }
            cell_row = []
            for d, ports in enumerate(declared):
                pattern = "".join(bits[key][d] for key in ports)
                cell = cells.get(pattern)
                if cell is None:
                    cell = cells[pattern] = tuple(c == "1" for c in pattern)
                cell_row.append(cell)
            row = rows[signature] = tuple(cell_row)
        result.append(row)
    return tuple(result)


def _outside_cells(
    matrix: matrices.Matrix, size: int, declared: Sequence[tuple[PortKey, ...]]
) -> tuple[OutsideCell, ...]:
    """Outside sources grouped by what they may reach in the namespace, so each distinct
    row is looked at once however many sources share it."""
    mask = (1 << size) - 1
    keys = sorted({key for keys in declared for key in keys})
    groups: dict[tuple[int, ...], list[int]] = {}
    for source in range(size, len(matrix.endpoints)):
        signature = tuple(matrix.rows[key][source] & mask for key in keys)
        groups.setdefault(signature, []).append(source)
    position = {key: i for i, key in enumerate(keys)}
    cells = []
    for d, ports in enumerate(declared):
        counts = [0] * len(ports)
        allowed_examples: list[str] = []
        denied_examples: list[str] = []
        for signature, members in groups.items() if ports else ():
            hits = [bool(signature[position[key]] >> d & 1) for key in ports]
            for i, hit in enumerate(hits):
                if hit:
                    counts[i] += len(members)
            examples = allowed_examples if any(hits) else denied_examples
            for source in members[: _EXAMPLES - len(examples)]:
                examples.append(matrix.endpoints[source].key)
        cells.append(
            OutsideCell(
                tuple(counts),
                tuple(sorted(allowed_examples)),
                tuple(sorted(denied_examples)),
            )
        )
    return tuple(cells)
