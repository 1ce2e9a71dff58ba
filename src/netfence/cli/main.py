"""The `netfence` command: the only place that decides exit codes."""

from __future__ import annotations

import typer

from netfence.cli import controlplane_cmd

app = typer.Typer(
    name="netfence",
    help="Kubernetes-native manager for NetworkPolicies.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(controlplane_cmd.app, name="controlplane")


def main() -> None:
    app()
