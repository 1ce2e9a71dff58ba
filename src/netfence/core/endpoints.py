"""The things that talk: pods, or controllers standing for the pods they would run.

An endpoint keeps what NetworkPolicy evaluation looks at and nothing else: its namespace,
its (pod) labels, its IPs for ipBlock peers and its container ports, which declare the
ports a matrix covers and resolve named ports. A controller's endpoint is built from its pod
template, so it has labels and ports but no IP. Purely computational, no side effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

Protocol = Literal["TCP", "UDP", "SCTP"]
PROTOCOLS: Final[tuple[Protocol, ...]] = ("TCP", "UDP", "SCTP")
POD: Final = "Pod"

PortKey = tuple[int, str]
"""(port number, protocol): one column family of a connectivity matrix."""


def parse_protocol(text: str) -> Protocol:
    """Accept `tcp` as well as `TCP`; the API itself is case-sensitive, people are not."""
    upper = text.strip().upper()
    for protocol in PROTOCOLS:
        if upper == protocol:
            return protocol
    raise ValueError(f"unknown protocol {text!r}: use TCP, UDP or SCTP")


@dataclass(frozen=True, slots=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None

    def __str__(self) -> str:
        named = f" ({self.name})" if self.name else ""
        return f"{self.port}/{self.protocol}{named}"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A pod (kind `Pod`) or a controller (kind `Deployment`, ...) in one namespace."""

    namespace: str
    name: str
    kind: str = POD
    labels: Mapping[str, str] = field(default_factory=dict)
    ips: tuple[str, ...] = ()
    ports: tuple[ContainerPort, ...] = ()

    @property
    def is_pod(self) -> bool:
        return self.kind == POD

    @property
    def key(self) -> str:
        """`NS/POD` for a pod, `NS/Kind/NAME` for a controller: unique among endpoints."""
        if self.is_pod:
            return f"{self.namespace}/{self.name}"
        return f"{self.namespace}/{self.kind}/{self.name}"

    def __str__(self) -> str:
        return self.key

    def declared(self) -> tuple[PortKey, ...]:
        """The distinct (port, protocol) pairs its containers declare, ascending."""
        return tuple(sorted({(p.port, p.protocol) for p in self.ports}))

    def named_port(self, name: str, protocol: str) -> int | None:
        """The number behind a named container port, for that protocol only.

        Kubernetes resolves a NetworkPolicy's named port against the destination pod's
        container ports, and the protocol has to agree as well as the name.
        """
        for port in self.ports:
            if port.name == name and port.protocol == protocol:
                return port.port
        return None
