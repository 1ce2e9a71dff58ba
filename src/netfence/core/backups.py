"""Backups spread over as many ConfigMaps as they need, and read back whole.

A ConfigMap holds at most 1 MiB of data, and the policies of a namespace can take more.
A backup is therefore written as a head ConfigMap, `netfence-backup-<ns>` (the phase and
the first part), and as many further parts as it needs, `netfence-backup-<ns>.part-<i>-<g>`,
every one labelled `netfence.io/backup-of=<ns>`. The generation `g` is a digest of the
whole backup, so a changed backup goes to new part names: the writer writes every part
first and the head last, then deletes the parts of other generations. Until the head is
written it points at the parts of the previous backup, which nothing has touched, so a
crash at any point leaves the previous backup whole, with its phase.

A head whose parts are not all there is incomplete, and reads as no backup at all ("not
written yet"): nothing is ever deleted on the basis of half a backup. The planner then
plans a backup write first, and the writer refuses to overwrite an incomplete backup
(`IncompleteBackup`), so the executor stops before any deletion and the event says how to
repair it.

Purely computational: the Kubernetes writer and readers do the I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from netfence.core import errors, naming
from netfence.core.conversion import BackupPiece, backup_data
from netfence.core.objects import Backup, JsonDict, Phase

# Kubernetes refuses a ConfigMap whose data (keys and values) exceeds 1 MiB.
MAX_CONFIGMAP_DATA_BYTES: Final = 1024 * 1024
# What netfence puts in one ConfigMap: 124 KiB below the limit, so a part never comes
# close to it (and the whole object, metadata and managed fields included, stays far
# below etcd's 1.5 MiB). A single policy larger than this gets a part of its own, as long
# as it fits the limit itself.
PART_DATA_BYTES: Final = 900 * 1024


class IncompleteBackup(errors.Refused):
    """The stored backup's head points at parts that are not there; netfence will not
    overwrite what is left of it."""


@dataclass(frozen=True, slots=True)
class Part:
    """One ConfigMap to write: ``index`` 0 is the head."""

    name: str
    index: int
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    data: Mapping[str, str]

    @property
    def size(self) -> int:
        """The bytes Kubernetes counts against the ConfigMap limit (keys and values)."""
        return sum(_size(key, value) for key, value in self.data.items())


def split(
    namespace: str,
    phase: Phase,
    entries: Mapping[str, JsonDict],
    *,
    part_bytes: int = PART_DATA_BYTES,
) -> tuple[Part, ...]:
    """The ConfigMaps that hold a backup of ``entries``, head first; write the head last.

    Entries go in name order, filling each part up to ``part_bytes``. One ConfigMap, the
    head alone, for a backup that fits in one; then no part annotations at all, which is
    exactly the backup of netfence versions before parts.
    Raises Refused when one policy alone is larger than a ConfigMap can hold.
    """
    data = backup_data(entries)
    chunks = _pack(namespace, data, part_bytes)
    labels = {naming.MANAGED_BY_LABEL: naming.MANAGED_BY_VALUE, naming.BACKUP_OF_LABEL: namespace}
    head = naming.backup_configmap_name(namespace)
    if len(chunks) == 1:
        return (Part(head, 0, labels, {naming.PHASE_ANNOTATION: phase.value}, chunks[0]),)
    generation = _generation(data)
    head_annotations = {
        naming.PHASE_ANNOTATION: phase.value,
        naming.BACKUP_PARTS_ANNOTATION: str(len(chunks)),
        naming.BACKUP_GENERATION_ANNOTATION: generation,
    }
    parts = [Part(head, 0, labels, head_annotations, chunks[0])]
    for index, chunk in enumerate(chunks[1:], start=1):
        annotations = {
            naming.BACKUP_PART_ANNOTATION: str(index),
            naming.BACKUP_GENERATION_ANNOTATION: generation,
        }
        name = naming.backup_part_name(namespace, index, generation)
        parts.append(Part(name, index, labels, annotations, chunk))
    return tuple(parts)


def part_count(entries: Mapping[str, JsonDict], *, part_bytes: int = PART_DATA_BYTES) -> int:
    """How many ConfigMaps a backup of ``entries`` spans (1 when it fits in one), for a
    preview to say; raises Refused as `split` does."""
    return len(_pack("", backup_data(entries), part_bytes))


@dataclass(frozen=True, slots=True)
class Assembly:
    """What the stored ConfigMaps of one namespace's backup add up to.

    ``backup`` is None when there is no head, or when parts are ``missing`` (their names).
    ``stray`` names parts of other generations, which the head does not point at: left
    over from an earlier backup, to delete once the head is written.
    """

    backup: Backup | None
    missing: tuple[str, ...] = ()
    stray: tuple[str, ...] = ()

    @property
    def incomplete(self) -> bool:
        return bool(self.missing)


def assemble(namespace: str, pieces: Iterable[BackupPiece | None]) -> Assembly:
    """The backup of ``namespace`` from its stored ConfigMaps, in any order; pieces of
    other namespaces and None (a ConfigMap that is no backup) are ignored."""
    found = {p.name: p for p in pieces if p is not None and p.namespace == namespace}
    head_name = naming.backup_configmap_name(namespace)
    head = found.get(head_name)
    parts = sorted(name for name in found if naming.is_backup_part_name(namespace, name))
    if head is None or head.index != 0:
        return Assembly(None, stray=tuple(parts))
    if head.count < 1:
        # The head's part count is garbled: which parts belong to it cannot be told.
        return Assembly(None, missing=(f"{head_name} (annotation {_COUNT_HELP})",))
    expected = [
        naming.backup_part_name(namespace, index, head.generation) for index in range(1, head.count)
    ]
    missing = tuple(name for name in expected if not _belongs(found.get(name), head, expected))
    stray = tuple(name for name in parts if name not in expected)
    if missing:
        return Assembly(None, missing=missing, stray=stray)
    entries: dict[str, JsonDict] = {}
    for piece in [head, *(found[name] for name in expected)]:
        for key, entry in piece.entries.items():
            entries.setdefault(key, entry)
    return Assembly(Backup(namespace, head.phase, entries), stray=stray)


def incomplete_error(namespace: str, missing: Sequence[str], *, netfence_namespace: str) -> str:
    """Why an incomplete backup blocks the namespace, and the two ways out."""
    listed = (
        f"ConfigMap {missing[0]} is"
        if len(missing) == 1
        else f"ConfigMaps {', '.join(missing)} are"
    )
    return (
        f"the backup of namespace {namespace} is incomplete: {listed} missing in "
        f"{netfence_namespace}, so netfence neither overwrites the backup nor "
        f"deletes anything on its basis; put it back, or give up what "
        f"it held by deleting the backup: kubectl delete configmap -n {netfence_namespace} "
        f"-l {naming.BACKUP_OF_LABEL}={namespace}"
    )


_COUNT_HELP: Final = f"{naming.BACKUP_PARTS_ANNOTATION} is not a positive number"


def _belongs(piece: BackupPiece | None, head: BackupPiece, expected: Sequence[str]) -> bool:
    return (
        piece is not None
        and piece.generation == head.generation
        and 0 < piece.index < head.count
        and expected[piece.index - 1] == piece.name
    )


def _pack(namespace: str, data: Mapping[str, str], part_bytes: int) -> list[dict[str, str]]:
    """The data in name order, in chunks of at most ``part_bytes``; a larger entry alone."""
    chunks: list[dict[str, str]] = [{}]
    used = 0
    for key, value in data.items():
        size = _size(key, value)
        if size > MAX_CONFIGMAP_DATA_BYTES:
            raise errors.Refused(_too_large(namespace, key, size))
        if used and used + size > part_bytes:
            chunks.append({})
            used = 0
        chunks[-1][key] = value
        used += size
    return chunks


def _too_large(namespace: str, key: str, size: int) -> str:
    name = key.removesuffix(".yaml")
    where = f"{namespace}/{name}" if namespace else name
    return (
        f"NetworkPolicy {where} takes {size / 1024:.0f} KiB as YAML, more than one ConfigMap "
        f"holds ({MAX_CONFIGMAP_DATA_BYTES // 1024} KiB), so netfence cannot back it up "
        f"and deletes nothing; make the policy smaller (fewer ipBlocks or peers) or move it "
        f"out of the namespace"
    )


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode())


def _generation(data: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(data.items()):
        for text in (key, value):
            encoded = text.encode()
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return digest.hexdigest()[:10]
