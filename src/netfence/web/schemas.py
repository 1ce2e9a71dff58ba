"""Request and response bodies of the REST API (documented in /api/openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from netfence.core import templates


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    message: str


class SessionView(BaseModel):
    mode: str
    signed_in: bool
    user: str
    groups: list[str]
    csrf_token: str
    permissions: dict[str, bool]
    # The cluster (kubeconfig context) this session view is for: GET /api/v1/clusters.
    cluster: str = ""


class ClusterView(BaseModel):
    name: str = Field(description="The kubeconfig context's name; the URL names it.")
    server: str = Field(description="The API server's URL.")
    user: str = Field(description="The user as the kubeconfig names it (whoami: the session).")
    namespace: str | None = Field(description="The context's namespace, if it names one.")
    default: bool = Field(description="Served at /api/v1/... without a cluster in the path.")


class ClusterList(BaseModel):
    default: str
    items: list[ClusterView]


class SignIn(Body):
    token: str = Field(min_length=1, max_length=16384)


class NamespaceRow(BaseModel):
    name: str
    state: str
    managed: bool
    managed_policies: int
    unmanaged_policies: int
    controllers: int
    attached_templates: int
    backed_up: int


class NamespaceTotals(BaseModel):
    """Over every namespace the caller sees, system namespaces left out."""

    namespaces: int
    managed: int
    unmanaged_policies: int
    controllers: int
    attached_templates: int


class NamespaceList(BaseModel):
    namespaces: list[NamespaceRow]
    permissions: dict[str, bool]
    # How many namespaces match `q` and `system` (the rows are `limit` of them).
    total: int
    totals: NamespaceTotals
    # System namespaces labelled managed, which netfence refuses: always named.
    refused: list[str]
    # Pass as `continue` for the next rows; null on the last page.
    next: str | None = Field(default=None, serialization_alias="continue")


class ControllerRow(BaseModel):
    kind: str
    name: str
    templates: list[str]
    pod_labels: dict[str, str]
    policies: list[str]


class PolicyRow(BaseModel):
    name: str
    managed: bool
    role: str | None
    template: str | None
    controller: str | None
    template_status: str | None
    yaml: str


class NamespaceDetail(BaseModel):
    name: str
    state: str
    managed: bool
    unmanaged_policies: int
    controllers: list[ControllerRow]
    policies: list[PolicyRow]
    backup: list[str] | None
    warnings: list[str]
    permissions: dict[str, bool]


class NamedYaml(BaseModel):
    name: str
    yaml: str


class EnablePreview(BaseModel):
    namespace: str
    backup: list[NamedYaml]
    delete: list[str]
    create: list[NamedYaml]
    warnings: list[str]
    # The connections enabling would newly deny or allow; None when it could not be
    # computed (the reason is then among the warnings).
    impact: Impact | None = None


class Disable(Body):
    restore: bool = False


class DisablePreview(BaseModel):
    namespace: str
    managed: bool
    # netfence's policies the controller deletes once the label is gone.
    delete: list[str]
    # The policies in the backup; None when there is no backup (nothing to restore).
    backup: list[str] | None
    # Asked with restore=true: the policies restoring recreates, and those it would skip.
    restore: list[NamedYaml]
    skipped: dict[str, str]
    warnings: list[str]
    impact: Impact | None = None
    impact_note: str | None = None


class DisableResult(BaseModel):
    message: str
    restored: list[str]
    skipped: dict[str, str]


class ControllerDetail(BaseModel):
    namespace: str
    kind: str
    name: str
    templates: list[str]
    pod_labels: dict[str, str]
    selector: dict[str, object] | None
    policies: list[PolicyRow]
    namespace_managed: bool
    permissions: dict[str, bool]


class Attach(Body):
    template: str = Field(min_length=1, max_length=templates.TEMPLATE_NAME_MAX_LENGTH)


class UpdatePreview(BaseModel):
    policy: str
    template: str
    current_yaml: str
    proposed_yaml: str
    changed: bool
    impact: Impact | None = None
    impact_note: str | None = None


class TemplateUse(BaseModel):
    namespace: str
    policy: str
    controller: str | None


class TemplateView(BaseModel):
    name: str
    description: str
    policy_types: list[str]
    yaml: str
    used_by: list[TemplateUse] | None


class InvalidTemplateView(BaseModel):
    name: str
    yaml: str
    errors: list[dict[str, str | None]]


class TemplateList(BaseModel):
    templates: list[TemplateView]
    invalid: list[InvalidTemplateView]
    resource_version: str | None
    permissions: dict[str, bool]


class TemplateDraft(Body):
    name: str = Field(min_length=1, max_length=253)
    yaml: str = Field(max_length=256 * 1024)


class TemplateWrite(Body):
    yaml: str = Field(max_length=256 * 1024)
    resource_version: str | None = None


class Validation(BaseModel):
    valid: bool
    errors: list[dict[str, str | None]]


class EventRow(BaseModel):
    type: str
    reason: str
    message: str
    object: str
    time: str | None


# --- connectivity ---------------------------------------------------------------------------


class Connection(BaseModel):
    source: str
    destination: str
    port: int
    protocol: str


class Impact(BaseModel):
    """What a change does to traffic between controllers and bare pods, on declared ports."""

    newly_denied: list[Connection]
    newly_allowed: list[Connection]
    # The namespace's endpoints that declare no container port: no connection to them
    # can be listed.
    not_covered: list[str]
    # The lists are cut at a limit; these count every connection.
    newly_denied_total: int
    newly_allowed_total: int
    # False when only the namespaces the caller may read were analysed (see notes).
    complete: bool
    notes: list[str]


class AttachmentPreview(BaseModel):
    action: str
    namespace: str
    controller: str
    template: str
    policy: str
    create: list[NamedYaml]
    delete: list[str]
    warnings: list[str]
    impact: Impact | None
    impact_note: str | None = None


class PortView(BaseModel):
    port: int
    protocol: str
    name: str | None


class EndpointView(BaseModel):
    # NAMESPACE/KIND/NAME for a controller, NAMESPACE/NAME for a pod: what explain takes.
    id: str
    namespace: str
    kind: str
    name: str
    ports: list[PortView]


class MatrixRow(BaseModel):
    source: str
    # Per destination (in `endpoints` order): allowed, denied, partial (some of its
    # declared ports), or no-ports (it declares none; ask explain about a port).
    verdicts: list[str]
    # Per destination, one verdict per declared port, in the destination's `ports` order.
    ports: list[list[bool]]


class OthersRow(BaseModel):
    """Traffic from the other namespaces' controllers and bare pods."""

    sources: int
    verdicts: list[str]
    # Per destination and declared port, how many of the `sources` may connect.
    ports: list[list[int]]
    # Per destination, a few sources allowed on one of its ports at least, and a few
    # denied on all of them.
    allowed_examples: list[list[str]]
    denied_examples: list[list[str]]


