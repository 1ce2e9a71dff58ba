"""How a change's effect on connectivity reads in a terminal (dry runs of enable, attach...)."""

from __future__ import annotations

from rich.text import Text

from netfence.cli.context import err, out
from netfence.core.evaluation.impacts import ImpactReport
from netfence.usecases import connectivity

_SHOWN = 20


def print_impact(impact: connectivity.Impact | str | None) -> None:
    """The effect, or the note saying why there is none (a dry run is still worth showing
    without it: it lists the policies it changes)."""
    if impact is None:
        return
    if isinstance(impact, str):
        err.print(Text(f"note: {impact}", style="dim"), highlight=False)
        return
    for note in impact.notes:
        err.print(Text(f"note: {note}", style="dim"), highlight=False)
    print_report(impact.report)


def print_report(report: ImpactReport) -> None:
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
                f"  not covered: {names}{more} "
                f"{'declares' if len(report.without_ports) == 1 else 'declare'} no container "
                "port; "
                "ask about one port with netfence explain",
                style="dim",
            ),
            highlight=False,
        )
