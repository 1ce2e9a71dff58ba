"""A lab: a cluster's exported manifests made into objects for the local cluster.

`netfence lab up -f FILES` reads what `kubectl get ns,deploy,sts,ds,cronjob,pod,netpol -A
-o yaml` prints (lists included) and plans, purely, what to create so that the local
cluster's pods stand for the original's and its policies apply to them as they are:

* namespaces with their labels;
* controllers with their pod templates as written, but running nothing by themselves
  (replicas 0, a DaemonSet's nodeSelector that matches no node, a CronJob suspended), so
  netfence sees them as it sees the original's;
* one pod per controller, made by the lab from its pod template (labels, containers with
  their ports, sidecars), bound to the lab's node: the pods of the original controllers
  in the export are not copied, since these stand for them;
* pods no controller owns, likewise reduced to labels, containers and ports;
* NetworkPolicies as they are.

Every server-set field (uid, resourceVersion, status, managedFields, ownerReferences...)
is stripped and every object carries the label `netfence.io/lab: "true"`, by which `lab
down` removes exactly what the lab made. Addresses are the local pod CIDR's, so an ipBlock
that named an address of the original cluster now names something else: each is listed.
Purely computational, no side effects.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from netfence.core import naming

LAB_LABEL: Final = "netfence.io/lab"
LAB_VALUE: Final = "true"
# Namespaces every cluster has: the lab puts objects in them but never makes or removes them.
BUILT_IN_NAMESPACES: Final = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
_CONTROLLERS: Final = {"Deployment", "StatefulSet", "DaemonSet", "CronJob"}
_OWNERS: Final = {"ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Deployment", "CronJob"}
_SERVER_FIELDS: Final = (
    "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
    "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers",
)  # fmt: skip
_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"
_NO_NODE: Final = {"netfence.io/lab-runs-no-daemon": "true"}
_SKIPPED_NAMESPACES: Final = frozenset({"kube-public", "kube-node-lease"})


@dataclass(frozen=True, slots=True)
class LabPlan:
    namespaces: tuple[dict[str, Any], ...] = ()
    controllers: tuple[dict[str, Any], ...] = ()
    pods: tuple[dict[str, Any], ...] = ()
    policies: tuple[dict[str, Any], ...] = ()
    # The ipBlocks that named an address of the original cluster, in words.
    warnings: tuple[str, ...] = ()
    # Kinds read but not made, with how many (Services, pods of controllers...).
    skipped: Mapping[str, int] = field(default_factory=dict)

    def objects(self) -> list[dict[str, Any]]:
        """Everything to create, in an order the API server accepts."""
        return [*self.namespaces, *self.controllers, *self.pods, *self.policies]


def plan(documents: Iterable[object], *, node: str) -> LabPlan:
    """What the lab makes of the exported documents, its pods bound to `node`."""
    items = list(_flatten(documents))
    namespaces: dict[str, dict[str, Any]] = {}
    controllers: list[dict[str, Any]] = []
    pods: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    skipped: dict[str, int] = {}
    original: dict[str, str] = {}  # an address of the original cluster -> what had it
    for item in items:
        kind = item.get("kind")
        metadata = item.get("metadata") or {}
        name, namespace = metadata.get("name"), metadata.get("namespace") or "default"
        if not isinstance(name, str):
            continue
        for address in _addresses(item):
            original.setdefault(address, f"{namespace}/{name}")
        if kind == "Namespace":
            if name not in _SKIPPED_NAMESPACES:
                namespaces[name] = _namespace(item)
            continue
        if namespace in _SKIPPED_NAMESPACES:
            skipped[kind or "?"] = skipped.get(kind or "?", 0) + 1
            continue
        if kind in _CONTROLLERS:
            controllers.append(_controller(item, namespace))
            pods.append(_pod_of(item, namespace, node))
        elif kind == "Pod":
            owners = {o.get("kind") for o in metadata.get("ownerReferences") or []}
            if owners & _OWNERS or (item.get("spec") or {}).get("hostNetwork"):
                skipped["Pod of a controller or on the host network"] = (
                    skipped.get("Pod of a controller or on the host network", 0) + 1
                )
                continue
            pods.append(
                _pod(namespace, name, metadata.get("labels") or {}, item.get("spec") or {}, node)
            )
        elif kind == "NetworkPolicy":
            policies.append(_policy(item, namespace))
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1
    for made in [*controllers, *pods, *policies]:
        space = made["metadata"]["namespace"]
        if space not in namespaces and space not in BUILT_IN_NAMESPACES:
            namespaces[space] = {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": space, "labels": {LAB_LABEL: LAB_VALUE}},
            }
    return LabPlan(
        namespaces=tuple(namespaces[n] for n in sorted(namespaces) if n not in BUILT_IN_NAMESPACES),
        controllers=tuple(controllers),
        pods=tuple(pods),
        policies=tuple(policies),
        warnings=tuple(_ip_block_warnings(policies, original)),
        skipped=dict(sorted(skipped.items())),
    )


def _flatten(documents: Iterable[object]) -> Iterable[Mapping[str, Any]]:
    for document in documents:
        if not isinstance(document, Mapping):
            continue
        kind = document.get("kind")
        if isinstance(kind, str) and kind.endswith("List"):
            yield from _flatten(document.get("items") or [])
        else:
            yield document


def _stripped(item: Mapping[str, Any], namespace: str | None) -> dict[str, Any]:
    made = {k: copy.deepcopy(v) for k, v in item.items() if k != "status"}
    metadata = {k: v for k, v in (made.get("metadata") or {}).items() if k not in _SERVER_FIELDS}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != _APPLIED}
    metadata["annotations"] = annotations or None
    metadata["labels"] = {**(metadata.get("labels") or {}), LAB_LABEL: LAB_VALUE}
    if namespace is not None:
        metadata["namespace"] = namespace
    made["metadata"] = {k: v for k, v in metadata.items() if v is not None}
    return made


def _namespace(item: Mapping[str, Any]) -> dict[str, Any]:
    made = _stripped(item, None)
    made.pop("spec", None)  # finalizers: the API server sets them
    return made


def _controller(item: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    made = _stripped(item, namespace)
    spec = made.setdefault("spec", {})
    kind = made.get("kind")
    if kind in ("Deployment", "StatefulSet"):
        spec["replicas"] = 0
    elif kind == "DaemonSet":
        template = spec.setdefault("template", {}).setdefault("spec", {})
        template["nodeSelector"] = dict(_NO_NODE)
    elif kind == "CronJob":
        spec["suspend"] = True
    return made


def _template(item: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = item.get("spec") or {}
    if item.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return spec.get("template") or {}


def _pod_of(item: Mapping[str, Any], namespace: str, node: str) -> dict[str, Any]:
    """The one pod standing for a controller: its template's labels and containers."""
    template = _template(item)
    labels = (template.get("metadata") or {}).get("labels") or {}
    kind = str(item.get("kind")).lower()
    name = f"{item['metadata']['name']}-lab-{kind}"[:253]
    return _pod(namespace, name, labels, template.get("spec") or {}, node)


