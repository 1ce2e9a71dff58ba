"""Non-canonical CIDRs in stored NetworkPolicies: host bits set, or a padded prefix length.

API servers before strict CIDR validation stored `10.0.0.1/8` as written and every
enforcer (Go's `net.ParseCIDR`, as kube-network-policies, Calico and Cilium read it) means
the network it lies in, `10.0.0.0/8`. netfence reads such policies from a live cluster or
from files as that masked network and says so, naming the policy and the field; it never
writes one (templates refuse them: `validation`). Purely computational, no side effects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from netfence.core.objects import Policy

_DIRECTIONS = (("ingress", "from"), ("egress", "to"))


@dataclass(frozen=True, slots=True)
class NonCanonical:
    """One CIDR written otherwise than the network it denotes."""

    policy: str  # namespace/name
    field: str  # e.g. spec.ingress[0].from[1].ipBlock.cidr
    written: str
    network: str  # what it is analysed as

    def __str__(self) -> str:
        return (
            f"NetworkPolicy {self.policy} {self.field}: {self.written!r} is not a canonical "
            f"CIDR; analysed as {self.network}, as the network plugin reads it"
        )


def non_canonical(policies: Iterable[Policy]) -> list[NonCanonical]:
    """Every non-canonical cidr and except entry of the policies, in policy and field order."""
    found: list[NonCanonical] = []
    for policy in policies:
        key = f"{policy.namespace}/{policy.name}"
        found.extend(NonCanonical(key, *entry) for entry in in_spec(policy.spec))
    return found


def in_spec(spec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, as written, the network it denotes) of each non-canonical CIDR of a spec."""
    found = []
    for field, text in _cidr_fields(spec):
        network = masked(text)
        if network is not None and str(network) != text.strip():
            found.append((field, text, str(network)))
    return found


def masked(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a CIDR text denotes, host bits cleared; None when it is no CIDR."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _cidr_fields(spec: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for direction, peers_field in _DIRECTIONS:
        rules = spec.get(direction)
        for r, rule in enumerate(rules if isinstance(rules, list) else []):
            peers = rule.get(peers_field) if isinstance(rule, Mapping) else None
            for p, peer in enumerate(peers if isinstance(peers, list) else []):
                block = peer.get("ipBlock") if isinstance(peer, Mapping) else None
                if not isinstance(block, Mapping):
                    continue
                path = f"spec.{direction}[{r}].{peers_field}[{p}].ipBlock"
                if isinstance(block.get("cidr"), str):
                    yield f"{path}.cidr", block["cidr"]
                excepts = block.get("except")
                for e, text in enumerate(excepts if isinstance(excepts, list) else []):
                    if isinstance(text, str):
                        yield f"{path}.except[{e}]", text
