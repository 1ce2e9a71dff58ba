"""`status`, `enable`, `disable`, `policies`: namespaces and the policies in them."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
from typing import Annotated, Any

import typer
from rich.text import Text

from netfence.cli import impacts, leadership, output
from netfence.cli.context import EXIT_ERROR, Settings, err, fail, out, run, settings
from netfence.cli.options import (
    TABLE,
    AllNamespacesOption,
    DocumentOutputOption,
    NamespaceArg,
    NamespaceOption,
    NoHeadersOption,
    OutputOption,
    SelectorOption,
)
from netfence.cli.output import DOCUMENTS, LISTINGS, Column, Output
from netfence.core import naming, selectors, summaries
from netfence.usecases import connectivity, namespaces
from netfence.usecases import leadership as leading
from netfence.usecases.ports import Cluster

WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the controller to finish (0: don't).")
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("enable")(enable)
    app.command("disable")(disable)
    app.command("policies")(policies)


# --- status ------------------------------------------------------------------------------

STATUS_COLUMNS = (
    Column("NAME"),
    Column("STATE"),
    Column("MANAGED"),
    Column("UNMANAGED"),
    Column("CONTROLLERS"),
    Column("AGE"),
    Column("BACKED-UP", wide=True),
    Column("TEMPLATES", wide=True),
)
_STATE_STYLES = {"managed": "green", "refused": "red", "enabling": "yellow", "disabling": "yellow"}


def status(
    ctx: typer.Context,
    output_format: OutputOption = TABLE,
    selector: SelectorOption = None,
    no_headers: NoHeadersOption = False,
    _all: Annotated[bool, typer.Option("-A", "--all-namespaces", hidden=True)] = False,
) -> None:
    """List namespaces: managed or not, their policies, controllers and templates.

    MANAGED and UNMANAGED count the NetworkPolicies netfence made and the others. Says so
    when no netfence controller holds its Lease.
    """
    fmt = output_format.allow("status", *LISTINGS)
    run(_status(settings(ctx), fmt, selector or selectors.EVERYTHING, no_headers))


async def _status(s: Settings, fmt: Output, selector: selectors.Selector, bare: bool) -> None:
    async with s.cluster() as cluster:
        found, lead = await asyncio.gather(
            namespaces.status(cluster, selector=selector), leadership.presence(cluster)
        )
    if fmt.is_document:
        output.emit(output.listing("Namespace", found, controller=lead.as_json()), fmt)
        return
    if fmt.format is output.Format.NAME:
        output.emit_names(f"namespace/{item.name}" for item in found)
        return
    leadership.warn(lead)
    now = datetime.datetime.now(datetime.UTC)
    rows = [_status_row(item, now) for item in found]
    output.print_table(STATUS_COLUMNS, rows, fmt, headers=not bare)


def _status_row(item: summaries.NamespaceSummary, now: datetime.datetime) -> list[output.Cell]:
    warn = item.unmanaged_policies and item.managed
    unmanaged: output.Cell = (str(item.unmanaged_policies), "yellow" if warn else "")
    attached = ";".join(
        f"{c.kind.lower()}/{c.name}:{','.join(c.templates)}"
        for c in item.controllers
        if c.templates
    )
    return [
        item.name,
        (item.state, _STATE_STYLES.get(item.state, "")),
        str(item.managed_policies),
        unmanaged,
        str(len(item.controllers)),
        output.age(item.creation_timestamp, now),
        str(item.backed_up),
        attached,
    ]


# --- enable ------------------------------------------------------------------------------


def enable(
    ctx: typer.Context,
    namespace: NamespaceArg,
    dry_run: DryRunOption = False,
    wait: WaitOption = 30.0,
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Opt a namespace in: back up and remove its policies, then deny ingress except in-namespace."""
    fmt = output_format.allow("enable", *DOCUMENTS)
    run(_enable(settings(ctx), namespace, dry_run=dry_run, wait=wait, fmt=fmt))


