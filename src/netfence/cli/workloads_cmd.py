"""`attach` and `detach`: templates on controllers, by the label on the controller."""

from __future__ import annotations

from typing import Annotated

import typer
import yaml
from rich.text import Text

from netfence.cli import impacts
from netfence.cli.context import Settings, fail, out, run, settings
from netfence.core import naming
from netfence.core.objects import WorkloadRef
from netfence.usecases import attachments

ControllerArg = Annotated[
    str, typer.Argument(help="KIND/NAME, e.g. deployment/web, sts/db, ds/agent, cronjob/backup.")
]
TemplateArg = Annotated[str, typer.Argument(help="The template name.")]
NamespaceOption = Annotated[str, typer.Option("-n", "--namespace", help="The namespace.")]
WaitOption = Annotated[
    float, typer.Option("--wait", help="Seconds to wait for the controller to act (0: don't).")
]
DryRunOption = Annotated[
    bool,
    typer.Option("--dry-run", help="Show the policy and the connectivity it would change."),
]


def register(app: typer.Typer) -> None:
    app.command("attach")(attach)
    app.command("detach")(detach)


def attach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption,
    wait: WaitOption = 15.0,
    dry_run: DryRunOption = False,
) -> None:
    """Attach a template to a controller: netfence creates a NetworkPolicy for its pods."""
    run(_set_label(settings(ctx), controller, template, namespace, True, wait, dry_run))


def detach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption,
    wait: WaitOption = 15.0,
    dry_run: DryRunOption = False,
) -> None:
    """Detach a template from a controller: netfence deletes the policy it made for it."""
    run(_set_label(settings(ctx), controller, template, namespace, False, wait, dry_run))


async def _set_label(
    s: Settings,
    controller: str,
    template: str,
    namespace: str,
    attach: bool,
    wait: float,
    dry_run: bool,
) -> None:
    ref = WorkloadRef.parse(controller)
    async with s.cluster() as cluster:
        if dry_run:
            preview = await attachments.preview(cluster, namespace, ref, template, attach=attach)
            _print_preview(preview)
            return
        if attach:
            policy = await attachments.attach(cluster, namespace, ref, template)
            out.print(f"Labelled {ref} with {naming.template_label_key(template)}=true.")
        else:
            policy = await attachments.detach(cluster, namespace, ref, template)
            out.print(f"Removed label {naming.template_label_key(template)} from {ref}.")
        if wait <= 0:
            return
        done = await attachments.until_policy(
            cluster.reader, namespace, policy, present=attach, timeout=wait
        )
    word = "created" if attach else "deleted"
    if not done:
        fail(
            f"NetworkPolicy {namespace}/{policy} was not {word} within {wait:.0f}s; is the "
            f"controller running? See `kubectl get events -n {namespace}`."
        )
    out.print(f"[green]✔[/] NetworkPolicy {namespace}/{policy} {word}.")


def _print_preview(preview: attachments.AttachmentPreview) -> None:
    verb = "Attaching" if preview.action == "attach" else "Detaching"
    where = "to" if preview.action == "attach" else "from"
    namespace = preview.namespace
    out.print(f"[bold]{verb} {preview.template} {where} {preview.ref} would:[/]")
    for manifest in preview.changes.created:
        # The spec is what decides traffic; the labels and the template snapshot annotation
        # are netfence's bookkeeping and would only hide it.
        out.print(f"  create NetworkPolicy {namespace}/{manifest['metadata']['name']} with spec:")
        text = yaml.safe_dump(manifest["spec"], sort_keys=False)
        out.print(Text("\n".join(f"    {line}" for line in text.splitlines())), highlight=False)
    for name in preview.changes.deleted:
        out.print(f"  delete NetworkPolicy {namespace}/{name}")
    if not preview.changes.created and not preview.changes.deleted:
        out.print("  change no NetworkPolicy")
    for warning in preview.warnings:
        out.print(Text.assemble(("  warning: ", "yellow"), warning), highlight=False)
    impacts.print_impact(preview.impact)
    out.print("[dim]Dry run: nothing was changed.[/]")
