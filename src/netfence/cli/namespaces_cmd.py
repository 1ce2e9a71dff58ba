"""`status`, `enable`, `disable`, `policies`: namespaces and the policies in them."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Annotated

import typer
from lightkube import AsyncClient

from netfence import analysis, services
from netfence.cli import impacts, output
from netfence.cli.context import Settings, fail, out, run, settings
from netfence.cli.output import Format
from netfence.core import naming, summaries, templates
from netfence.core.objects import Backup, Phase
from netfence.core.planning import ApplyPolicy, DeletePolicy, NamespaceState, Notice
from netfence.kube import actions, reading, template_store

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
    async with s.client() as client:
        states = await reading.read_cluster(client, netfence_namespace=s.netfence_namespace)
    found = [
        summaries.summarize_namespace(st, netfence_namespace=s.netfence_namespace) for st in states
    ]
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
    services.check_manageable(name, netfence_namespace=s.netfence_namespace)
    async with s.client() as client:
        state = await reading.read_namespace(client, name, netfence_namespace=s.netfence_namespace)
        stored = await template_store.load(client, namespace=s.netfence_namespace)
        preview = services.preview_enable(
            state, stored.catalog, netfence_namespace=s.netfence_namespace
        )
        backed_up = sorted(p.name for p in state.policies if not p.is_managed)
        creates = [st.name for st in preview.steps if isinstance(st, ApplyPolicy)]
        deletes = [st.name for st in preview.steps if isinstance(st, DeletePolicy)]
        # Only a dry run computes the effect on connectivity: it reads the whole cluster.
        inventory = await impacts.survey_or_none(client) if dry_run else None
        effect = (
            analysis.preview_enable(
                inventory, state, stored.catalog, netfence_namespace=s.netfence_namespace
            ).impact
            if inventory is not None
            else None
        )
        if fmt is not Format.TABLE:
            data: dict[str, object] = {
                "namespace": name,
                "dryRun": dry_run,
                "backup": backed_up,
                "delete": deletes,
                "create": creates,
                "warnings": [n.message for n in preview.refusals],
            }
            if effect is not None:
                data["impact"] = effect.as_json()
            output.emit_data(data, fmt)
        if dry_run:
            if fmt is Format.TABLE:
                _print_preview(name, backed_up, deletes, creates, preview.refusals, state)
                if effect is not None:
                    impacts.print_impact(effect)
                out.print("[dim]Dry run: nothing was changed.[/]")
            return
        already = state.namespace is not None and state.namespace.wants_management
        if not already:
            await actions.set_namespace_managed(client, name, managed=True)
        if fmt is Format.TABLE:
            out.print(f"Namespace [bold]{name}[/] labelled {naming.MANAGED_NAMESPACE_LABEL}=true.")
        if wait <= 0:
            return
        backup = await _wait_for_phase(client, s, name, Phase.ADOPTED, wait)
        if fmt is not Format.TABLE:
            return
        if backup is None:
            fail(
                f"the controller did not finish within {wait:.0f}s; is it running? "
                f"Check `netfence status` and `kubectl get events -n {name}`.",
                1,
            )
        out.print(
            f"[green]✔[/] netfence manages {name}: backed up {len(backed_up)} "
            f"polic{'y' if len(backed_up) == 1 else 'ies'}"
            f" to ConfigMap {s.netfence_namespace}/{naming.backup_configmap_name(name)}, "
            f"created {', '.join(creates)}."
        )


def _print_preview(
    name: str,
    backed_up: list[str],
    deletes: list[str],
    creates: list[str],
    refusals: tuple[Notice, ...],
    state: NamespaceState,
) -> None:
    out.print(f"[bold]Enabling {name} would:[/]")
    if backed_up:
        out.print(f"  back up {len(backed_up)} existing NetworkPolicies and then delete them:")
        for policy in backed_up:
            out.print(f"    - {policy}")
    else:
        out.print("  back up and delete nothing (the namespace has no NetworkPolicies)")
    for policy in deletes:
        if policy not in backed_up:
            out.print(f"  delete {policy}")
    out.print("  create:")
    for policy in creates:
        out.print(f"    + {policy}")
    for notice in refusals:
        out.print(f"  [yellow]warning:[/] {notice.message}", highlight=False)


async def _wait_for_phase(
    client: AsyncClient, s: Settings, name: str, phase: Phase, timeout: float
) -> Backup | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backup = await reading.read_backup(client, name, netfence_namespace=s.netfence_namespace)
        if backup is not None and backup.phase is phase:
            return backup
        await asyncio.sleep(0.2)
    return None


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
    async with s.client() as client:
        state = await reading.read_namespace(client, name, netfence_namespace=s.netfence_namespace)
        if state.namespace is not None and state.namespace.wants_management:
            await actions.set_namespace_managed(client, name, managed=False)
            out.print(f"Removed label {naming.MANAGED_NAMESPACE_LABEL} from namespace {name}.")
        else:
            out.print(f"Namespace {name} is not managed.")
        if not restore and wait <= 0:
            return
        state = await reading.until_released(
            client, name, netfence_namespace=s.netfence_namespace, timeout=max(wait, 1.0)
        )
        remaining = [p.name for p in state.policies if p.is_managed]
        if remaining:
            fail(
                f"netfence's policies ({', '.join(remaining)}) are still there after "
                f"{wait:.0f}s; is the controller running?",
                1,
            )
        out.print(f"[green]✔[/] netfence's policies were removed from {name}.")
        if restore:
            await _restore(client, s, name, {p.name for p in state.policies})


async def _restore(client: AsyncClient, s: Settings, name: str, existing: set[str]) -> None:
    backup = await reading.read_backup(client, name, netfence_namespace=s.netfence_namespace)
    if backup is None or not backup.entries:
        out.print(f"No backup of {name} to restore.")
        return
    report = await actions.restore_backup(client, name, backup, existing=existing)
    for policy_name in report.restored:
        out.print(f"  [green]restored[/] {policy_name}")
    for policy_name, why in report.skipped.items():
        out.print(f"  [yellow]skipped[/] {policy_name}: {why}")


def policies(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option("-n", "--namespace", help="The namespace.")],
    output_format: OutputOption = Format.TABLE,
) -> None:
    """List the NetworkPolicies of a namespace, managed and unmanaged, with their templates."""
    run(_policies(settings(ctx), namespace, output_format))


async def _policies(s: Settings, name: str, fmt: Format) -> None:
    async with s.client() as client:
        state = await reading.read_namespace(client, name, netfence_namespace=s.netfence_namespace)
        try:
            catalog = (await template_store.load(client, namespace=s.netfence_namespace)).catalog
        except Exception:  # noqa: BLE001 - template status is optional detail
            catalog = None
    found = summaries.summarize_policies(state, catalog or templates.parse_catalog({}))
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