async def _enable(s: Settings, name: str, *, dry_run: bool, wait: float, fmt: Output) -> None:
    async with s.cluster() as cluster:
        # Only a dry run computes the effect on connectivity: it reads the whole cluster.
        preview = await namespaces.preview_enable(cluster, name, impact=dry_run)
        if dry_run:
            if fmt.is_document:
                output.emit(_enable_document(preview, dry_run=True), fmt)
            else:
                _print_enable_preview(preview)
                impacts.print_impact(preview.impact)
                out.print("[dim]Dry run: nothing was changed.[/]")
            return
        lead = await leadership.presence(cluster)
        # A second of slack: the controller's clock and ours may differ a little.
        since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        await namespaces.enable(cluster, name)
        if not fmt.is_document:
            out.print(
                Text(f"namespace/{name} labelled {naming.MANAGED_NAMESPACE_LABEL}=true"),
                highlight=False,
            )
        if lead.live is False:
            if fmt.is_document:
                output.emit(_enable_document(preview, dry_run=False, finished=None), fmt)
            _left_behind(
                lead,
                f"the label {naming.MANAGED_NAMESPACE_LABEL}=true stays on namespace {name} "
                "and its policies are unchanged until a controller runs",
                undo=(
                    f"netfence disable {name} (or kubectl label namespace {name} "
                    f"{naming.MANAGED_NAMESPACE_LABEL}-)"
                ),
                wait=wait,
            )
        if wait <= 0:
            if fmt.is_document:
                output.emit(_enable_document(preview, dry_run=False, finished=None), fmt)
            return
        progress = await namespaces.until_enabled(cluster.reader, name, timeout=wait, since=since)
    if progress.problems:
        fail(
            f"netfence could not finish enabling {name}; its old policies stay in place "
            f"until it can. The controller reports: {progress.problems[0]}"
        )
    if progress.backup is None:
        fail(
            f"the controller did not finish enabling {name} within {wait:.0f}s; the label "
            f"stays (undo: netfence disable {name}). See `netfence status` and "
            f"`kubectl get events -n {name}`."
        )
    if fmt.is_document:
        output.emit(_enable_document(preview, dry_run=False, finished=True), fmt)
        return
    backed_up = preview.backed_up
    out.print(
        f"[green]✔[/] netfence manages {name}: backed up {len(backed_up)} "
        f"polic{'y' if len(backed_up) == 1 else 'ies'}"
        f" to ConfigMap {s.netfence_namespace}/{naming.backup_configmap_name(name)}, "
        f"created {', '.join(st.name for st in preview.creates) or 'nothing new'}.",
        highlight=False,
    )


def _left_behind(lead: leading.Leadership, left: str, *, undo: str, wait: float) -> None:
    """No controller will act: say so now, say what stays, and how to undo it."""
    leadership.warn(lead)
    err.print(Text(f"note: {left}; to undo: {undo}"), highlight=False)
    if wait > 0:
        raise typer.Exit(EXIT_ERROR)


def _enable_document(
    preview: namespaces.EnablePreview, *, dry_run: bool, finished: bool | None = None
) -> dict[str, Any]:
    data = output.document(
        "EnablePreview" if dry_run else "EnableResult",
        namespace=preview.namespace,
        dry_run=dry_run,
        already_managed=preview.already_managed,
        backup=[p.name for p in preview.backed_up],
        delete=preview.deletes,
        create=[st.name for st in preview.creates],
        warnings=preview.warnings,
    )
    if not dry_run:
        data["finished"] = finished
    data.update(_impact_fields(preview.impact))
    return data


def _impact_fields(impact: connectivity.Impact | str | None) -> dict[str, Any]:
    if isinstance(impact, connectivity.Impact):
        return {"impact": impact.report.as_json(), "notes": list(impact.notes)}
    if isinstance(impact, str):
        return {"impact": None, "notes": [impact]}
    return {}


def _print_enable_preview(preview: namespaces.EnablePreview) -> None:
    name = preview.namespace
    backed_up = [p.name for p in preview.backed_up]
    ours = sorted(p.name for p in preview.state.policies if p.is_managed)
    if preview.already_managed and not backed_up and not preview.deletes and not preview.creates:
        out.print(
            Text(
                f"Namespace {name} is already managed by netfence ({len(ours)} "
                f"NetworkPolic{'y' if len(ours) == 1 else 'ies'} of its own: "
                f"{', '.join(ours) or 'none'}); enabling it again changes nothing."
            ),
            highlight=False,
        )
    else:
        if preview.already_managed:
            out.print(
                Text(f"Namespace {name} is already managed; enabling it again would:"),
                highlight=False,
            )
        else:
            out.print(Text(f"Enabling {name} would:", style="bold"), highlight=False)
        if backed_up:
            out.print(
                f"  back up {len(backed_up)} NetworkPolicies not made by netfence, then delete them:"
            )
            for policy in backed_up:
                out.print(Text(f"    - {policy}"), highlight=False)
        elif not preview.already_managed:
            held = f" (it has {len(ours)} of netfence's own)" if ours else ""
            out.print(
                f"  back up and delete nothing: no NetworkPolicy there was made by anyone else{held}"
            )
        for policy in preview.deletes:
            if policy not in backed_up:
                out.print(Text(f"  delete {policy}"), highlight=False)
        if preview.creates:
            out.print("  create:")
            for step in preview.creates:
                out.print(Text(f"    + {step.name}"), highlight=False)
    for warning in preview.warnings:
        out.print(Text.assemble(("  warning: ", "yellow"), warning), highlight=False)


