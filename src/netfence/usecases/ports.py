"""What the use cases need from the outside world, as interfaces the adapters implement.

Reading the cluster is one port, `ClusterReader`, served by the live reader (with the
caller's own credentials, `netfence.kube.reading`) and by the controller's informer cache
(`netfence.controller.caching`), so the code that decides never knows which one it reads.
The live reader also answers the wider questions of `ClusterViews` (a whole inventory for
connectivity, events, where templates are used). Writes a person makes go through
`ClusterChanges`; the controller's writes through `PolicyWriter` and `NoticeBoard`.

Tests use small honest fakes of these (tests/usecases/fakes.py); production uses
`netfence.kube`. Every method raises the domain errors of `netfence.core.errors`.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from netfence.core import templates
from netfence.core.manifests import Inventory
from netfence.core.objects import Backup, JsonDict, Policy, WorkloadRef
from netfence.core.planning import NamespaceState, Notice, WriteBackup
from netfence.core.probes import Observation
from netfence.core.visibility import ResourceRule


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    """The template catalog as stored: parsed, the raw documents, and the version read
    (None when the ConfigMap does not exist), which guards the next write."""

    catalog: templates.Catalog
    data: Mapping[str, str]
    resource_version: str | None


EMPTY_CATALOG = StoredCatalog(templates.parse_catalog({}), {}, None)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One Event netfence posted, as people read it."""

    type: str
    reason: str
    message: str
    object: str
    time: datetime.datetime | None


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The Lease the controller's replicas elect their leader with, as read (see
    `netfence.controller.leading`): who holds it, when it was last renewed and for how
    long a renewal holds. A released Lease has no holder."""

    namespace: str
    name: str
    holder: str | None
    renewed: datetime.datetime | None
    duration_seconds: int | None


@dataclass(frozen=True, slots=True)
class Question:
    """May the caller do this? Asked of the cluster's own authorization."""

    verb: str
    resource: str
    group: str = ""
    namespace: str | None = None
    name: str | None = None


class ClusterReader(Protocol):
    """The state the planner decides from, per namespace, and the template catalog."""

    async def namespace(self, name: str) -> NamespaceState:
        """One namespace with its controllers, policies and backup.

        A namespace that does not exist has `namespace=None` (its backup may still be
        there); a backup the caller may not read is left out (None), the rest still shows.
        """
        ...

    async def namespaces(self) -> list[NamespaceState]:
        """Every namespace the caller may see, sorted by name."""
        ...

    async def backup(self, namespace: str) -> Backup | None: ...

    async def catalog(self) -> StoredCatalog: ...


class ClusterViews(ClusterReader, Protocol):
    """What people look at besides the planner's state."""

    async def current_catalog(self) -> StoredCatalog:
        """The catalog as the API server holds it now, for the write its version guards
        (a cache's copy may be a moment behind, which would refuse the write)."""
        ...

    async def revision(self) -> tuple[object, ...] | None:
        """Equal for two reads of this caller that would answer the same (what the caller
        may see, and the version of the cluster read), so an answer computed for one may
        serve the other; None when the reader cannot tell (it reads live)."""
        ...

    async def inventory(self, namespaces: Sequence[str] | None = None) -> Inventory:
        """Everything connectivity analysis needs: of the whole cluster (None), or of some
        namespaces only. Pods the caller may not list are left out and named in
        `Inventory.unreadable`; AccessDenied when the rest may not be read."""
        ...

    async def policy_exists(self, namespace: str, name: str) -> bool: ...

    async def attachment_policies(self, template: str | None = None) -> list[Policy] | None:
        """The policies netfence made from templates (of one template), cluster-wide; None
        when the caller may not list policies everywhere."""
        ...

    async def events(self, namespace: str) -> list[EventRecord]:
        """The Events netfence posted in a namespace (NotFound for no such namespace)."""
        ...

    async def controller_lease(self) -> LeaseRecord | None:
        """The controller's leader-election Lease; None when there is none (no controller
        ever ran); AccessDenied when the caller may not read it."""
        ...


class ClusterChanges(Protocol):
    """The writes a person makes through netfence, each guarded by an ordinary RBAC verb."""

    async def set_namespace_managed(self, name: str, *, managed: bool) -> None: ...

    async def set_template_label(
        self, namespace: str, ref: WorkloadRef, template: str, *, attached: bool
    ) -> None:
        """Attach or detach by label; only the controller's metadata changes."""
        ...

    async def request_refresh(
        self, namespace: str, ref: WorkloadRef, template: str, version: str
    ) -> None:
        """Ask the controller to re-render one attachment from this template version."""
        ...

    async def create_policy(self, manifest: JsonDict) -> bool:
        """Create a NetworkPolicy; False (and nothing written) when its name is taken."""
        ...

    async def create_catalog(self, data: Mapping[str, str]) -> None:
        """Create the template catalog; Conflict when it exists."""
        ...

    async def patch_catalog(self, data: Mapping[str, str | None], *, resource_version: str) -> None:
        """Set (or with None, remove) templates; Conflict if the catalog changed since
        `resource_version` was read."""
        ...


