"""The mistakes that make NetworkPolicies do something other than what their author meant.

Each finding names the objects involved and the fix:

* an egress-isolated workload that cannot reach DNS (UDP 53), so every name lookup fails;
* a namespaceSelector or podSelector in a rule that matches nothing in the cluster, often
  `name: kube-system` where namespaces carry `kubernetes.io/metadata.name`;
* a policy whose podSelector selects no pod, so it protects nothing;
* a peer list that ORs where AND was likely meant: `- namespaceSelector` and `- podSelector`
  as two entries instead of one;
* no network plugin that enforces NetworkPolicy, so no policy has any effect;
* a CIDR with host bits set (stored before strict validation), read as its network;
* an ingress rule whose ports match no port the pods it selects declare, so it opens
  nothing they declare (`template_pitfalls`, which also holds what an attach preview warns).

Pod selectors are judged against pods and against the pod templates of controllers, so a
policy written before its pods run is not reported; namespaces without any pod or
controller are not judged at all. Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from netfence.core import cidrs, selectors
from netfence.core.endpoints import ContainerPort, Endpoint
from netfence.core.evaluation import template_pitfalls
from netfence.core.evaluation.evaluators import NAME_LABEL, Evaluator
from netfence.core.evaluation.findings import Finding, FindingJson, Kind
from netfence.core.evaluation.targets import Direction, Peer, Target
from netfence.core.objects import Namespace, Policy, Workload

__all__ = ["Finding", "FindingJson", "Kind", "find"]


# Network plugins that enforce NetworkPolicy, recognised by the names of their DaemonSets
# and Deployments or the app labels on their pods, whatever namespace they run in.
ENFORCING_PLUGINS: Final[Mapping[str, frozenset[str]]] = {
    "Calico": frozenset({"calico-node", "calico-kube-controllers", "calico-typha"}),
    "Cilium": frozenset({"cilium", "cilium-agent", "cilium-operator"}),
    "Antrea": frozenset({"antrea-agent", "antrea-controller"}),
    "kube-router": frozenset({"kube-router"}),
    "Weave Net": frozenset({"weave-net"}),
    "Canal": frozenset({"canal"}),
    "Kube-OVN": frozenset({"kube-ovn-cni", "kube-ovn-controller", "ovs-ovn"}),
    "OVN-Kubernetes": frozenset({"ovnkube-node", "ovnkube-master", "ovnkube-controller"}),
    "GKE Dataplane V2": frozenset({"anetd"}),
    "Azure Network Policy Manager": frozenset({"azure-npm"}),
    "Romana": frozenset({"romana-agent"}),
    # The Kubernetes SIG-network enforcer (its DaemonSet and pods are named so); the
    # local cluster runs it too.
    "kube-network-policies": frozenset({"kube-network-policies"}),
}
# Plugins that route pod traffic but enforce no policy on their own.
NON_ENFORCING_PLUGINS: Final[Mapping[str, frozenset[str]]] = {
    "flannel": frozenset({"kube-flannel-ds", "kube-flannel", "flannel"}),
}
_APP_LABELS: Final = ("k8s-app", "app", "app.kubernetes.io/name", "component", "name")

DNS_LABELS: Final = {"k8s-app": "kube-dns"}
_DNS_STAND_IN = Endpoint(
    namespace="kube-system",
    name="kube-dns",
    kind="Deployment",
    labels=DNS_LABELS,
    ports=(ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp")),
)


def find(
    *,
    namespaces: Sequence[Namespace],
    policies: Sequence[Policy],
    endpoints: Sequence[Endpoint],
    others: Sequence[Endpoint] = (),
    workloads: Sequence[Workload] = (),
    look_for_plugin: bool = True,
) -> list[Finding]:
    """Every pitfall, in a stable order: by kind, then by the objects named.

    `endpoints` are judged (controllers and the pods no controller owns, or pods);
    `others` (pods of those controllers) only count as something a selector can match.
    `workloads` and all endpoints are where network plugins are looked for.
    """
    known = list(endpoints) + list(others)
    dns = [e for e in known if _is_dns(e)]
    evaluator = Evaluator(
        namespaces=namespaces,
        endpoints=known + ([] if dns else [_DNS_STAND_IN]),
        policies=policies,
    )
    findings = _without_dns(evaluator, dns or [_DNS_STAND_IN], len(endpoints))
    findings += _selectors_matching_nothing(evaluator, len(known))
    findings += _or_where_and(evaluator.targets)
    findings += _non_canonical_cidrs(policies)
    findings += template_pitfalls.ports_opening_nothing(evaluator, policies, len(known))
    if look_for_plugin:
        findings += _no_enforcing_plugin(workloads, known)
    return sorted(findings, key=lambda f: (list(Kind).index(f.kind), f.objects))


def _is_dns(endpoint: Endpoint) -> bool:
    return all(endpoint.labels.get(k) == v for k, v in DNS_LABELS.items())


def _without_dns(evaluator: Evaluator, dns: Sequence[Endpoint], count: int) -> list[Finding]:
    """Egress-isolated endpoints that reach no DNS server on UDP 53, grouped by policies."""
    servers = [evaluator.positions[d.key] for d in dns]
    groups: dict[tuple[int, ...], list[int]] = {}
    for position in range(count):
        isolating = evaluator.isolating[Direction.EGRESS][position]
        if isolating and evaluator.endpoints[position] not in dns:
            groups.setdefault(tuple(isolating), []).append(position)
    findings = []
    for numbers, members in groups.items():
        if _reaches_dns(evaluator, members[0], servers, numbers):
            continue
        names = [evaluator.endpoints[m].key for m in members]
        policies = [evaluator.targets[n].key for n in numbers]
        where = evaluator.endpoints[members[0]].namespace
        findings.append(
            Finding(
                kind=Kind.NO_DNS,
                message=(
                    f"{_some(names)} can send only what {_list(policies)} "
                    f"{'allows' if len(policies) == 1 else 'allow'}, and no rule "
                    f"allows DNS (UDP port 53 to the cluster DNS, pods labelled "
                    f"k8s-app=kube-dns in kube-system): every name lookup will fail"
                ),
                objects=tuple(f"NetworkPolicy {p}" for p in policies) + tuple(names),
                fix=(
                    "allow egress to the cluster DNS on UDP and TCP port 53, e.g. attach the "
                    f"dns template (netfence attach KIND/NAME dns -n {where}) or add an egress "
                    "rule: to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: "
                    "kube-system}}, podSelector: {matchLabels: {k8s-app: kube-dns}}}], ports: "
                    "[{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]"
                ),
            )
        )
    return findings


def _reaches_dns(
    evaluator: Evaluator, position: int, servers: Sequence[int], numbers: tuple[int, ...]
) -> bool:
    for server in servers:
        if evaluator.side(Direction.EGRESS, position, server, 53, "UDP").allowed:
            return True
    # DNS outside the pod network (NodeLocal DNSCache's link-local address, a resolver
    # outside the cluster) can only be allowed by an ipBlock; the address cannot be checked,
    # so any ipBlock rule open on UDP 53 counts.
    for number in numbers:
        for rule in evaluator.targets[number].egress or ():
            if rule.peers is None or not any(p.ip_block for p in rule.peers):
                continue
            if rule.ports is None or any(m.matches_number(53, "UDP") for m in rule.ports):
                return True
    return False


def _selectors_matching_nothing(evaluator: Evaluator, count: int) -> list[Finding]:
    findings: list[Finding] = []
    real = (1 << count) - 1  # the stand-in DNS server, if any, is not a real endpoint
    populated = {e.namespace for e in evaluator.endpoints[:count]}
    for number, target in enumerate(evaluator.targets):
        policy = f"NetworkPolicy {target.key}"
        if target.namespace in populated and not evaluator.selected[number] & real:
            findings.append(
                Finding(
                    kind=Kind.POLICY_SELECTS_NOTHING,
                    message=(
                        f"{policy} selects no pod or controller: its podSelector "
                        f"({target.selector}) matches nothing in namespace {target.namespace}"
                    ),
                    objects=(policy,),
                    fix=(
                        "check the podSelector's labels against the pods' labels "
                        f"(kubectl get pods -n {target.namespace} --show-labels); a policy "
                        "selects pods of its own namespace only"
                    ),
                )
            )
        for direction in Direction:
            for rule in target.rules(direction) or ():
                for index, peer in enumerate(rule.peers or ()):
                    path = f"{rule.path}.{direction.peers_field}[{index}]"
                    finding = _peer_matches_nothing(evaluator, target, peer, path, real, populated)
                    if finding is not None:
                        findings.append(finding)
    return findings


def _peer_matches_nothing(
    evaluator: Evaluator,
    target: Target,
    peer: Peer,
    path: str,
    real: int,
    populated: set[str],
) -> Finding | None:
    policy = f"NetworkPolicy {target.key}"
    if peer.namespaces is not None:
        spaces = evaluator.select_namespaces(peer.namespaces)
        if not spaces:
            return Finding(
                kind=Kind.NAMESPACES_MATCH_NOTHING,
                message=(
                    f"{policy} {path}: namespaceSelector {peer.namespaces} matches no "
                    f"namespace, so this peer lets nothing through"
                ),
                objects=(policy,),
                fix=_namespace_fix(peer.namespaces, evaluator),
            )
        if peer.pods is None or not populated.intersection(spaces):
            return None
        if evaluator.members(peer) & real:
            return None
        where = f"namespaces {_list(spaces)}"
    elif peer.pods is not None:
        if target.namespace not in populated or evaluator.members(peer) & real:
            return None
        where = f"namespace {target.namespace} (a podSelector alone means the policy's own)"
    else:
        return None
    return Finding(
        kind=Kind.PODS_MATCH_NOTHING,
        message=(
            f"{policy} {path}: podSelector {peer.pods} matches no pod or controller in {where}"
        ),
        objects=(policy,),
        fix=(
            "check the labels against the pods' labels (kubectl get pods -A --show-labels); "
            "to select pods in other namespaces, put a namespaceSelector in the same entry"
        ),
    )


def _namespace_fix(selector: selectors.Selector, evaluator: Evaluator) -> str:
    known = set(evaluator.namespace_labels)
    carried = {k for labels in evaluator.namespace_labels.values() for k in labels}
    for key, value in selector.equalities().items():
        if key not in carried and value in known:
            return (
                f"no namespace carries the label {key!r}; every namespace carries "
                f"{NAME_LABEL}=<its name>, so select {value} with "
                f"namespaceSelector: {{matchLabels: {{{NAME_LABEL}: {value}}}}}"
            )
    return (
        "check the labels against the namespaces' labels (kubectl get namespaces "
        f"--show-labels); to select a namespace by name use {NAME_LABEL}"
    )


def _or_where_and(targets: Iterable[Target]) -> list[Finding]:
    findings = []
    for target in targets:
        for direction in Direction:
            for rule in target.rules(direction) or ():
                peers = rule.peers or ()
                for index in range(len(peers) - 1):
                    first, second = peers[index], peers[index + 1]
                    pair = {_shape(first), _shape(second)}
                    if pair != {"namespaces", "pods"}:
                        continue
                    namespaces = first if _shape(first) == "namespaces" else second
                    pods = second if namespaces is first else first
                    field = f"{rule.path}.{direction.peers_field}"
                    policy = f"NetworkPolicy {target.key}"
                    findings.append(
                        Finding(
                            kind=Kind.OR_WHERE_AND,
                            message=(
                                f"{policy} {field}[{index}] and [{index + 1}] are two separate "
                                f"peers, so they are ORed: {namespaces.describe()}, or "
                                f"{pods.describe()}"
                            ),
                            objects=(policy,),
                            fix=(
                                f"if you meant pods matching {pods.pods} in namespaces matching "
                                f"{namespaces.namespaces}, put both selectors in one entry: "
                                "remove the '-' before the second one so it reads "
                                "'- namespaceSelector: ...' followed by '  podSelector: ...'"
                            ),
                        )
                    )
    return findings


def _non_canonical_cidrs(policies: Sequence[Policy]) -> list[Finding]:
    return [
        Finding(
            kind=Kind.NON_CANONICAL_CIDR,
            message=(
                f"NetworkPolicy {found.policy} {found.field} is {found.written!r}, which is not "
                f"a canonical CIDR: it means {found.network} (so netfence analyses it), and API "
                "servers with strict CIDR validation refuse it when the policy is written again"
            ),
            objects=(f"NetworkPolicy {found.policy}",),
            fix=f"write {found.network} in {found.field}",
        )
        for found in cidrs.non_canonical(policies)
    ]


def _shape(peer: Peer) -> str:
    if peer.ip_block is None and peer.namespaces is not None and peer.pods is None:
        return "namespaces"
    if peer.ip_block is None and peer.pods is not None and peer.namespaces is None:
        return "pods"
    return "other"


def _no_enforcing_plugin(
    workloads: Sequence[Workload], endpoints: Sequence[Endpoint]
) -> list[Finding]:
    names: set[str] = set()
    for workload in workloads:
        names.add(workload.name)
        names.update(workload.pod_labels.get(k, "") for k in _APP_LABELS)
    for endpoint in endpoints:
        if endpoint.kind != "Pod":
            names.add(endpoint.name)
        names.update(endpoint.labels.get(k, "") for k in _APP_LABELS)
    for known in ENFORCING_PLUGINS.values():
        if names & known:
            return []
    routing = [plugin for plugin, known in NON_ENFORCING_PLUGINS.items() if names & known]
    found = f" ({_list(routing)} runs, but does not enforce NetworkPolicy)" if routing else ""
    return [
        Finding(
            kind=Kind.NO_ENFORCING_PLUGIN,
            message=(
                f"no network plugin that enforces NetworkPolicy was found{found}: without one, "
                "the API server stores NetworkPolicies but nothing applies them, so every pod "
                "can still reach every other"
            ),
            objects=(),
            fix=(
                f"install one, e.g. {', '.join(list(ENFORCING_PLUGINS)[:5])} (Canal adds policy "
                "to flannel); if yours enforces policy but is not recognised here, ignore this"
            ),
        )
    ]


def _some(names: Sequence[str]) -> str:
    if len(names) <= 3:
        return _list(names)
    return f"{_list(names[:3])} and {len(names) - 3} more"


def _list(items: Sequence[str]) -> str:
    return ", ".join(items)
