"""Honest fakes of netfence's own ports: a cluster in dicts, with the API server's answers
for the cases the use cases rely on (404 as a missing object, 409 as a taken name or a
stale version, 403 as a refused question)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from netfence.core import conversion, errors, manifests, naming, templates
from netfence.core.objects import Backup, JsonDict, Namespace, Policy, Workload, WorkloadRef
from netfence.core.planning import NamespaceState, Notice, WriteBackup
from netfence.core.probes import Observation
from netfence.usecases.ports import Cluster, EventRecord, LeaseRecord, Question, StoredCatalog

NETFENCE_NS = "netfence-system"


class FakeCluster:
    """Implements ClusterViews, ClusterChanges, Authorizer, Identity, PolicyWriter and
    NoticeBoard over one in-memory cluster."""

    def __init__(self, *, denied: Sequence[str] = ()) -> None:
        self.namespace_objects: dict[str, Namespace] = {}
        self.workloads: dict[tuple[str, WorkloadRef], Workload] = {}
        self.policies: dict[tuple[str, str], Policy] = {}
        self.backups: dict[str, Backup] = {}
        self.catalog_data: dict[str, str] | None = None
        self.catalog_version = 0
        self.notices: list[Notice] = []
        # Verbs refused to the caller, as "verb resource" (e.g. "create networkpolicies").
        self.denied = set(denied)
        self.writes: list[str] = []
        self.version = 0
        # The controller's Lease as the leader last wrote it (None: no controller ran).
        self.lease: LeaseRecord | None = None

    # --- arranging ---------------------------------------------------------------------

    def add_namespace(self, name: str, *, managed: bool = False) -> None:
        labels = {naming.MANAGED_NAMESPACE_LABEL: naming.MANAGED_NAMESPACE_VALUE} if managed else {}
        self.namespace_objects[name] = Namespace(name, labels)

    def add_workload(self, workload: Workload) -> None:
        self.workloads[(workload.namespace, workload.ref)] = workload

    def add_policy(self, policy: Policy) -> None:
        self.policies[(policy.namespace, policy.name)] = policy

    def set_catalog(self, data: Mapping[str, str]) -> None:
        self.catalog_data = dict(data)
        self.catalog_version += 1

    def ports(self) -> Cluster:
        return Cluster(self, self, self, self, NETFENCE_NS)

    def _refuse(self, verb: str, resource: str) -> None:
        if f"{verb} {resource}" in self.denied:
            raise errors.AccessDenied(f"you may not {verb} {resource}")

    # --- ClusterReader -----------------------------------------------------------------

    async def namespace(self, name: str) -> NamespaceState:
        self._refuse("get", "namespaces")
        return NamespaceState(
            name=name,
            namespace=self.namespace_objects.get(name),
            workloads=[w for (ns, _), w in self.workloads.items() if ns == name],
            policies=[p for (ns, _), p in self.policies.items() if ns == name],
            backup=self.backups.get(name),
        )

    async def namespaces(self) -> list[NamespaceState]:
        return [await self.namespace(name) for name in sorted(self.namespace_objects)]

    async def backup(self, namespace: str) -> Backup | None:
        return self.backups.get(namespace)

    async def catalog(self) -> StoredCatalog:
        if self.catalog_data is None:
            return StoredCatalog(templates.parse_catalog({}), {}, None)
        data = dict(self.catalog_data)
        return StoredCatalog(templates.parse_catalog(data), data, str(self.catalog_version))

    # --- ClusterViews ------------------------------------------------------------------

    async def inventory(self, namespaces: Sequence[str] | None = None) -> manifests.Inventory:
        if namespaces is None:
            self._refuse("list", "namespaces")
        wanted = set(namespaces) if namespaces is not None else set(self.namespace_objects)
        documents: list[tuple[str, object]] = []
        for name in sorted(wanted):
            if name not in self.namespace_objects:
                raise errors.NotFound(f"namespace {name} does not exist")
            labels = dict(self.namespace_objects[name].labels)
            documents.append(
                (name, {"kind": "Namespace", "metadata": {"name": name, "labels": labels}})
            )
        for (ns, _), policy in sorted(self.policies.items()):
            if ns in wanted:
                documents.append((policy.name, policy.manifest()))
        for (ns, _), workload in sorted(self.workloads.items(), key=lambda kv: str(kv[0])):
            if ns in wanted:
                documents.append((workload.name, _workload_manifest(workload)))
        return manifests.read(documents, validate=False)

    async def current_catalog(self) -> StoredCatalog:
        return await self.catalog()

    async def revision(self) -> tuple[object, ...] | None:
        return None

    async def policy_exists(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self.policies

    async def attachment_policies(self, template: str | None = None) -> list[Policy] | None:
        found = [p for p in self.policies.values() if p.role == naming.ROLE_ATTACHMENT]
        return [p for p in found if template is None or p.template == template]

    async def events(self, namespace: str) -> list[EventRecord]:
        if namespace not in self.namespace_objects:
            raise errors.NotFound(f"namespace {namespace} does not exist")
        return []

    async def controller_lease(self) -> LeaseRecord | None:
        self._refuse("get", "leases")
        return self.lease

    # --- ClusterChanges ----------------------------------------------------------------

    async def set_namespace_managed(self, name: str, *, managed: bool) -> None:
        self._refuse("patch", "namespaces")
        if name not in self.namespace_objects:
            raise errors.NotFound(f"namespace {name} does not exist")
        labels = dict(self.namespace_objects[name].labels)
        if managed:
            labels[naming.MANAGED_NAMESPACE_LABEL] = naming.MANAGED_NAMESPACE_VALUE
        else:
            labels.pop(naming.MANAGED_NAMESPACE_LABEL, None)
        self.namespace_objects[name] = Namespace(name, labels)
        self.writes.append(f"label namespace {name} managed={managed}")

    async def set_template_label(
        self, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
    ) -> None:
        self._refuse("patch", f"{ref.kind.value.lower()}s")
        workload = self.workloads.get((namespace, ref))
        if workload is None:
            raise errors.NotFound(f"{ref} does not exist")
        labels = dict(workload.labels)
        key = naming.template_label_key(template)
        if attached:
            labels[key] = naming.TEMPLATE_LABEL_VALUE
        else:
            labels.pop(key, None)
        self.workloads[(namespace, ref)] = dataclasses.replace(workload, labels=labels)
        self.writes.append(f"label {ref} {template}={attached}")

    async def request_refresh(
        self, namespace: str, ref: WorkloadRef, template: str, version: str
    ) -> None:
        self.writes.append(f"refresh {ref} {template}@{version}")

    async def create_policy(self, manifest: JsonDict) -> bool:
        self._refuse("create", "networkpolicies")
        metadata = manifest["metadata"]
        key = (metadata["namespace"], metadata["name"])
        if key in self.policies:
            return False
        self.policies[key] = Policy(
            key[0], key[1], metadata.get("labels") or {}, {}, manifest["spec"]
        )
        self.writes.append(f"create policy {key[0]}/{key[1]}")
        return True

    async def create_catalog(self, data: Mapping[str, str]) -> None:
        if self.catalog_data is not None:
            raise errors.Conflict("the catalog exists")
        self.set_catalog(data)
        self.writes.append("create catalog")

    async def patch_catalog(self, data: Mapping[str, str | None], *, resource_version: str) -> None:
        if self.catalog_data is None or resource_version != str(self.catalog_version):
            raise errors.Conflict("the template catalog was changed by someone else")
        merged = dict(self.catalog_data)
        for name, text in data.items():
            if text is None:
                merged.pop(name, None)
            else:
                merged[name] = text
        self.set_catalog(merged)
        self.writes.append("patch catalog")

    # --- Authorizer and Identity ---------------------------------------------------------

    async def can(self, question: Question) -> bool:
        return f"{question.verb} {question.resource}" not in self.denied

    async def whoami(self) -> tuple[str, tuple[str, ...]]:
        return "tester", ("testers",)

    # --- PolicyWriter and NoticeBoard ------------------------------------------------------

    async def write_backup(self, step: WriteBackup) -> None:
        self.backups[step.namespace] = Backup(step.namespace, step.phase, dict(step.entries))

    async def delete(
        self, namespace: str, name: str, *, uid: str | None, resource_version: str | None
    ) -> None:
        current = self.policies.get((namespace, name))
        if current is not None and resource_version not in (None, current.resource_version):
            raise errors.Conflict(f"{name} changed since it was read")
        self.policies.pop((namespace, name), None)

    async def create(self, manifest: JsonDict) -> None:
        policy = conversion.policy_from(manifest)
        if (policy.namespace, policy.name) in self.policies:
            raise errors.Conflict(f"{policy.name} exists")
        self._store(policy)

    async def update(
        self, manifest: JsonDict, *, resource_version: str | None, takeover: bool = False
    ) -> None:
        policy = conversion.policy_from(manifest)
        current = self.policies.get((policy.namespace, policy.name))
        if current is None or resource_version not in (None, current.resource_version):
            raise errors.Conflict(f"{policy.name} changed since it was read")
        self._store(policy)

    def _store(self, policy: Policy) -> None:
        self.version += 1
        stored = dataclasses.replace(policy, resource_version=str(self.version))
        self.policies[(policy.namespace, policy.name)] = stored

    async def publish(self, notice: Notice) -> None:
        self.notices.append(notice)


def _workload_manifest(workload: Workload) -> dict[str, Any]:
    return {
        "kind": workload.kind.value,
        "metadata": {
            "name": workload.name,
            "namespace": workload.namespace,
            "labels": dict(workload.labels),
        },
        "spec": {
            "selector": workload.pod_selector,
            "template": {
                "metadata": {"labels": dict(workload.pod_labels)},
                "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 8080}]}]},
            },
        },
    }


class FakeProber:
    """Implements Prober over a wire decided by a rule: ``allow(source, address, port,
    protocol)``. Pods in ``elsewhere`` run on no node it reaches (NotFound); ``lossy``
    probes are dropped on their first attempt only, as an enforcer losing a verdict;
    ``listening`` ports answer, the others refuse. It records every call and how many
    were in flight at once."""

    def __init__(
        self,
        allow: Any,
        *,
        answers: Mapping[str, str] | None = None,
        listening: Sequence[tuple[str, int, str]] | None = None,
        elsewhere: Sequence[str] = (),
        lossy: Sequence[tuple[str, str, int, str]] = (),
    ) -> None:
        self.allow = allow
        self.answers = dict(answers or {})  # address -> what the pod there says
        self.listening = None if listening is None else set(listening)
        self.elsewhere = set(elsewhere)
        self.lossy = set(lossy)
        self.calls: list[tuple[str, str, int, str, float]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def probe(
        self, source: str, address: str, port: int, protocol: str, timeout: float
    ) -> Observation:
        if source in self.elsewhere:
            raise errors.NotFound(f"pod {source} runs on no node this prober reaches")
        self.calls.append((source, address, port, protocol, timeout))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0)  # let the others start: concurrency is what is measured
            key = (source, address, port, protocol)
            if key in self.lossy:
                self.lossy.discard(key)
                return Observation("dropped", None, timeout)
            if not self.allow(source, address, port, protocol):
                return Observation("dropped", None, timeout)
            if self.listening is not None and (address, port, protocol) not in self.listening:
                return Observation("refused", None, 0.001)
            return Observation("connected", self.answers.get(address), 0.001)
        finally:
            self.in_flight -= 1
