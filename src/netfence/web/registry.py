"""The clusters one console serves, each with its own connector made on first use.

Kept apart from the web framework: the composition root builds the registry at start-up
of `netfence serve`, and the CLI's other commands must not pay for importing FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from netfence.web.callers import Connector


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """A cluster as the kubeconfig describes it (no secret: no token, no key)."""

    name: str  # the kubeconfig context's name, which the URL carries
    server: str
    user: str  # the kubeconfig's name for the user (who the cluster says it is: whoami)
    namespace: str | None = None


class Clusters(Protocol):
    """The clusters one console serves, and a connector for each."""

    @property
    def default(self) -> str: ...

    def known(self) -> Sequence[ClusterInfo]: ...

    def connector(self, name: str) -> Connector:
        """The cluster's connector; KeyError for a name it does not serve."""
        ...

    async def close(self) -> None: ...


class ClusterRegistry:
    """Clusters by name, each connector made by ``make`` on first use and kept."""

    def __init__(
        self,
        clusters: Sequence[ClusterInfo],
        make: Callable[[ClusterInfo], Connector],
        *,
        default: str | None = None,
    ) -> None:
        if not clusters:
            raise ValueError("a console serves at least one cluster")
        self._clusters = {c.name: c for c in clusters}
        if len(self._clusters) != len(clusters):
            raise ValueError("two clusters have the same name")
        self._default = default if default is not None else clusters[0].name
        if self._default not in self._clusters:
            raise ValueError(f"the default cluster {self._default!r} is not one of them")
        self._make = make
        self._connectors: dict[str, Connector] = {}

    @classmethod
    def single(cls, connector: Connector, info: ClusterInfo | None = None) -> ClusterRegistry:
        """One cluster whose connector already exists."""
        one = info or ClusterInfo(name="default", server="", user="")
        registry = cls([one], lambda _info: connector)
        registry._connectors[one.name] = connector
        return registry

    @property
    def default(self) -> str:
        return self._default

    def known(self) -> Sequence[ClusterInfo]:
        return list(self._clusters.values())

    def built(self) -> list[str]:
        """The clusters whose connector exists (someone used them)."""
        return list(self._connectors)

    def connector(self, name: str) -> Connector:
        found = self._connectors.get(name)
        if found is None:
            info = self._clusters[name]
            found = self._connectors[name] = self._make(info)
        return found

    async def close(self) -> None:
        connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            await connector.close()
