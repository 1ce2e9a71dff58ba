"""The `netfence` command, built around the runtime the composition root provides."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from netfence.cli import (
    arguments,
    completion,
    connectivity_cmd,
    controller_cmd,
    controlplane_cmd,
    demo_cmd,
    lab_cmd,
    namespaces_cmd,
    probe_cmd,
    serve_cmd,
    templates_cmd,
    workloads_cmd,
)
from netfence.cli.context import Runtime, Settings
from netfence.core import naming


def program_name() -> str:
    """`kubectl netfence` when kubectl runs us as its plugin, so usage lines read right."""
    return "kubectl netfence" if Path(sys.argv[0]).name == "kubectl-netfence" else "netfence"


def build(runtime: Runtime) -> typer.Typer:
    """The command tree; every command reaches the cluster through `runtime`."""
    app = typer.Typer(
        name="netfence",
        cls=arguments.RootGroup,
        help=(
            "Kubernetes-native manager for NetworkPolicies. Options such as --kubeconfig, "
            "--context, -n and -o go before or after the command, as with kubectl; exit "
            "codes and output formats are in docs/cli.md."
        ),
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        rich_markup_mode="rich",
        # The runtime stands in until the root callback makes the Settings, so shell
        # completion (which runs no callback) can still reach the cluster.
        context_settings={"help_option_names": ["-h", "--help"], "obj": runtime},
    )

    @app.callback()
    def _root(
        ctx: typer.Context,
        kubeconfig: Annotated[
            Path | None,
            typer.Option(
                help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster).",
                envvar="KUBECONFIG_PATH",
            ),
        ] = None,
        context: Annotated[
            str | None,
            typer.Option(help="kubeconfig context to use.", autocompletion=completion.contexts),
        ] = None,
        netfence_namespace: Annotated[
            str,
            typer.Option(
                help="Namespace holding templates, backups and the controller.",
                envvar="NETFENCE_NAMESPACE",
            ),
        ] = naming.DEFAULT_NETFENCE_NAMESPACE,
    ) -> None:
        if kubeconfig is None and os.environ.get("KUBECONFIG"):
            kubeconfig = Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        ctx.obj = Settings(
            kubeconfig=kubeconfig,
            context=context,
            netfence_namespace=netfence_namespace,
            runtime=runtime,
        )

    namespaces_cmd.register(app)
    workloads_cmd.register(app)
    connectivity_cmd.register(app)
    probe_cmd.register(app)
    controller_cmd.register(app)
    demo_cmd.register(app)
    serve_cmd.register(app)
    app.add_typer(templates_cmd.app, name="templates")
    app.add_typer(controlplane_cmd.app, name="controlplane")
    app.add_typer(lab_cmd.app, name="lab")
    return app
