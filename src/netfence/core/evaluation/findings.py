"""Findings: one mistake each, naming the objects involved and the fix (see `pitfalls`).

Purely computational, no side effects.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypedDict


class Kind(enum.StrEnum):
    NO_DNS = "egress-without-dns"
    NAMESPACES_MATCH_NOTHING = "namespace-selector-matches-nothing"
    PODS_MATCH_NOTHING = "pod-selector-matches-nothing"
    POLICY_SELECTS_NOTHING = "policy-selects-no-pods"
    OR_WHERE_AND = "peers-ored-where-and-was-likely-meant"
    NO_ENFORCING_PLUGIN = "no-networkpolicy-enforcing-plugin"
    NON_CANONICAL_CIDR = "non-canonical-cidr"
    PORTS_MATCH_NOTHING = "ports-match-no-declared-port"
    TEMPLATE_ISOLATES_EGRESS = "template-isolates-egress"


@dataclass(frozen=True, slots=True)
class Finding:
    kind: Kind
    message: str
    objects: tuple[str, ...]
    fix: str

    def as_json(self) -> FindingJson:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "objects": list(self.objects),
            "fix": self.fix,
        }


class FindingJson(TypedDict):
    kind: str
    message: str
    objects: list[str]
    fix: str