def _pod(
    namespace: str, name: str, labels: Mapping[str, str], spec: Mapping[str, Any], node: str
) -> dict[str, Any]:
    """A pod of labels, containers and ports only: no volumes, service account or secrets
    the lab has not got; the node agent serves its ports."""

    def container(c: Mapping[str, Any], sidecar: bool) -> dict[str, Any]:
        made: dict[str, Any] = {"name": c.get("name") or "main", "image": c.get("image") or "lab"}
        if c.get("ports"):
            made["ports"] = [
                {k: v for k, v in p.items() if k in ("name", "containerPort", "protocol")}
                for p in c["ports"]
            ]
        if sidecar:
            made["restartPolicy"] = "Always"
        return made

    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    pod_spec: dict[str, Any] = {
        "nodeName": node,
        "automountServiceAccountToken": False,
        "containers": [container(c, False) for c in spec.get("containers") or []]
        or [{"name": "main", "image": "lab"}],
    }
    if sidecars:
        pod_spec["initContainers"] = [container(c, True) for c in sidecars]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {**labels, LAB_LABEL: LAB_VALUE},
        },
        "spec": pod_spec,
    }


def _policy(item: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    made = _stripped(item, namespace)
    labels = made["metadata"]["labels"]
    # netfence made these in the original cluster; in the lab they are the lab's, and the
    # controller (if one runs) must not take them for its own.
    labels.pop(naming.MANAGED_BY_LABEL, None)
    return made


def _addresses(item: Mapping[str, Any]) -> list[str]:
    status = item.get("status") or {}
    found = [str(e.get("ip")) for e in status.get("podIPs") or [] if e.get("ip")]
    for key in ("podIP", "hostIP"):
        if status.get(key):
            found.append(str(status[key]))
    return found


def _ip_block_warnings(
    policies: Sequence[Mapping[str, Any]], original: Mapping[str, str]
) -> list[str]:
    addresses = []
    for text, owner in original.items():
        try:
            addresses.append((ipaddress.ip_address(text), owner))
        except ValueError:
            continue
    warnings = []
    for policy in policies:
        key = f"{policy['metadata']['namespace']}/{policy['metadata']['name']}"
        spec = policy.get("spec") or {}
        for direction, peers_field in (("ingress", "from"), ("egress", "to")):
            for r, rule in enumerate(spec.get(direction) or []):
                for p, peer in enumerate((rule or {}).get(peers_field) or []):
                    cidr = ((peer or {}).get("ipBlock") or {}).get("cidr")
                    if not isinstance(cidr, str):
                        continue
                    try:
                        network = ipaddress.ip_network(cidr, strict=False)
                    except ValueError:
                        continue
                    named = sorted(
                        {o for a, o in addresses if a.version == network.version and a in network}
                    )
                    if named and network.prefixlen > 0:
                        shown = ", ".join(named[:3]) + (
                            f" and {len(named) - 3} more" if len(named) > 3 else ""
                        )
                        warnings.append(
                            f"NetworkPolicy {key} spec.{direction}[{r}].{peers_field}[{p}].ipBlock "
                            f"{cidr} named addresses of the original cluster ({shown}); the lab "
                            "gives pods addresses of its own pod CIDR, so it matches other pods "
                            "or none here"
                        )
    return warnings
