"""Names of the labels, annotations and objects that carry netfence's state in the cluster.

State lives in ordinary Kubernetes metadata so that kubectl, Helm and GitOps tools can
read and write it with ordinary RBAC; this module is the one place that spells it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

MANAGED_NAMESPACE_LABEL: Final = "netfence.io/managed"
MANAGED_NAMESPACE_VALUE: Final = "true"
TEMPLATE_LABEL_PREFIX: Final = "templates.netfence.io/"
TEMPLATE_LABEL_VALUE: Final = "true"
# On a controller: `refresh.netfence.io/<template>: <version>` asks netfence to re-render
# that attachment from the template's current version (an explicit, previewed update).
REFRESH_ANNOTATION_PREFIX: Final = "refresh.netfence.io/"

MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "netfence"
ROLE_LABEL: Final = "netfence.io/role"
ROLE_BASELINE: Final = "baseline"
ROLE_ATTACHMENT: Final = "attachment"
TEMPLATE_LABEL: Final = "netfence.io/template"
CONTROLLER_KIND_LABEL: Final = "netfence.io/controller-kind"
CONTROLLER_NAME_LABEL: Final = "netfence.io/controller"
BACKUP_OF_LABEL: Final = "netfence.io/backup-of"

CONTROLLER_ANNOTATION: Final = "netfence.io/controller"
SNAPSHOT_ANNOTATION: Final = "netfence.io/template-snapshot"
PHASE_ANNOTATION: Final = "netfence.io/phase"
# A backup larger than one ConfigMap spans several: the head (`netfence-backup-<ns>`, with
# the phase) says how many and of which generation; each other part says its index.
BACKUP_PARTS_ANNOTATION: Final = "netfence.io/backup-parts"
BACKUP_GENERATION_ANNOTATION: Final = "netfence.io/backup-generation"
BACKUP_PART_ANNOTATION: Final = "netfence.io/backup-part"

DENY_ALL_INGRESS: Final = "deny-all-ingress"
ALLOW_NAMESPACE_COMMUNICATION: Final = "allow-namespace-communication"
BASELINE_POLICY_NAMES: Final = (DENY_ALL_INGRESS, ALLOW_NAMESPACE_COMMUNICATION)

TEMPLATES_CONFIGMAP: Final = "netfence-templates"
DEFAULT_NETFENCE_NAMESPACE: Final = "netfence-system"
LEADER_LEASE: Final = "netfence-controller"
FIELD_MANAGER: Final = "netfence"

SYSTEM_NAMESPACES: Final = frozenset({"kube-system", "kube-public", "kube-node-lease"})

_MAX_NAME = 253
_MAX_LABEL_VALUE = 63
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def is_reserved(namespace: str, *, netfence_namespace: str) -> bool:
    """Namespaces netfence never manages: Kubernetes' own and netfence's."""
    return namespace in SYSTEM_NAMESPACES or namespace == netfence_namespace


def refresh_annotation_key(template: str) -> str:
    return f"{REFRESH_ANNOTATION_PREFIX}{template}"


def backup_configmap_name(namespace: str) -> str:
    """The head ConfigMap of a namespace's backup: its phase and its first part."""
    return f"netfence-backup-{namespace}"


def backup_part_name(namespace: str, index: int, generation: str) -> str:
    """The ConfigMap holding part ``index`` (1, 2, ...) of one generation of a backup.

    The dot keeps the names of two namespaces apart: a namespace name has none, so
    `netfence-backup-a.part-1-...` can never be the head of a namespace called `a-part-1-...`.
    The generation (a digest of the whole backup) gives every new backup new part names,
    so the parts of the backup the head still points at are never overwritten.
    """
    return f"{backup_configmap_name(namespace)}.part-{index}-{generation}"


def is_backup_part_name(namespace: str, name: str) -> bool:
    """Whether ``name`` is a part of some generation of the namespace's backup."""
    return name.startswith(f"{backup_configmap_name(namespace)}.part-")


def template_label_key(template: str) -> str:
    return f"{TEMPLATE_LABEL_PREFIX}{template}"


def _digest(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def label_value_for(text: str) -> str:
    """A label value naming `text`: itself when it fits, else a readable prefix plus a hash.

    Object names may be 253 characters long but label values only 63; the exact name is
    always kept in an annotation, the label is for selecting.
    """
    if len(text) <= _MAX_LABEL_VALUE and _LABEL_VALUE.match(text):
        return text
    head = re.sub(r"[^A-Za-z0-9]+$", "", text[: _MAX_LABEL_VALUE - 11])
    return f"{head}-{_digest(text)}"


_KIND_ABBREVIATIONS: Final = {
    "Deployment": "deploy",
    "StatefulSet": "sts",
    "DaemonSet": "ds",
    "CronJob": "cj",
}


def attachment_policy_name(kind: str, name: str, template: str) -> str:
    """The NetworkPolicy name for one template attached to one controller: one name per
    (kind, controller, template), never the same for two of them.

    The kind is part of the name because a Deployment and a StatefulSet may share a name.
    `<kind>-<controller>-<template>` alone is ambiguous once the template holds a dash
    (`web-api` + `http` and `web` + `api-http` would both be `deploy-web-api-http`), so
    such names, and names too long for the API, end in `.` and a digest of the pair. A
    plain name ends in a template name, which has no dot; a digested one ends in a dot
    and the digest, so the two forms never meet either.
    """
    abbreviation = _KIND_ABBREVIATIONS.get(kind, kind.lower())
    full = f"{abbreviation}-{name}-{template}"
    if "-" not in template and len(full) <= _MAX_NAME:
        return full
    digest = _digest(f"{kind}/{name}/{template}")
    return f"{full[: _MAX_NAME - len(digest) - 1].rstrip('-.')}.{digest}"
