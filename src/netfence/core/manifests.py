"""Kubernetes manifests (parsed YAML or JSON) read into what connectivity analysis needs.

The same reader serves files given to `--from-files` and the objects read from a live
cluster (the Kubernetes adapter hands it their JSON form), so both paths see a cluster the
same way. It reads Namespaces, Pods, Deployments, StatefulSets, DaemonSets, CronJobs and
NetworkPolicies, also inside `kind: List` (what `kubectl get -o yaml` prints), and skips
every other kind. Purely computational, no side effects.

What the API server would add, the reader adds: a policy's port protocol defaults to TCP
when the evaluator reads it, a namespace gets its `kubernetes.io/metadata.name` label in the
evaluator, and an object without namespace lands in `default`, as `kubectl apply` puts it.
Pods that finished (phase Succeeded or Failed) and pods on the host network are left out:
NetworkPolicy does not apply to either. A CIDR with host bits set (stored before the API
server validated CIDRs strictly) is read as its network, not refused: `cidrs` finds them
so callers can warn.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from netfence.core import cidrs, conversion, errors, manifest_texts, selectors, shapes, validation
from netfence.core.endpoints import POD, ContainerPort, Endpoint
from netfence.core.objects import Namespace, Policy, Workload, WorkloadKind

DEFAULT_NAMESPACE = "default"
_FINISHED_PHASES = frozenset({"Succeeded", "Failed"})
_WORKLOAD_KINDS = frozenset(k.value for k in WorkloadKind)
_SPEC_FIELDS = ("podSelector", "policyTypes", "ingress", "egress")
_READ_KINDS = _WORKLOAD_KINDS | {"Namespace", "Pod", "NetworkPolicy"}


class InvalidManifests(errors.NetfenceError):
    """Input documents that cannot be read, each problem with where it is."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return self.problems[0]
        return "\n".join([f"{len(self.problems)} problems:", *(f"  - {p}" for p in self.problems)])


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything connectivity analysis looks at, from files or from a cluster."""

    namespaces: tuple[Namespace, ...] = ()
    policies: tuple[Policy, ...] = ()
    pods: tuple[Endpoint, ...] = ()
    # One endpoint per controller, from its pod template (host-network ones left out).
    controllers: tuple[Endpoint, ...] = ()
    workloads: tuple[Workload, ...] = ()
    # Kinds the reader skipped, with how many of each, so a caller can say so.
    skipped: Mapping[str, int] = field(default_factory=dict)
    # Kinds the caller may not read in the cluster (e.g. "pods"): their absence means
    # nothing about the cluster.
    unreadable: tuple[str, ...] = ()

    def endpoints(self, *, workloads: bool) -> tuple[Endpoint, ...]:
        return self.controllers if workloads else self.pods

    def units(self) -> tuple[Endpoint, ...]:
        """Controllers, plus the pods no controller of their namespace selects.

        Impact previews and pitfalls speak of controllers, which exist before their pods
        do (and on a control plane without nodes, pods never do); bare pods still count.
        """
        owned: dict[str, list[selectors.Selector]] = {}
        for workload in self.workloads:
            if workload.pod_selector is not None:
                owned.setdefault(workload.namespace, []).append(
                    selectors.parse(workload.pod_selector)
                )
        bare = tuple(
            pod
            for pod in self.pods
            if not any(s.matches(pod.labels) for s in owned.get(pod.namespace, ()))
        )
        return self.controllers + bare


def read(documents: Iterable[tuple[str, object]], *, validate: bool = True) -> Inventory:
    """Read (origin, document) pairs; origin names where a document came from in errors.

    With `validate`, objects are held to what the API server accepts: NetworkPolicy rules
    go through the same checks as templates (the API server's rules, plus unknown fields),
    so a typo in a file is reported instead of silently widening a policy; labels and
    selectors must be strings of label syntax, so `team: on` is refused instead of quietly
    becoming "True". A live cluster's objects are already valid.
    """
    builder = _Builder(validate=validate)
    for origin, document in documents:
        builder.add(origin, document)
    return builder.finish()


def read_texts(texts: Iterable[tuple[str, bytes | str]]) -> Inventory:
    """Read the contents of files, (name, text) pairs, YAML or JSON, validated as by `read`.

    Every problem of every text is reported (a text that is not YAML stops only itself),
    a value YAML read as a boolean or a number with how it was written and its line.
    """
    builder = _Builder(validate=True)
    for name, text in texts:
        try:
            for document in manifest_texts.documents(name, text):
                builder.add(document.origin, document.content, document.spelling)
        except manifest_texts.Unreadable as e:
            builder.problems.append(str(e))
    return builder.finish()


def pod_endpoint(document: Mapping[str, Any]) -> Endpoint | None:
    """One Pod object (the API's JSON form) as `read` sees it; None for a pod policies do
    not apply to. For caches that read objects one by one (the console's watch cache)."""
    metadata = document.get("metadata") or {}
    return _pod(
        str(metadata.get("name") or ""),
        str(metadata.get("namespace") or DEFAULT_NAMESPACE),
        conversion.labels_of(metadata.get("labels")),
        document.get("spec") or {},
        document.get("status") or {},
    )


def workload_entry(
    kind: WorkloadKind, document: Mapping[str, Any]
) -> tuple[Workload, Endpoint | None]:
    """One controller object as `read` sees it: the planner's view and its endpoint."""
    metadata = document.get("metadata") or {}
    return _workload(kind, str(metadata.get("namespace") or DEFAULT_NAMESPACE), document)


def assembled(
    namespaces: Iterable[Namespace],
    policies: Iterable[Policy],
    pods: Iterable[Endpoint],
    workloads: Iterable[tuple[Workload, Endpoint | None]],
    *,
    unreadable: tuple[str, ...] = (),
) -> Inventory:
    """An Inventory of objects read one by one (`pod_endpoint`, `workload_entry`), in the
    order `read` gives: the same objects make the same Inventory either way."""
    pairs = sorted(workloads, key=lambda p: (p[0].namespace, p[0].kind.value, p[0].name))
    return Inventory(
        namespaces=tuple(sorted(namespaces, key=lambda n: n.name)),
        policies=tuple(sorted(policies, key=lambda p: (p.namespace, p.name))),
        pods=tuple(sorted(pods, key=lambda p: (p.namespace, p.name))),
        controllers=tuple(endpoint for _, endpoint in pairs if endpoint is not None),
        workloads=tuple(workload for workload, _ in pairs),
        unreadable=unreadable,
    )


# How a scalar at a path of the document being read was written, when that is known.
_Speller = Callable[[manifest_texts.Path], manifest_texts.Spelling | None]


class _Builder:
    def __init__(self, *, validate: bool) -> None:
        self.validate = validate
        self.problems: list[str] = []
        self.namespaces: dict[str, Namespace] = {}
        self.policies: dict[tuple[str, str], Policy] = {}
        self.pods: dict[tuple[str, str], Endpoint] = {}
        self.workloads: dict[tuple[str, str, str], tuple[Workload, Endpoint | None]] = {}
        self.skipped: dict[str, int] = {}

    def finish(self) -> Inventory:
        if self.problems:
            raise InvalidManifests(self.problems)
        return self.build()

    def add(self, origin: str, document: object, spell: _Speller | None = None) -> None:
        if document is None:
            return  # an empty YAML document, e.g. after a trailing '---'
        if not isinstance(document, Mapping):
            self.problems.append(
                f"{origin}: expected a Kubernetes object, got {shapes.describe(document)}"
            )
            return
        kind = document.get("kind")
        if kind == "List" or (isinstance(kind, str) and kind.endswith("List")):
            items = document.get("items") or []
            for index, item in enumerate(items if isinstance(items, list) else []):
                self.add(f"{origin} items[{index}]", item, _within(spell, ("items", index)))
            return
        metadata = document.get("metadata")
        if not isinstance(kind, str) or not isinstance(metadata, Mapping):
            self.problems.append(f"{origin}: not a Kubernetes object (no kind or metadata)")
            return
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            self.problems.append(f"{origin}: {kind} without metadata.name")
            return
        namespace = str(metadata.get("namespace") or DEFAULT_NAMESPACE)
        where = (
            f"{origin}: {kind} {name}"
            if kind == "Namespace"
            else f"{origin}: {kind} {namespace}/{name}"
        )
        if self.validate:
            self._report(where, _object_problems(kind, metadata, document), document, spell)
        try:
            self._add(kind, name, namespace, metadata, document, where)
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            # Shapes the API server would have refused; say where rather than crash.
            self.problems.append(f"{where}: cannot read it ({e})")

    def _add(
        self,
        kind: str,
        name: str,
        namespace: str,
        metadata: Mapping[str, Any],
        document: Mapping[str, Any],
        where: str,
    ) -> None:
        labels = conversion.labels_of(metadata.get("labels"))
        spec = document.get("spec") or {}
        if kind == "Namespace":
            self.namespaces[name] = Namespace(name, labels)
        elif kind == "NetworkPolicy":
            self.policies[(namespace, name)] = conversion.policy_from(document, namespace=namespace)
        elif kind == "Pod":
            pod = _pod(name, namespace, labels, spec, document.get("status") or {})
            if pod is not None:
                self.pods[(namespace, name)] = pod
        elif kind in _WORKLOAD_KINDS:
            self.workloads[(namespace, kind, name)] = _workload(
                WorkloadKind(kind), namespace, document
            )
        else:
            self.skipped[kind] = self.skipped.get(kind, 0) + 1

    def _report(
        self,
        where: str,
        found: Iterable[errors.FieldError],
        document: Mapping[str, Any],
        spell: _Speller | None,
    ) -> None:
        for problem in found:
            if spell is not None:
                problem = _spelled(problem, document, spell)
            self.problems.append(f"{where}: {problem}")

    def build(self) -> Inventory:
        pairs = [self.workloads[k] for k in sorted(self.workloads)]
        return Inventory(
            namespaces=tuple(self.namespaces[k] for k in sorted(self.namespaces)),
            policies=tuple(self.policies[k] for k in sorted(self.policies)),
            pods=tuple(self.pods[k] for k in sorted(self.pods)),
            controllers=tuple(endpoint for _, endpoint in pairs if endpoint is not None),
            workloads=tuple(workload for workload, _ in pairs),
            skipped=dict(sorted(self.skipped.items())),
        )


def _pod(
    name: str,
    namespace: str,
    labels: dict[str, str],
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
) -> Endpoint | None:
    if status.get("phase") in _FINISHED_PHASES or spec.get("hostNetwork"):
        return None
    ips = [str(entry.get("ip")) for entry in status.get("podIPs") or [] if entry.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return Endpoint(
        namespace=namespace,
        name=name,
        kind=POD,
        labels=labels,
        ips=tuple(ips),
        ports=container_ports(spec),
    )


def container_ports(pod_spec: Mapping[str, Any]) -> tuple[ContainerPort, ...]:
    """The ports a pod spec declares, in its containers and its sidecars.

    Sidecars are init containers with `restartPolicy: Always`: they keep running, and
    their ports are the pod's like any other container's.
    """
    containers: list[Mapping[str, Any]] = list(pod_spec.get("containers") or [])
    containers += [
        c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    found: list[ContainerPort] = []
    for container in containers:
        for port in container.get("ports") or []:
            number = port.get("containerPort")
            if not isinstance(number, int):
                continue
            found.append(
                ContainerPort(
                    port=number,
                    protocol=str(port.get("protocol") or "TCP"),
                    name=str(port["name"]) if port.get("name") else None,
                )
            )
    return tuple(found)


def _workload(
    kind: WorkloadKind, namespace: str, document: Mapping[str, Any]
) -> tuple[Workload, Endpoint | None]:
    """The planner's view of a controller and its endpoint (None on the host network)."""
    workload = conversion.workload_from(document, kind=kind, namespace=namespace)
    pod_spec = conversion.pod_template(kind, document.get("spec") or {}).get("spec") or {}
    if pod_spec.get("hostNetwork"):
        return workload, None
    return workload, _template_endpoint(workload, container_ports(pod_spec))


def _template_endpoint(workload: Workload, ports: tuple[ContainerPort, ...]) -> Endpoint:
    return Endpoint(
        namespace=workload.namespace,
        name=workload.name,
        kind=workload.kind.value,
        labels=dict(workload.pod_labels),
        ports=ports,
    )


def _within(spell: _Speller | None, prefix: tuple[str | int, ...]) -> _Speller | None:
    if spell is None:
        return None
    return lambda path: spell((*prefix, *path))


def _object_problems(
    kind: str, metadata: Mapping[str, Any], document: Mapping[str, Any]
) -> list[errors.FieldError]:
    """What the API server would refuse in an object of a kind the reader reads."""
    if kind not in _READ_KINDS:
        return []
    found = validation.validate_labels(metadata.get("labels"), "metadata.labels")
    found += _annotation_problems(metadata.get("annotations"))
    spec = document.get("spec")
    if kind == "NetworkPolicy":
        found += _policy_problems({} if spec is None else spec)
    elif kind in _WORKLOAD_KINDS and isinstance(spec, Mapping):
        found += _workload_problems(WorkloadKind(kind), spec)
    return found


def _annotation_problems(annotations: object) -> list[errors.FieldError]:
    if not isinstance(annotations, Mapping):
        return []
    return [
        errors.FieldError(
            f"metadata.annotations[{key}]",
            f"annotation value must be a string, got {shapes.describe(value)}",
            shapes.quote_fix(value),
        )
        for key, value in annotations.items()
        if not isinstance(value, str)
    ]


def _workload_problems(kind: WorkloadKind, spec: Mapping[str, Any]) -> list[errors.FieldError]:
    found: list[errors.FieldError] = []
    if kind is WorkloadKind.CRONJOB:
        template_path = "spec.jobTemplate.spec.template"
    else:
        template_path = "spec.template"
        if "selector" in spec:
            found += validation.validate_selector(spec["selector"], "spec.selector")
    template = conversion.pod_template(kind, spec)
    metadata = template.get("metadata") if isinstance(template, Mapping) else None
    if isinstance(metadata, Mapping):
        found += validation.validate_labels(
            metadata.get("labels"), f"{template_path}.metadata.labels"
        )
    return found


def _policy_problems(spec: object) -> list[errors.FieldError]:
    if not isinstance(spec, Mapping):
        return [errors.FieldError("spec", "must be a mapping")]
    found = shapes.unknown_fields(spec, "spec", _SPEC_FIELDS)
    if "podSelector" in spec:
        found += validation.validate_selector(spec["podSelector"], "spec.podSelector")
    if "ingress" in spec:
        found += validation.validate_ingress_rules(spec["ingress"], "spec.ingress")
    if "egress" in spec:
        found += validation.validate_egress_rules(spec["egress"], "spec.egress")
    # Stored before strict CIDR validation, a policy may hold a CIDR with host bits set:
    # it is read as its network, with a warning (`cidrs`), not refused.
    lenient = {field for field, _, _ in cidrs.in_spec(spec)}
    found = [problem for problem in found if problem.field not in lenient]
    types = spec.get("policyTypes")
    if types is not None and (
        not isinstance(types, list) or any(t not in ("Ingress", "Egress") for t in types)
    ):
        found.append(
            errors.FieldError(
                "spec.policyTypes", "must be a list of Ingress and Egress", "e.g. [Ingress]"
            )
        )
    return found


def _spelled(
    problem: errors.FieldError, document: Mapping[str, Any], spell: _Speller
) -> errors.FieldError:
    """`problem` with its "quote it" fix written as the user wrote the value, when it is the
    generic fix for a value YAML read as a boolean or a number (`on`, `1`, `0x1F`)."""
    path = manifest_texts.path_of(problem.field)
    value = _value_at(document, path)
    if not isinstance(value, bool | int | float) or problem.fix != shapes.quote_fix(value):
        return problem
    spelling = spell(path)
    if spelling is None:
        return problem
    reads = "a boolean" if isinstance(value, bool) else "a number"
    fix = (
        f'line {spelling.line}: YAML reads {spelling.text} as {reads}; quote it: "{spelling.text}"'
    )
    return errors.FieldError(problem.field, problem.message, fix)


_MISSING = object()


def _value_at(document: object, path: manifest_texts.Path) -> object:
    for segment in path:
        if isinstance(document, Mapping):
            document = document.get(segment, document.get(str(segment), _MISSING))
        elif isinstance(document, list) and isinstance(segment, int) and segment < len(document):
            document = document[segment]
        else:
            return _MISSING
    return document
