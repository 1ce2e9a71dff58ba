"""lightkube models handed to the core's one converter (`core.conversion`) as API dicts."""

from __future__ import annotations

from typing import Any

from lightkube.resources.apps_v1 import DaemonSet, Deployment, StatefulSet
from lightkube.resources.batch_v1 import CronJob
from lightkube.resources.core_v1 import ConfigMap
from lightkube.resources.core_v1 import Namespace as NamespaceResource
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import conversion
from netfence.core.objects import Backup, Namespace, Policy, Workload, WorkloadKind

WorkloadResource = Deployment | StatefulSet | DaemonSet | CronJob

WORKLOAD_RESOURCES: dict[WorkloadKind, type[WorkloadResource]] = {
    WorkloadKind.DEPLOYMENT: Deployment,
    WorkloadKind.STATEFULSET: StatefulSet,
    WorkloadKind.DAEMONSET: DaemonSet,
    WorkloadKind.CRONJOB: CronJob,
}


def namespace_from(obj: NamespaceResource) -> Namespace:
    return conversion.namespace_from(obj.to_dict())


def policy_from(obj: NetworkPolicy) -> Policy:
    return conversion.policy_from(obj.to_dict())


def workload_from(obj: WorkloadResource) -> Workload:
    # Typed lists may leave `kind` out of each item; the model's class names it.
    return conversion.workload_from(obj.to_dict(), kind=WorkloadKind(type(obj).__name__))


def backup_from(obj: ConfigMap) -> Backup | None:
    return conversion.backup_from(obj.to_dict())


def document(obj: Any) -> dict[str, Any]:
    """Any model as the API's JSON form, for readers that take dicts."""
    result: dict[str, Any] = obj.to_dict()
    return result