class Authorizer(Protocol):
    """The cluster's authorization answers for the caller (the UI hides what it refuses;
    the API server still decides every call)."""

    async def can(self, question: Question) -> bool: ...


@dataclass(frozen=True, slots=True)
class RulesAnswer:
    """The caller's rules in one namespace; `incomplete` when an authorizer could not list
    them (a webhook), so only asking question by question is exact there."""

    rules: tuple[ResourceRule, ...]
    incomplete: bool = False


class RulesReviewer(Protocol):
    """Everything the caller may do in one namespace, in one answer of the cluster's
    (SelfSubjectRulesReview): one call instead of one per question."""

    async def rules(self, namespace: str) -> RulesAnswer: ...


class Bindings(Protocol):
    """Which namespaces have an RBAC binding for a person: the namespaces worth asking the
    cluster about for them (see `core.visibility`)."""

    def nominated(self, user: str, groups: Sequence[str]) -> frozenset[str]: ...


class Identity(Protocol):
    async def whoami(self) -> tuple[str, tuple[str, ...]]:
        """The caller's user name and groups; Unauthenticated for unaccepted credentials."""
        ...


class Prober(Protocol):
    """Real connections from inside pods: one adapter per kind of cluster that can run
    them (the local cluster's node agent today; docs/probe.md for an in-cluster runner)."""

    async def probe(
        self, source: str, address: str, port: int, protocol: str, timeout: float
    ) -> Observation:
        """One fresh connection from inside pod ``source`` (``namespace/name``) to
        ``address:port``; NotFound when this prober cannot run in that pod."""
        ...


@dataclass(frozen=True, slots=True)
class ViewChange:
    """What changed of what one caller sees: kinds (namespaces, policies, workloads, pods,
    events, backups, catalog, lease) and the namespaces they changed in. `resync`: the
    change could not be followed; everything may have changed."""

    kinds: tuple[str, ...]
    namespaces: tuple[str, ...]
    resync: bool = False


class ChangeFeed(Protocol):
    """Changes of the cluster as they happen, filtered to what the caller may see (the
    console's live stream); only readers of a watch cache have one."""

    def changes(self) -> AsyncIterator[ViewChange]: ...


@dataclass(frozen=True, slots=True)
class Cluster:
    """Every port a person's use case reaches the cluster through, acting as that person."""

    reader: ClusterViews
    changes: ClusterChanges
    authorizer: Authorizer
    identity: Identity
    netfence_namespace: str
    # None where no adapter can open connections from inside the cluster's pods.
    prober: Prober | None = None
    # None where reads go straight to the API server (the CLI): nothing to follow.
    feed: ChangeFeed | None = None


class PolicyWriter(Protocol):
    """Writes the objects a plan changes, each guarded so that a plan made from stale state
    fails (Conflict) instead of acting. Each call is idempotent."""

    async def write_backup(self, step: WriteBackup) -> None: ...

    async def create(self, manifest: JsonDict) -> None:
        """A policy under a name used for the first time: a plain create, so a name taken
        meanwhile (by anyone) answers Conflict and nothing is touched."""
        ...

    async def update(
        self, manifest: JsonDict, *, resource_version: str | None, takeover: bool = False
    ) -> None:
        """Bring an existing policy to `manifest`, only if it is still at `resource_version`
        (Conflict otherwise). `takeover` replaces a backed-up policy netfence did not make
        with its own, in one write."""
        ...

    async def delete(
        self, namespace: str, name: str, *, uid: str | None, resource_version: str | None
    ) -> None:
        """Delete a policy only if it is still that object at that version (Conflict
        otherwise); one that is already gone is fine."""
        ...


class NoticeBoard(Protocol):
    """Publishes notices, as Kubernetes Events in production."""

    async def publish(self, notice: Notice) -> None: ...


class ReconcileRecorder(Protocol):
    """What the reconcile use case reports for the controller's metrics. The controller
    implements it (Prometheus counters); the use cases never know how it is exported."""

    def wrote(self, verb: str, resource: str, result: str) -> None:
        """One write: `verb` create, update, delete or apply; `resource` networkpolicies or
        configmaps; `result` success, conflict, refused (the API server said no) or error."""
        ...

    def refused(self, reason: str) -> None:
        """A refusal newly reported (the reason of its Event: RefusedNamespace, ...)."""
        ...