class ConnectivityMatrix(BaseModel):
    namespace: str
    endpoints: list[EndpointView]
    rows: list[MatrixRow]
    others: OthersRow | None
    counts: dict[str, int]
    complete: bool
    notes: list[str]


class RuleCheckView(BaseModel):
    policy: str
    rule: str
    allows: bool
    peer_matched: bool
    peer: str
    port_matched: bool
    port: str


class SideView(BaseModel):
    endpoint: str
    isolated: bool
    allowed: bool
    # Policies that select the endpoint for this direction.
    policies: list[str]
    rules: list[RuleCheckView]
    reasons: list[str]


class Explanation(BaseModel):
    source: str
    destination: str
    port: int
    protocol: str
    allowed: bool
    headline: str
    egress: SideView
    ingress: SideView
    reasons: list[str]
    notes: list[str]


class FindingView(BaseModel):
    kind: str
    message: str
    objects: list[str]
    fix: str
    # namespace: about objects of this namespace; cluster: about the whole cluster.
    scope: str


class FindingList(BaseModel):
    namespace: str
    findings: list[FindingView]
    complete: bool
    notes: list[str]


# The previews above refer to Impact, defined further down.
EnablePreview.model_rebuild()
UpdatePreview.model_rebuild()


class ProbingAvailability(BaseModel):
    available: bool
    reason: str | None = None


class ProbeResultView(BaseModel):
    source: str
    destination: str
    address: str
    port: int
    protocol: str
    predicted: str
    observed: str
    answer: str | None
    attempts: int
    seconds: float
    agrees: bool
    sourceUnit: str | None = None  # noqa: N815 - the documented JSON name (docs/probe.md)
    destinationUnit: str | None = None  # noqa: N815
    explanation: dict[str, Any] | None = None


class ProbeRun(BaseModel):
    """`netfence probe -o json` for one namespace, one pod per controller (docs/probe.md)."""

    probedAt: str  # noqa: N815
    seconds: float
    timeoutSeconds: float  # noqa: N815
    parallel: int
    scope: dict[str, Any]
    namespaces: list[str]
    summary: dict[str, float]
    results: list[ProbeResultView]
    notProbed: list[dict[str, str]]  # noqa: N815
    notes: list[str]


class GraphNode(EndpointView):
    # The policies isolating the workload, per direction: empty when none selects it.
    ingress_policies: list[str]
    egress_policies: list[str]
    # False for a workload of another namespace, drawn for an edge to or from the shown.
    shown: bool


class GraphGroup(BaseModel):
    # "*" (every workload read) or "NAMESPACE/*" (every workload of a namespace).
    id: str
    namespace: str | None
    size: int
    # One member, whose connection explains an edge from the group.
    example: str


class GraphPort(BaseModel):
    port: int
    protocol: str


class GraphEdge(BaseModel):
    # A node's id or a group's; the destination is always a node.
    source: str
    destination: str
    allowed: bool
    ports: list[GraphPort]
    # A group source stands for its workloads but these (group ids or node ids).
    excepted: list[str]
    # One workload the source stands for: its connection explains the edge.
    example: str


class ConnectivityGraph(BaseModel):
    namespaces: list[str]
    nodes: list[GraphNode]
    groups: list[GraphGroup]
    edges: list[GraphEdge]
    # Every port the shown workloads declare (what the port filter offers).
    ports: list[GraphPort]
    # Shown workloads the port filter left out.
    hidden: int
    # Every namespace read, for the namespace filter.
    known_namespaces: list[str]
    complete: bool
    notes: list[str]
