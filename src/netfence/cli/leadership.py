"""Saying, at once, when no netfence controller holds its Lease."""

from __future__ import annotations

from rich.text import Text

from netfence.cli.context import err
from netfence.usecases import leadership
from netfence.usecases.ports import Cluster


async def presence(cluster: Cluster) -> leadership.Leadership:
    return await leadership.leadership(
        cluster.reader, netfence_namespace=cluster.netfence_namespace
    )


def warn(found: leadership.Leadership) -> None:
    """A warning on stderr when no controller acts (nothing when one does or when the
    caller may not read the Lease)."""
    if found.problem:
        err.print(Text.assemble(("warning: ", "bold yellow"), found.problem), highlight=False)
