"""Slim, immutable views of the cluster objects that netfence reasons about.

The Kubernetes adapter converts API objects into these; the core never sees a client model.
Only the fields planning needs are kept, which keeps a controller watching thousands of
workloads small in memory.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from netfence.core import naming

JsonDict = dict[str, Any]


class WorkloadKind(enum.StrEnum):
    DEPLOYMENT = "Deployment"
    STATEFULSET = "StatefulSet"
    DAEMONSET = "DaemonSet"
    CRONJOB = "CronJob"

    @classmethod
    def parse(cls, text: str) -> WorkloadKind:
        """Accept the forms people type: `Deployment`, `deployment`, `deploy`, `sts`, ..."""
        key = text.strip().lower()
        for kind, aliases in _KIND_ALIASES.items():
            if key in aliases:
                return kind
        allowed = ", ".join(k.value for k in cls)
        raise ValueError(f"unknown controller kind {text!r}: use one of {allowed}")


_KIND_ALIASES: Mapping[WorkloadKind, frozenset[str]] = {
    WorkloadKind.DEPLOYMENT: frozenset({"deployment", "deployments", "deploy"}),
    WorkloadKind.STATEFULSET: frozenset({"statefulset", "statefulsets", "sts"}),
    WorkloadKind.DAEMONSET: frozenset({"daemonset", "daemonsets", "ds"}),
    WorkloadKind.CRONJOB: frozenset({"cronjob", "cronjobs", "cj"}),
}


@dataclass(frozen=True, slots=True)
class WorkloadRef:
    kind: WorkloadKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> WorkloadRef:
        kind, sep, name = text.partition("/")
        if not sep or not name:
            raise ValueError(f"expected KIND/NAME such as deployment/web, got {text!r}")
        return cls(kind=WorkloadKind.parse(kind), name=name)


@dataclass(frozen=True, slots=True)
class Workload:
    """A controller (Deployment, StatefulSet, DaemonSet, CronJob) and how to select its pods."""

    namespace: str
    kind: WorkloadKind
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # The controller's own pod selector; None when it has none netfence can use (a CronJob
    # whose pod template carries no labels).
    pod_selector: JsonDict | None = None
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    # template -> version, from `refresh.netfence.io/<template>` annotations only.
    refresh_requests: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def read(
        cls,
        *,
        namespace: str,
        kind: WorkloadKind,
        name: str,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        pod_labels: Mapping[str, str],
        selector: JsonDict | None,
    ) -> Workload:
        """A controller as netfence sees it, from the parts of its manifest that matter.

        Both readers (API objects and manifest files) come through here, so they agree on
        how a controller's pods are selected and which refreshes it asks for.
        """
        if kind is WorkloadKind.CRONJOB:
            # A CronJob has no selector of its own; its pod template labels are the stable part.
            selector = {"matchLabels": dict(pod_labels)} if pod_labels else None
        prefix = naming.REFRESH_ANNOTATION_PREFIX
        return cls(
            namespace=namespace,
            kind=kind,
            name=name,
            labels=dict(labels),
            pod_selector=selector,
            pod_labels=dict(pod_labels),
            refresh_requests={
                key[len(prefix) :]: str(value)
                for key, value in annotations.items()
                if key.startswith(prefix)
            },
        )

    @property
    def ref(self) -> WorkloadRef:
        return WorkloadRef(self.kind, self.name)

    @property
    def attached_templates(self) -> tuple[str, ...]:
        """Templates requested by `templates.netfence.io/<name>=true` labels, sorted."""
        prefix = naming.TEMPLATE_LABEL_PREFIX
        return tuple(
            sorted(
                key[len(prefix) :]
                for key, value in self.labels.items()
                if key.startswith(prefix) and value == naming.TEMPLATE_LABEL_VALUE
            )
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """A NetworkPolicy as it exists in the cluster, reduced to its manifest."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: JsonDict = field(default_factory=dict)
    # Which object this is and which version of it was read: deletes and replaces carry
    # them as preconditions, so a plan made from stale state fails instead of acting.
    # Not part of a policy's identity for equality: two reads of the same policy compare
    # equal by content.
    uid: str | None = field(default=None, compare=False)
    resource_version: str | None = field(default=None, compare=False)
    # metadata.creationTimestamp as the API writes it (RFC 3339), for people's AGE column.
    created: str | None = field(default=None, compare=False)

    @property
    def role(self) -> str | None:
        """`baseline` or `attachment` when netfence made it, else None."""
        if self.labels.get(naming.MANAGED_BY_LABEL) != naming.MANAGED_BY_VALUE:
            return None
        role = self.labels.get(naming.ROLE_LABEL)
        return role if role in (naming.ROLE_BASELINE, naming.ROLE_ATTACHMENT) else None

    @property
    def is_managed(self) -> bool:
        return self.role is not None

    @property
    def template(self) -> str | None:
        return self.labels.get(naming.TEMPLATE_LABEL) if self.is_managed else None

    @property
    def controller(self) -> WorkloadRef | None:
        text = self.annotations.get(naming.CONTROLLER_ANNOTATION)
        if not self.is_managed or not text:
            return None
        try:
            return WorkloadRef.parse(text)
        except ValueError:
            return None

    def manifest(self) -> JsonDict:
        """The policy as a clean manifest: what a backup keeps and `kubectl apply` accepts."""
        metadata: JsonDict = {"name": self.name, "namespace": self.namespace}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        if self.annotations:
            metadata["annotations"] = dict(self.annotations)
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata,
            "spec": self.spec,
        }


class Phase(enum.StrEnum):
    """Where a namespace is in its opt-in, recorded on its backup ConfigMap.

    PRUNING is written together with the backup, before any deletion, so a crash at any
    point resumes the opt-in instead of starting over or losing a policy.
    """

    PRUNING = "pruning"
    ADOPTED = "adopted"
    RELEASED = "released"


@dataclass(frozen=True, slots=True)
class Backup:
    """The NetworkPolicies netfence removed from a namespace when it was opted in."""

    namespace: str
    phase: Phase
    entries: Mapping[str, JsonDict] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    # metadata.creationTimestamp as the API writes it (RFC 3339), for people's AGE column.
    created: str | None = field(default=None, compare=False)

    @property
    def wants_management(self) -> bool:
        return self.labels.get(naming.MANAGED_NAMESPACE_LABEL) == naming.MANAGED_NAMESPACE_VALUE
