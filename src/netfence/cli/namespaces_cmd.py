"""`status`, `enable`, `disable`, `policies`: namespaces and the policies in them."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Annotated

import typer

from netfence.cli import impacts, output
from netfence.cli.context import Settings, fail, out, run, settings
from netfence.cli.output import Format
from netfence.core import naming
from netfence.usecases import connectivity, namespaces

OutputOption = Annotated[Format, typer.Option("-o", "--output", help="table, json or yaml")]
NamespaceArg = Annotated[str, typer.Argument(help="The namespace.", show_default=False)]
WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the controller to finish (0: don't).")
]


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("enable")(enable)
    app.command("disable")(disable)
    app.command("policies")(policies)


def status(ctx: typer.Context, output_format: OutputOption = Format.TABLE) -> None:
    """List namespaces: managed or not, their policies, and controllers with their templates."""
    s = settings(ctx)
    run(_status(s, output_format))


async def _status(s: Settings, fmt: Format) -> None:
    async with s.cluster() as cluster:
        found = await namespaces.status(cluster)
    if fmt is not Format.TABLE:
        output.emit_data({"namespaces": [dataclasses.asdict(x) for x in found]}, fmt)
        return
    rows = []
    for item in found:
        unmanaged = str(item.unmanaged_policies)
        if item.unmanaged_policies and item.managed:
            unmanaged = f"[yellow]{unmanaged} ⚠[/]"
        attached = [
            f"{c.kind.lower()}/{c.name}: {', '.join(c.templates)}"
            for c in item.controllers
            if c.templates
        ]
        rows.append(
            [
                item.name,
                {"managed": "[green]managed[/]", "refused": "[red]refused[/]"}.get(
                    item.state, item.state
                ),
                str(item.managed_policies),
                unmanaged,
                str(len(item.controllers)),
                "\n".join(attached) or "-",
            ]
        )
    out.print(
        output.table(
            None, ["NAMESPACE", "STATE", "MANAGED", "UNMANAGED", "CONTROLLERS", "TEMPLATES"], rows
        )
    )


def enable(
    ctx: typer.Context,
    namespace: NamespaceArg,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    wait: WaitOption = 30.0,
    output_format: OutputOption = Format.TABLE,
) -> None:
    """Opt a namespace in: back up and remove its policies, then deny ingress except in-namespace."""
    run(_enable(settings(ctx), namespace, dry_run=dry_run, wait=wait, fmt=output_format))


async def _enable(s: Settings, name: str, *, dry_run: bool, wait: float, fmt: Format) -> None:
    async with s.cluster() as cluster:
        # Only a dry run computes the effect on connectivity: it reads the whole cluster.
        preview = await namespaces.preview_enable(cluster, name, impact=dry_run)
        if fmt is not Format.TABLE:
            output.emit_data(_enable_data(preview, dry_run=dry_run), fmt)
        if dry_run:
            if fmt is Format.TABLE:
                _print_preview(preview)
                impacts.print_impact(preview.impact)
                out.print("[dim]Dry run: nothing was changed.[/]")
            return
        # A second of slack: the controller's clock and ours may differ a little.
        since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        await namespaces.enable(cluster, name)
        if fmt is Format.TABLE:
            out.print(f"Namespace [bold]{name}[/] labelled {naming.MANAGED_NAMESPACE_LABEL}=true.")
        if wait <= 0:
            return
        progress = await namespaces.until_enabled(cluster.reader, name, timeout=wait, since=since)
    if fmt is not Format.TABLE:
        return
    if progress.problems:
        fail(
            f"netfence could not finish enabling {name}; its old policies stay in place "
            f"until it can. The controller reports: {progress.problems[0]}",
            1,
        )
    if progress.backup is None:
        fail(
            f"the controller did not finish within {wait:.0f}s; is it running? "
            f"Check `netfence status` and `kubectl get events -n {name}`.",
            1,
        )
    backed_up = preview.backed_up
    out.print(
        f"[green]✔[/] netfence manages {name}: backed up {len(backed_up)} "
        f"polic{'y' if len(backed_up) == 1 else 'ies'}"
        f" to ConfigMap {s.netfence_namespace}/{naming.backup_configmap_name(name)}, "
        f"created {', '.join(st.name for st in preview.creates)}."
    )


def _enable_data(preview: namespaces.EnablePreview, *, dry_run: bool) -> dict[str, object]:
    data: dict[str, object] = {
        "namespace": preview.namespace,
        "dryRun": dry_run,
        "backup": [p.name for p in preview.backed_up],
        "delete": preview.deletes,
        "create": [st.name for st in preview.creates],
        "warnings": preview.warnings,
    }
    if isinstance(preview.impact, connectivity.Impact):
        data["impact"] = preview.impact.report.as_json()
    return data


def _print_preview(preview: namespaces.EnablePreview) -> None:
    backed_up = [p.name for p in preview.backed_up]
    out.print(f"[bold]Enabling {preview.namespace} would:[/]")
    if backed_up:
        out.print(f"  back up {len(backed_up)} existing NetworkPolicies and then delete them:")
        for policy in backed_up:
            out.print(f"    - {policy}")
    else:
        out.print("  back up and delete nothing (the namespace has no NetworkPolicies)")
    for policy in preview.deletes:
        if policy not in backed_up:
            out.print(f"  delete {policy}")
    out.print("  create:")
    for step in preview.creates:
        out.print(f"    + {step.name}")
    for warning in preview.warnings:
        out.print(f"  [yellow]warning:[/] {warning}", highlight=False)


def disable(
    ctx: typer.Context,
    namespace: NamespaceArg,
    restore: Annotated[
        bool, typer.Option("--restore", help="Recreate the policies backed up at opt-in.")
    ] = False,
    wait: WaitOption = 30.0,
) -> None:
    """Opt a namespace out: netfence removes what it made; --restore brings back the backup."""
    run(_disable(settings(ctx), namespace, restore=restore, wait=wait))


async def _disable(s: Settings, name: str, *, restore: bool, wait: float) -> None:
    async with s.cluster() as cluster:
        result = await namespaces.disable(cluster, name, restore=restore, wait=wait)
    if result.was_managed:
        out.print(f"Removed label {naming.MANAGED_NAMESPACE_LABEL} from namespace {name}.")
    else:
        out.print(f"Namespace {name} is not managed.")
    if not result.waited:
        return
    if result.remaining:
        fail(
            f"netfence's policies ({', '.join(result.remaining)}) are still there after "
            f"{wait:.0f}s; is the controller running?",
            1,
        )
    out.print(f"[green]✔[/] netfence's policies were removed from {name}.")
    if not restore:
        return
    if result.restore is None:
        out.print(f"No backup of {name} to restore.")
        return
    for policy_name in result.restore.restored:
        out.print(f"  [green]restored[/] {policy_name}")
    for policy_name, why in result.restore.skipped.items():
        out.print(f"  [yellow]skipped[/] {policy_name}: {why}")


def policies(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="The namespace.")],
    output_format: OutputOption = Format.TABLE,
) -> None:
    """List the NetworkPolicies of a namespace, managed and unmanaged, with their templates."""
    run(_policies(settings(ctx), namespace, output_format))


async def _policies(s: Settings, name: str, fmt: Format) -> None:
    async with s.cluster() as cluster:
        found = await namespaces.policies(cluster, name)
    if fmt is not Format.TABLE:
        output.emit_data(
            {"namespace": name, "policies": [dataclasses.asdict(p) for p in found]}, fmt
        )
        return
    if not found:
        out.print(f"No NetworkPolicies in {name}.")
        return
    rows = [
        [
            p.name,
            "netfence" if p.managed else "[yellow]unmanaged[/]",
            p.template or "-",
            p.controller or "-",
            {"outdated": "[yellow]outdated[/]"}.get(
                p.template_status or "", p.template_status or "-"
            ),
        ]
        for p in found
    ]
    out.print(
        output.table(None, ["NAME", "MADE BY", "TEMPLATE", "CONTROLLER", "TEMPLATE STATUS"], rows)
    )
