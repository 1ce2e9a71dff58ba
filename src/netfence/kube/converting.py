"""Conversions between lightkube models and the core's slim objects."""

from __future__ import annotations

import logging
from typing import Any

import yaml
from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.batch_v1 import CronJob
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import naming
from netfence.core.objects import Backup, JsonDict, Namespace, Phase, Policy, Workload, WorkloadKind

logger = logging.getLogger(__name__)

WorkloadResource = Deployment | StatefulSet | DaemonSet | CronJob

WORKLOAD_RESOURCES: dict[WorkloadKind, type[WorkloadResource]] = {
    WorkloadKind.DEPLOYMENT: Deployment,
    WorkloadKind.STATEFULSET: StatefulSet,
    WorkloadKind.DAEMONSET: DaemonSet,
    WorkloadKind.CRONJOB: CronJob,
}

API_VERSIONS: dict[str, str] = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "CronJob": "batch/v1",
    "Namespace": "v1",
    "ConfigMap": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}

# libyaml's safe loader when present: a cluster view parses every backup.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Entries of a backup that cannot be parsed are carried through untouched under this key,
# so rewriting a backup never drops anything.
UNPARSED = "$unparsed"


def namespace_from(obj: NamespaceResource) -> Namespace:
    meta = obj.metadata
    assert meta is not None and meta.name is not None
    return Namespace(name=meta.name, labels=dict(meta.labels or {}))


def policy_from(obj: NetworkPolicy) -> Policy:
    meta = obj.metadata
    assert meta is not None and meta.name is not None and meta.namespace is not None
    return Policy(
        namespace=meta.namespace,
        name=meta.name,
        labels=dict(meta.labels or {}),
        annotations={
            k: v
            for k, v in (meta.annotations or {}).items()
            # kubectl's copy of the whole object would double the memory held per policy.
            if k != "kubectl.kubernetes.io/last-applied-configuration"
        },
        spec=obj.spec.to_dict() if obj.spec is not None else {},
    )


def workload_from(obj: WorkloadResource) -> Workload:
    meta = obj.metadata
    assert meta is not None and meta.name is not None and meta.namespace is not None
    spec: Any = obj.spec
    if isinstance(obj, CronJob):
        template = spec.jobTemplate.spec.template if spec and spec.jobTemplate.spec else None
        selector = None
    else:
        template = spec.template if spec is not None else None
        selector = spec.selector.to_dict() if spec is not None and spec.selector else None
    pod_labels = dict(template.metadata.labels or {}) if template and template.metadata else {}
    return Workload.read(
        namespace=meta.namespace,
        kind=WorkloadKind(type(obj).__name__),
        name=meta.name,
        labels=meta.labels or {},
        annotations=meta.annotations or {},
        pod_labels=pod_labels,
        selector=selector,
    )


def backup_from(obj: ConfigMap) -> Backup | None:
    meta = obj.metadata
    if meta is None or meta.labels is None or naming.BACKUP_OF_LABEL not in meta.labels:
        return None
    namespace = meta.labels[naming.BACKUP_OF_LABEL]
    try:
        phase = Phase((meta.annotations or {}).get(naming.PHASE_ANNOTATION, Phase.PRUNING))
    except ValueError:
        # An unknown phase is treated as an unfinished opt-in: resuming it is always safe.
        phase = Phase.PRUNING
    entries: dict[str, JsonDict] = {}
    for key, text in (obj.data or {}).items():
        name = key.removesuffix(".yaml")
        try:
            document = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            document = None
        entries[name] = document if isinstance(document, dict) else {UNPARSED: text}
    return Backup(namespace=namespace, phase=phase, entries=entries)


def backup_data(entries: dict[str, JsonDict]) -> dict[str, str]:
    data: dict[str, str] = {}
    for name, manifest in sorted(entries.items()):
        if UNPARSED in manifest:
            data[f"{name}.yaml"] = str(manifest[UNPARSED])
        else:
            data[f"{name}.yaml"] = yaml.safe_dump(manifest, sort_keys=False)
    return data
