"""API objects, as the JSON dicts the API server sends, read into the core's slim objects.

This is the one converter: the live reader, the controller's informers and the manifest
reader of `--from-files` all come through here, so a controller, a policy or a backup is
read the same way wherever it came from. Purely computational, no side effects; shapes
the API server would never send raise TypeError, AttributeError, KeyError or ValueError,
which the manifest reader turns into a message naming the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from netfence.core import naming
from netfence.core.objects import Backup, JsonDict, Namespace, Phase, Policy, Workload, WorkloadKind

# kubectl's copy of the whole object would double the memory held per policy.
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"

# The group/version of every kind netfence reads or writes, as an event's involvedObject
# and a permission question name it.
API_VERSIONS: Mapping[str, str] = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "CronJob": "batch/v1",
    "Namespace": "v1",
    "ConfigMap": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}

# Entries of a backup that cannot be parsed are carried through untouched under this key,
# so rewriting a backup never drops anything.
UNPARSED = "$unparsed"

# libyaml's safe loader and dumper when present: a cluster view parses every backup, and
# a backup of a few MiB is written several times during one opt-in.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def api_group(kind: str) -> str:
    """The API group of a kind ("" for the core group), as RBAC rules name it."""
    version = API_VERSIONS.get(kind, "v1")
    return version.split("/")[0] if "/" in version else ""


def labels_of(value: object) -> dict[str, str]:
    """Labels or annotations as strings; anything that is not a mapping is none at all."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _metadata(document: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = document.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise TypeError("metadata must be a mapping")
    return metadata


def namespace_from(document: Mapping[str, Any]) -> Namespace:
    metadata = _metadata(document)
    return Namespace(
        name=str(metadata["name"]),
        labels=labels_of(metadata.get("labels")),
        created=_timestamp(metadata.get("creationTimestamp")),
    )


def _timestamp(value: object) -> str | None:
    return None if value is None else str(value)


def policy_from(document: Mapping[str, Any], *, namespace: str | None = None) -> Policy:
    """A NetworkPolicy; `namespace` stands in for a manifest that names none."""
    metadata = _metadata(document)
    annotations = {
        k: v
        for k, v in labels_of(metadata.get("annotations")).items()
        if k != LAST_APPLIED_ANNOTATION
    }
    return Policy(
        namespace=str(metadata.get("namespace") or namespace),
        name=str(metadata["name"]),
        labels=labels_of(metadata.get("labels")),
        annotations=annotations,
        spec=dict(document.get("spec") or {}),
        uid=str(metadata["uid"]) if metadata.get("uid") else None,
        resource_version=(
            str(metadata["resourceVersion"]) if metadata.get("resourceVersion") else None
        ),
        created=_timestamp(metadata.get("creationTimestamp")),
    )


def pod_template(kind: WorkloadKind, spec: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod template of a controller's spec (a CronJob's sits inside its job template)."""
    if kind is WorkloadKind.CRONJOB:
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}
    return spec.get("template") or {}


def workload_from(
    document: Mapping[str, Any], *, kind: WorkloadKind | None = None, namespace: str | None = None
) -> Workload:
    """A controller as the planner sees it; `kind` and `namespace` stand in for what a
    manifest or a typed list leaves out."""
    metadata = _metadata(document)
    kind = kind or WorkloadKind(str(document["kind"]))
    spec = document.get("spec") or {}
    template = pod_template(kind, spec)
    raw = spec.get("selector") if kind is not WorkloadKind.CRONJOB else None
    return Workload.read(
        namespace=str(metadata.get("namespace") or namespace),
        kind=kind,
        name=str(metadata["name"]),
        labels=labels_of(metadata.get("labels")),
        annotations=labels_of(metadata.get("annotations")),
        pod_labels=labels_of((template.get("metadata") or {}).get("labels")),
        selector=dict(raw) if isinstance(raw, Mapping) else None,
    )


@dataclass(frozen=True, slots=True)
class BackupPiece:
    """One ConfigMap of a backup: the head or one of the other parts (`core.backups`
    assembles them into a Backup)."""

    namespace: str
    name: str
    # 0 for the head; the part's index for the others (-1 when the annotation is garbled).
    index: int = 0
    # The head's: the phase, and how many ConfigMaps the backup spans (0 when garbled).
    phase: Phase = Phase.PRUNING
    count: int = 1
    # The generation the part belongs to, or the head points at ("" for one ConfigMap).
    generation: str = ""
    entries: Mapping[str, JsonDict] = field(default_factory=dict)


def backup_piece_from(document: Mapping[str, Any]) -> BackupPiece | None:
    """One ConfigMap of a backup, or None for any other ConfigMap.

    A document without data (metadata only) gives the piece without entries: enough to
    tell which parts a backup has, without parsing any of them.
    """
    metadata = _metadata(document)
    labels = labels_of(metadata.get("labels"))
    if naming.BACKUP_OF_LABEL not in labels:
        return None
    annotations = labels_of(metadata.get("annotations"))
    try:
        phase = Phase(annotations.get(naming.PHASE_ANNOTATION, Phase.PRUNING))
    except ValueError:
        # An unknown phase is treated as an unfinished opt-in: resuming it is always safe.
        phase = Phase.PRUNING
    part = annotations.get(naming.BACKUP_PART_ANNOTATION)
    return BackupPiece(
        namespace=labels[naming.BACKUP_OF_LABEL],
        name=str(metadata.get("name") or ""),
        index=0 if part is None else _positive(part, otherwise=-1),
        phase=phase,
        count=_positive(annotations.get(naming.BACKUP_PARTS_ANNOTATION, "1"), otherwise=0),
        generation=annotations.get(naming.BACKUP_GENERATION_ANNOTATION, ""),
        entries=backup_entries(document.get("data") or {}),
    )


def _positive(text: str, *, otherwise: int) -> int:
    return int(text) if text.isascii() and text.isdigit() and int(text) > 0 else otherwise


def backup_entries(data: Mapping[str, Any]) -> dict[str, JsonDict]:
    """The policies in a backup ConfigMap's data, by name; unparsable ones as found."""
    entries: dict[str, JsonDict] = {}
    for key, text in data.items():
        name = str(key).removesuffix(".yaml")
        try:
            parsed = yaml.load(str(text), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            parsed = None
        entries[name] = parsed if isinstance(parsed, dict) else {UNPARSED: str(text)}
    return entries


def backup_from(document: Mapping[str, Any]) -> Backup | None:
    """A backup held in this one ConfigMap; None for any other ConfigMap, and for the head
    of a backup spanning several (read those with `core.backups.assemble`)."""
    piece = backup_piece_from(document)
    if piece is None or piece.index != 0 or piece.count != 1:
        return None
    return Backup(namespace=piece.namespace, phase=piece.phase, entries=piece.entries)


def backup_data(entries: Mapping[str, JsonDict]) -> dict[str, str]:
    """The data of a backup ConfigMap: one YAML document per policy, unparsed ones as found."""
    data: dict[str, str] = {}
    for name, manifest in sorted(entries.items()):
        if UNPARSED in manifest:
            data[f"{name}.yaml"] = str(manifest[UNPARSED])
        else:
            data[f"{name}.yaml"] = yaml.dump(manifest, Dumper=_SAFE_DUMPER, sort_keys=False)
    return data
