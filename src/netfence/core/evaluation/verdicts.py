"""Verdicts with their reasons: which policies apply, which rule and peer allowed, or none.

A verdict is data. `reasons()` says it in words for people and `as_json()` as a plain
document for scripts and the console; neither prints nor logs. Purely computational.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from netfence.core.endpoints import Endpoint
from netfence.core.evaluation.targets import Direction


@dataclass(frozen=True, slots=True)
class RuleCheck:
    """How one rule of one policy fared against a connection."""

    policy: str
    rule: str
    # Index of the first peer that matched, None when none did, -1 when the rule has no
    # peer list (every peer matches).
    peer: int | None
    peer_description: str
    # Likewise for ports: -1 when the rule has no ports list (every port matches).
    port: int | None
    port_description: str

    @property
    def allows(self) -> bool:
        return self.peer is not None and self.port is not None


@dataclass(frozen=True, slots=True)
class Side:
    """One direction of a connection: egress at the source or ingress at the destination."""

    direction: Direction
    endpoint: Endpoint
    # Policies whose podSelector selects the endpoint and whose types include the direction.
    policies: tuple[str, ...]
    checks: tuple[RuleCheck, ...] = ()

    @property
    def isolated(self) -> bool:
        return bool(self.policies)

    @property
    def allowed(self) -> bool:
        return not self.isolated or any(c.allows for c in self.checks)

    @property
    def allowed_by(self) -> tuple[RuleCheck, ...]:
        return tuple(c for c in self.checks if c.allows)

    def reasons(self, *, peer_word: str) -> list[str]:
        what = (
            f"egress from {self.endpoint}"
            if self.direction is Direction.EGRESS
            else f"ingress to {self.endpoint}"
        )
        if not self.isolated:
            return [
                f"{what} is not restricted: no NetworkPolicy with policyType "
                f"{self.direction.value} selects it"
            ]
        policies = ", ".join(self.policies)
        lines: list[str] = []
        if self.allowed:
            lines.append(f"{what} is allowed; it is isolated by {policies}")
            for check in self.allowed_by:
                lines.append(f"  allowed by {check.policy} {check.rule}: {_match_words(check)}")
            return lines
        lines.append(f"{what} is denied: it is isolated by {policies} and no rule allows it")
        by_policy = {c.policy for c in self.checks}
        for policy in self.policies:
            if policy not in by_policy:
                lines.append(f"  {policy} has no {self.direction.value.lower()} rules")
        for check in self.checks:
            lines.append(f"  {check.policy} {check.rule}: {_miss_words(check, peer_word)}")
        return lines

    def as_json(self) -> SideJson:
        return {
            "isolated": self.isolated,
            "allowed": self.allowed,
            "policies": list(self.policies),
            "rules": [
                {
                    "policy": c.policy,
                    "rule": c.rule,
                    "allows": c.allows,
                    "peerMatched": c.peer is not None,
                    "peer": c.peer_description,
                    "portMatched": c.port is not None,
                    "port": c.port_description,
                }
                for c in self.checks
            ],
        }


def _match_words(check: RuleCheck) -> str:
    return f"{check.peer_description}, on {check.port_description}"


def _miss_words(check: RuleCheck, peer_word: str) -> str:
    if check.peer is None and check.port is None:
        return f"neither the {peer_word} nor the port matches"
    if check.peer is None:
        return f"the port matches ({check.port_description}) but the {peer_word} is not among {check.peer_description}"
    return f"the {peer_word} matches ({check.peer_description}) but the port is not among {check.port_description}"


@dataclass(frozen=True, slots=True)
class Verdict:
    source: Endpoint
    destination: Endpoint
    port: int
    protocol: str
    egress: Side
    ingress: Side
    # Caveats that bear on this verdict: node traffic, ipBlocks facing an endpoint without IP.
    notes: tuple[str, ...] = ()
    # A pod reaching itself: always allowed, whatever `egress` and `ingress` say.
    itself: bool = False

    @property
    def allowed(self) -> bool:
        return self.itself or (self.egress.allowed and self.ingress.allowed)

    def headline(self) -> str:
        word = "allowed" if self.allowed else "denied"
        return f"{self.source} → {self.destination} on {self.port}/{self.protocol}: {word}"

    def reasons(self) -> list[str]:
        lines: list[str] = []
        if self.itself:
            lines.append(
                f"{self.source} reaches itself, which is always allowed: a pod cannot block "
                "access to itself (Kubernetes documentation, Network Policies), and a "
                "connection to its own IP stays on its loopback, never meeting the enforcer"
            )
            if self.egress.isolated or self.ingress.isolated:
                lines.append("what its policies say does not apply here; for another pod:")
        lines.extend(self.egress.reasons(peer_word="destination"))
        lines.extend(self.ingress.reasons(peer_word="source"))
        lines.extend(f"note: {n}" for n in self.notes)
        return lines

    def as_json(self) -> VerdictJson:
        return {
            "source": self.source.key,
            "destination": self.destination.key,
            "port": self.port,
            "protocol": self.protocol,
            "allowed": self.allowed,
            "itself": self.itself,
            "egress": self.egress.as_json(),
            "ingress": self.ingress.as_json(),
            "reasons": self.reasons(),
            "notes": list(self.notes),
        }


class RuleCheckJson(TypedDict):
    policy: str
    rule: str
    allows: bool
    peerMatched: bool
    peer: str
    portMatched: bool
    port: str


class SideJson(TypedDict):
    isolated: bool
    allowed: bool
    policies: list[str]
    rules: list[RuleCheckJson]


class VerdictJson(TypedDict):
    source: str
    destination: str
    port: int
    protocol: str
    allowed: bool
    itself: bool
    egress: SideJson
    ingress: SideJson
    reasons: list[str]
    notes: list[str]