# --- disable -----------------------------------------------------------------------------


def disable(
    ctx: typer.Context,
    namespace: NamespaceArg,
    restore: Annotated[
        bool, typer.Option("--restore", help="Recreate the policies backed up at opt-in.")
    ] = False,
    dry_run: DryRunOption = False,
    wait: WaitOption = 30.0,
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Opt a namespace out: netfence removes what it made; --restore brings back the backup."""
    fmt = output_format.allow("disable", *DOCUMENTS)
    run(_disable(settings(ctx), namespace, restore=restore, dry_run=dry_run, wait=wait, fmt=fmt))


async def _disable(
    s: Settings, name: str, *, restore: bool, dry_run: bool, wait: float, fmt: Output
) -> None:
    async with s.cluster() as cluster:
        if dry_run:
            preview = await namespaces.preview_disable(cluster, name, restore=restore)
            if fmt.is_document:
                output.emit(_disable_preview_document(preview), fmt)
            else:
                _print_disable_preview(preview)
            return
        lead = await leadership.presence(cluster)
        if lead.live is False:
            await _disable_without_controller(
                cluster, lead, name, restore=restore, wait=wait, fmt=fmt
            )
            return
        result = await namespaces.disable(cluster, name, restore=restore, wait=wait)
    if fmt.is_document:
        output.emit(_disable_document(result), fmt)
        if result.remaining:
            raise typer.Exit(EXIT_ERROR)
        return
    if result.was_managed:
        _said_removed(name)
    else:
        out.print(Text(f"Namespace {name} is not managed; nothing to remove."), highlight=False)
    if not result.waited:
        return
    if result.remaining:
        fail(
            f"netfence's policies ({', '.join(result.remaining)}) are still in {name} after "
            f"{wait:.0f}s; is the controller running? See `netfence status`."
        )
    out.print(f"[green]✔[/] netfence's policies were removed from {name}.", highlight=False)
    if not restore:
        return
    if result.restore is None:
        out.print(Text(f"No backup of {name} to restore."), highlight=False)
        return
    for policy_name in result.restore.restored:
        out.print(Text.assemble(("  restored ", "green"), policy_name), highlight=False)
    for policy_name, why in result.restore.skipped.items():
        out.print(Text.assemble(("  skipped ", "yellow"), f"{policy_name}: {why}"), highlight=False)


async def _disable_without_controller(
    cluster: Cluster,
    lead: leading.Leadership,
    name: str,
    *,
    restore: bool,
    wait: float,
    fmt: Output,
) -> None:
    """The label is removed as asked, but netfence's policies stay (keeping the namespace
    as restricted as it was) and nothing is restored: say so at once, and how to undo."""
    before = await namespaces.preview_disable(cluster, name, restore=False, impact=False)
    result = await namespaces.disable(cluster, name, restore=False, wait=0)
    if fmt.is_document:
        remaining = before.deletes if result.was_managed else ()
        output.emit(_disable_document(dataclasses.replace(result, remaining=remaining)), fmt)
    if not result.was_managed:
        if not fmt.is_document:
            out.print(Text(f"Namespace {name} is not managed; nothing to remove."), highlight=False)
        leadership.warn(lead)
        return
    if not fmt.is_document:
        _said_removed(name)
    left = (
        f"netfence's policies in {name} ({', '.join(before.deletes) or 'none'}) stay until a "
        "controller runs"
    )
    if restore:
        left += f"; nothing was restored (run netfence disable {name} --restore again then)"
    _left_behind(lead, left, undo=f"netfence enable {name}", wait=wait if not restore else 1)


def _said_removed(name: str) -> None:
    out.print(
        Text(f"namespace/{name} label {naming.MANAGED_NAMESPACE_LABEL} removed"),
        highlight=False,
    )


def _disable_document(result: namespaces.DisableResult) -> dict[str, Any]:
    restored = result.restore
    return output.document(
        "DisableResult",
        namespace=result.namespace,
        dry_run=False,
        was_managed=result.was_managed,
        waited=result.waited,
        remaining=list(result.remaining),
        restored=list(restored.restored) if restored else [],
        skipped=dict(restored.skipped) if restored else {},
    )


def _disable_preview_document(preview: namespaces.DisablePreview) -> dict[str, Any]:
    data = output.document(
        "DisablePreview",
        namespace=preview.namespace,
        dry_run=True,
        was_managed=preview.was_managed,
        delete=list(preview.deletes),
        restore=preview.restore,
        has_backup=preview.has_backup,
        restores=list(preview.restores),
        skipped=dict(preview.skipped),
    )
    data.update(_impact_fields(preview.impact))
    return data


def _print_disable_preview(preview: namespaces.DisablePreview) -> None:
    name = preview.namespace
    if not preview.was_managed and not preview.deletes:
        out.print(
            Text(f"Namespace {name} is not managed; disabling it changes nothing."), highlight=False
        )
    else:
        out.print(Text(f"Disabling {name} would:", style="bold"), highlight=False)
        out.print(Text(f"  remove the label {naming.MANAGED_NAMESPACE_LABEL}"), highlight=False)
        for policy in preview.deletes:
            out.print(Text(f"  delete {policy}"), highlight=False)
    if preview.restore:
        if not preview.has_backup:
            out.print(Text(f"  restore nothing: there is no backup of {name}"), highlight=False)
        elif not preview.restores and not preview.skipped:
            out.print(
                Text(f"  restore nothing: the backup of {name} holds no policies"),
                highlight=False,
            )
        for policy in preview.restores:
            out.print(Text(f"  restore {policy}"), highlight=False)
        for policy, why in preview.skipped.items():
            out.print(Text(f"  skip {policy}: {why}"), highlight=False)
    impacts.print_impact(preview.impact)
    out.print("[dim]Dry run: nothing was changed.[/]")


# --- policies ----------------------------------------------------------------------------


def _policy_columns(every: bool) -> tuple[Column, ...]:
    return (
        *((Column("NAMESPACE"),) if every else ()),
        Column("NAME"),
        Column("MADE-BY"),
        Column("TEMPLATE"),
        Column("CONTROLLER"),
        Column("TEMPLATE-STATUS"),
        Column("AGE"),
        Column("ROLE", wide=True),
        Column("POD-SELECTOR", wide=True),
    )


def policies(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    all_namespaces: AllNamespacesOption = False,
    selector: SelectorOption = None,
    output_format: OutputOption = TABLE,
    no_headers: NoHeadersOption = False,
) -> None:
    """List NetworkPolicies, managed and unmanaged, with their templates and whether they
    are behind them."""
    s = settings(ctx)
    fmt = output_format.allow("policies", *LISTINGS)
    name = None if all_namespaces else s.namespace_or_default(namespace)
    run(_policies(s, name, selector or selectors.EVERYTHING, fmt, no_headers))


async def _policies(
    s: Settings, name: str | None, selector: selectors.Selector, fmt: Output, bare: bool
) -> None:
    async with s.cluster() as cluster:
        found = await namespaces.policies(cluster, name, selector=selector)
    if fmt.is_document:
        output.emit(output.listing("Policy", found, namespace=name), fmt)
        return
    if fmt.format is output.Format.NAME:
        output.emit_names(f"networkpolicy/{p.name}" for p in found)
        return
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        [
            *((p.namespace,) if name is None else ()),
            p.name,
            "netfence" if p.managed else ("unmanaged", "yellow"),
            p.template or "",
            p.controller.lower() if p.controller else "",
            (p.template_status or "", "yellow" if p.template_status == "outdated" else ""),
            output.age(p.creation_timestamp, now),
            p.role or "",
            p.pod_selector or "(all pods)",
        ]
        for p in found
    ]
    where = "any namespace" if name is None else f"namespace {name}"
    output.print_table(
        _policy_columns(name is None),
        rows,
        fmt,
        headers=not bare,
        empty=f"No NetworkPolicies found in {where}.",
    )
