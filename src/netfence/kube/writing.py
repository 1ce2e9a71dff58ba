"""Writes plans into the cluster: backups, policies and events."""

from __future__ import annotations

import datetime
import logging
import os
import secrets
from typing import cast

from lightkube import ApiError, AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Event
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.core import backups, conversion, errors, messages, naming, policies
from netfence.core.objects import JsonDict
from netfence.core.planning import Notice, WriteBackup
from netfence.kube import deleting, failures

logger = logging.getLogger(__name__)

_MAX_EVENT_MESSAGE = 1024


def _unchanged(part: backups.Part, stored: tuple[JsonDict, dict[str, str]] | None) -> bool:
    """Whether a part is stored exactly as it would be written."""
    if stored is None:
        return False
    meta, data = stored
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return (
        data == dict(part.data)
        and all(annotations.get(k) == v for k, v in part.annotations.items())
        and all(labels.get(k) == v for k, v in part.labels.items())
    )


class KubeWriter:
    """Implements the PolicyWriter and NoticeBoard ports with the caller's client."""

    def __init__(self, client: AsyncClient, *, netfence_namespace: str) -> None:
        self._client = client
        self._netfence_namespace = netfence_namespace
        self._instance = os.environ.get("POD_NAME") or os.uname().nodename

    async def write_backup(self, step: WriteBackup) -> None:
        """One logical step, however many ConfigMaps it takes (`core.backups`): every part
        first, the head (with the phase) last, then the parts the head no longer points
        at. A crash anywhere before the head leaves the previous backup whole."""
        namespace = step.namespace
        parts = backups.split(namespace, step.phase, step.entries)
        with failures.translated(f"write the backup of namespace {namespace}"):
            stored = await self._stored_backup(namespace)
            assembly = backups.assemble(
                namespace,
                (conversion.backup_piece_from({"metadata": meta}) for meta, _ in stored.values()),
            )
            if assembly.incomplete:
                raise backups.IncompleteBackup(
                    backups.incomplete_error(
                        namespace, assembly.missing, netfence_namespace=self._netfence_namespace
                    )
                )
            for part in parts[1:]:
                if _unchanged(part, stored.get(part.name)):
                    continue  # the same generation holds the same data: nothing to send
                await self._client.apply(self._config_map(part), force=True)
            await self._client.apply(self._config_map(parts[0]), force=True)
        written = {part.name for part in parts}
        for name in sorted(stored):
            if naming.is_backup_part_name(namespace, name) and name not in written:
                await self._delete_part(name)

    async def _stored_backup(self, namespace: str) -> dict[str, tuple[JsonDict, dict[str, str]]]:
        """Metadata and data of every ConfigMap of the namespace's backup, by name, from
        one list: one consistent snapshot."""
        found: dict[str, tuple[JsonDict, dict[str, str]]] = {}
        listing = self._client.list(
            ConfigMap,
            namespace=self._netfence_namespace,
            labels={naming.BACKUP_OF_LABEL: namespace},
        )
        async for config_map in listing:
            meta = config_map.metadata
            if meta is not None and meta.name:
                found[meta.name] = (meta.to_dict(), dict(config_map.data or {}))
        return found

    def _config_map(self, part: backups.Part) -> ConfigMap:
        return ConfigMap(
            metadata=ObjectMeta(
                name=part.name,
                namespace=self._netfence_namespace,
                labels=dict(part.labels),
                annotations=dict(part.annotations),
            ),
            data=dict(part.data),
        )

    async def _delete_part(self, name: str) -> None:
        """A part no head points at is ignored by every reader: failing to delete it is
        logged, never a failed step (the backup itself is written)."""
        try:
            with failures.translated(f"delete the unused backup part {name}"):
                await self._client.delete(ConfigMap, name, namespace=self._netfence_namespace)
        except errors.NotFound:
            pass
        except errors.NetfenceError as e:
            logger.warning("%s; it is left in place and ignored", e)

    async def create(self, manifest: JsonDict) -> None:
        name = manifest["metadata"]["name"]
        namespace = manifest["metadata"]["namespace"]
        obj = cast(NetworkPolicy, NetworkPolicy.from_dict(manifest))
        with failures.translated(f"create NetworkPolicy {namespace}/{name}"):
            try:
                await self._client.create(obj)
            except ApiError as e:
                if e.status.code != 409:
                    raise
                raise errors.Conflict(
                    f"cannot create NetworkPolicy {namespace}/{name}: a policy of that name "
                    "was created by someone else meanwhile; it was left as it is"
                ) from e

    async def update(
        self, manifest: JsonDict, *, resource_version: str | None, takeover: bool = False
    ) -> None:
        name = manifest["metadata"]["name"]
        namespace = manifest["metadata"]["namespace"]
        with failures.translated(f"update NetworkPolicy {namespace}/{name}"):
            try:
                if takeover:
                    # A backed-up policy of another maker under a name netfence needs: one
                    # replace, guarded by the version that was backed up.
                    await self._replace(manifest, resource_version, keep=None)
                else:
                    await self._apply(manifest, resource_version)
            except ApiError as e:
                if e.status.code == 409:
                    raise errors.Conflict(
                        f"cannot update NetworkPolicy {namespace}/{name}: it changed since it "
                        "was read; it will be planned again"
                    ) from e
                raise

    async def _apply(self, manifest: JsonDict, resource_version: str | None) -> None:
        obj = cast(NetworkPolicy, NetworkPolicy.from_dict(manifest))
        assert obj.metadata is not None
        # A resourceVersion in an apply is a precondition: 409 if the policy changed since.
        obj.metadata.resourceVersion = resource_version
        result = await self._client.apply(obj, force=True)
        meta = result.metadata
        assert meta is not None
        spec = result.spec.to_dict() if result.spec is not None else {}
        if policies.differs(
            manifest, labels=meta.labels or {}, annotations=meta.annotations or {}, spec=spec
        ):
            # Someone else's field manager owns a field netfence does not set (for
            # example an `egress` list added by `kubectl edit`); apply leaves it in
            # place, so replace the whole spec, guarded by the resourceVersion.
            await self._replace(manifest, meta.resourceVersion, keep=meta)

    async def _replace(
        self, manifest: JsonDict, resource_version: str | None, *, keep: ObjectMeta | None
    ) -> None:
        replacement = cast(NetworkPolicy, NetworkPolicy.from_dict(manifest))
        assert replacement.metadata is not None
        replacement.metadata.resourceVersion = resource_version
        if keep is not None:
            replacement.metadata.labels = {
                **(keep.labels or {}),
                **(replacement.metadata.labels or {}),
            }
            replacement.metadata.annotations = {
                **(keep.annotations or {}),
                **(replacement.metadata.annotations or {}),
            }
        await self._client.replace(replacement)

    async def delete(
        self, namespace: str, name: str, *, uid: str | None, resource_version: str | None
    ) -> None:
        with failures.translated(f"delete NetworkPolicy {namespace}/{name}"):
            try:
                await deleting.delete_if_unchanged(
                    self._client,
                    NetworkPolicy,
                    name,
                    namespace=namespace,
                    uid=uid,
                    resource_version=resource_version,
                )
            except ApiError as e:
                if e.status.code == 404:
                    return  # already gone: what the step wanted
                if e.status.code == 409:
                    raise errors.Conflict(
                        f"cannot delete NetworkPolicy {namespace}/{name}: it changed since it "
                        "was read (someone restored or replaced it); it will be planned again"
                    ) from e
                raise

    async def publish(self, notice: Notice) -> None:
        if notice.kind == "Namespace":
            # Namespace events live in the namespace itself, where `kubectl get events -n`
            # and `kubectl describe namespace` show them.
            event_namespace, object_namespace = notice.name, notice.name
        else:
            event_namespace = notice.namespace or "default"
            object_namespace = notice.namespace or ""
        now = datetime.datetime.now(datetime.UTC)
        event = Event(
            metadata=ObjectMeta(
                name=f"{notice.name[:200]}.{secrets.token_hex(8)}",
                namespace=event_namespace,
                labels={naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE},
            ),
            involvedObject=ObjectReference(
                apiVersion=conversion.API_VERSIONS.get(notice.kind, "v1"),
                kind=notice.kind,
                name=notice.name,
                namespace=object_namespace or None,
            ),
            reason=notice.reason,
            # Shortened, not cut: the cause comes last, after any list of names.
            message=messages.shorten(notice.message, _MAX_EVENT_MESSAGE),
            type=notice.severity.value,
            source=EventSource(component="netfence"),
            reportingComponent="netfence.io/controller",
            reportingInstance=self._instance[:128],
            firstTimestamp=now,
            lastTimestamp=now,
            # Microsecond time, so events of one second still sort in the order they happened.
            eventTime=now,
            action=notice.reason,
            count=1,
        )
        with failures.translated(f"record event {notice.reason} on {notice.kind}/{notice.name}"):
            await self._client.create(event)
