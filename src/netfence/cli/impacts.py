"""How a change's effect on connectivity reads in a terminal (dry runs of enable, attach...)."""

from __future__ import annotations

from lightkube import AsyncClient
from rich.text import Text

from netfence.cli.context import err, out
from netfence.core import errors, manifests
from netfence.core.evaluation.impacts import ImpactReport
from netfence.kube import surveying

_SHOWN = 20


async def survey_or_none(client: AsyncClient) -> manifests.Inventory | None:
    """The cluster for an impact preview; None (and a note) when the caller may not read it.

    A dry run is still worth showing without the impact: it lists the policies it changes.
    """
    try:
        return await surveying.survey(client)
    except errors.AccessDenied as e:
        err.print(
            Text(f"note: connectivity impact not computed: {e}", style="dim"), highlight=False
        )
        return None


def print_impact(report: ImpactReport) -> None:
    out.print("[bold]Connectivity[/] between controllers and bare pods, on their declared ports:")
    if report.changes_nothing:
        out.print("  no connection changes")
    for word, colour, connections in (
        ("newly denied", "red", report.newly_denied),
        ("newly allowed", "green", report.newly_allowed),
    ):
        if not connections:
            continue
        out.print(f"  [{colour}]{word}[/] ({len(connections)}):")
        for connection in connections[:_SHOWN]:
            out.print(Text(f"    {connection}"), highlight=False)
        if len(connections) > _SHOWN:
            out.print(f"    ... and {len(connections) - _SHOWN} more")
    if report.without_ports:
        names = ", ".join(e.key for e in report.without_ports[:5])
        more = f" and {len(report.without_ports) - 5} more" if len(report.without_ports) > 5 else ""
        out.print(
            Text(
                f"  not covered: {names}{more} declare no container port; "
                "ask about one port with netfence explain",
                style="dim",
            ),
            highlight=False,
        )
