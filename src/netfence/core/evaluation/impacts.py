"""What a change of policies does to connectivity: the connections it denies and allows.

`impact` computes the matrix before and after over the same endpoints and compares them
row by row; a row is a bitset, so the comparison is an XOR and only the connections that
differ are ever listed. Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from netfence.core import bitsets
from netfence.core.endpoints import Endpoint
from netfence.core.evaluation import matrices
from netfence.core.evaluation.evaluators import Evaluator
from netfence.core.objects import Namespace, Policy


@dataclass(frozen=True, slots=True)
class Connection:
    source: Endpoint
    destination: Endpoint
    port: int
    protocol: str

    def __str__(self) -> str:
        return f"{self.source} → {self.destination} on {self.port}/{self.protocol}"

    def as_json(self) -> ConnectionJson:
        return {
            "source": self.source.key,
            "destination": self.destination.key,
            "port": self.port,
            "protocol": self.protocol,
        }


@dataclass(frozen=True, slots=True)
class ImpactReport:
    newly_denied: tuple[Connection, ...] = ()
    newly_allowed: tuple[Connection, ...] = ()
    # Endpoints that declare no container port: no connection to them can be listed.
    without_ports: tuple[Endpoint, ...] = ()

    @property
    def changes_nothing(self) -> bool:
        return not self.newly_denied and not self.newly_allowed

    def as_json(self) -> ImpactJson:
        return {
            "newlyDenied": [c.as_json() for c in self.newly_denied],
            "newlyAllowed": [c.as_json() for c in self.newly_allowed],
            "withoutPorts": [e.key for e in self.without_ports],
        }


class ConnectionJson(TypedDict):
    source: str
    destination: str
    port: int
    protocol: str


class ImpactJson(TypedDict):
    newlyDenied: list[ConnectionJson]
    newlyAllowed: list[ConnectionJson]
    withoutPorts: list[str]


def impact(
    before_policies: Iterable[Policy],
    after_policies: Iterable[Policy],
    endpoints: Sequence[Endpoint],
    namespaces: Iterable[Namespace],
) -> ImpactReport:
    """The connections between `endpoints` (on their declared ports) that change."""
    spaces = tuple(namespaces)
    before = matrices.compute(
        Evaluator(namespaces=spaces, endpoints=endpoints, policies=before_policies)
    )
    after = matrices.compute(
        Evaluator(namespaces=spaces, endpoints=endpoints, policies=after_policies)
    )
    denied: list[Connection] = []
    allowed: list[Connection] = []
    for key in before.keys:
        port, protocol = key
        for source, (old, new) in enumerate(zip(before.rows[key], after.rows[key], strict=True)):
            if old == new:
                continue
            for destination in bitsets.indices(old & ~new):
                denied.append(Connection(endpoints[source], endpoints[destination], port, protocol))
            for destination in bitsets.indices(new & ~old):
                allowed.append(
                    Connection(endpoints[source], endpoints[destination], port, protocol)
                )
    return ImpactReport(
        newly_denied=tuple(sorted(denied, key=_order)),
        newly_allowed=tuple(sorted(allowed, key=_order)),
        without_ports=tuple(e for e in endpoints if not e.ports),
    )


def _order(connection: Connection) -> tuple[str, str, int, str]:
    return (connection.destination.key, connection.source.key, connection.port, connection.protocol)
