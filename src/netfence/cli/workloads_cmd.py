"""`attach` and `detach`: templates on controllers, by the label on the controller."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import yaml
from rich.text import Text

from netfence.cli import completion, impacts, leadership, output
from netfence.cli.context import EXIT_ERROR, Settings, err, fail, out, run, settings
from netfence.cli.options import TABLE, DocumentOutputOption, NamespaceOption, TemplateArg
from netfence.cli.output import DOCUMENTS, Output
from netfence.core import naming
from netfence.core.objects import WorkloadRef
from netfence.usecases import attachments, connectivity

ControllerArg = Annotated[
    str,
    typer.Argument(
        help="KIND/NAME, e.g. deployment/web, sts/db, ds/agent, cronjob/backup.",
        autocompletion=completion.controllers,
    ),
]
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
    namespace: NamespaceOption = None,
    wait: WaitOption = 15.0,
    dry_run: DryRunOption = False,
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Attach a template to a controller: netfence creates a NetworkPolicy for its pods."""
    s = settings(ctx)
    fmt = output_format.allow("attach", *DOCUMENTS)
    ns = s.namespace_or_default(namespace)
    run(_set_label(s, controller, template, ns, True, wait, dry_run, fmt))


def detach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption = None,
    wait: WaitOption = 15.0,
    dry_run: DryRunOption = False,
    output_format: DocumentOutputOption = TABLE,
) -> None:
    """Detach a template from a controller: netfence deletes the policy it made for it."""
    s = settings(ctx)
    fmt = output_format.allow("detach", *DOCUMENTS)
    ns = s.namespace_or_default(namespace)
    run(_set_label(s, controller, template, ns, False, wait, dry_run, fmt))


async def _set_label(
    s: Settings,
    controller: str,
    template: str,
    namespace: str,
    attach: bool,
    wait: float,
    dry_run: bool,
    fmt: Output,
) -> None:
    ref = WorkloadRef.parse(controller)
    shown = f"{ref.kind.value.lower()}/{ref.name}"
    label = naming.template_label_key(template)
    async with s.cluster() as cluster:
        if dry_run:
            # Everything is checked before anything is printed.
            preview = await attachments.preview(cluster, namespace, ref, template, attach=attach)
            if fmt.is_document:
                output.emit(_preview_document(preview, shown), fmt)
            else:
                _print_preview(preview, shown)
            return
        lead = await leadership.presence(cluster)
        if attach:
            policy = await attachments.attach(cluster, namespace, ref, template)
            said = f"{shown} labelled {label}=true"
        else:
            policy = await attachments.detach(cluster, namespace, ref, template)
            said = f"{shown} label {label} removed"
        if not fmt.is_document:
            out.print(Text(f"{said} (namespace {namespace})"), highlight=False)
        undo = (
            f"netfence {'detach' if attach else 'attach'} {shown} {template} -n {namespace}"
            f" (or kubectl label {shown} -n {namespace} "
            f"{label + '-' if attach else label + '=true'})"
        )
        word = "created" if attach else "deleted"
        if lead.live is False:
            leadership.warn(lead)
            left = (
                f"the label stays on {shown} and NetworkPolicy {namespace}/{policy} will be "
                "created when a controller runs"
                if attach
                else f"the label is gone from {shown} but NetworkPolicy {namespace}/{policy} "
                "stays until a controller runs"
            )
            err.print(Text(f"note: {left}; to undo: {undo}"), highlight=False)
            if fmt.is_document:
                output.emit(_result_document(namespace, shown, template, policy, attach, None), fmt)
            if wait > 0:
                raise typer.Exit(EXIT_ERROR)
            return
        if wait <= 0:
            if fmt.is_document:
                output.emit(_result_document(namespace, shown, template, policy, attach, None), fmt)
            return
        done = await attachments.until_policy(
            cluster.reader, namespace, policy, present=attach, timeout=wait
        )
    if not done:
        fail(
            f"NetworkPolicy {namespace}/{policy} was not {word} within {wait:.0f}s, although a "
            f"controller holds the Lease; see `kubectl get events -n {namespace}`. The label "
            f"stays; to undo: {undo}"
        )
    if fmt.is_document:
        output.emit(_result_document(namespace, shown, template, policy, attach, True), fmt)
        return
    out.print(f"[green]✔[/] NetworkPolicy {namespace}/{policy} {word}.", highlight=False)


def _result_document(
    namespace: str, controller: str, template: str, policy: str, attach: bool, done: bool | None
) -> dict[str, Any]:
    return output.document(
        "AttachResult" if attach else "DetachResult",
        namespace=namespace,
        controller=controller,
        template=template,
        label=naming.template_label_key(template),
        policy=policy,
        dry_run=False,
        # True: the controller made (or removed) the policy; None: not waited for.
        finished=done,
    )


def _preview_document(preview: attachments.AttachmentPreview, controller: str) -> dict[str, Any]:
    data = output.document(
        "AttachmentPreview",
        action=preview.action,
        namespace=preview.namespace,
        controller=controller,
        template=preview.template,
        policy=preview.policy,
        dry_run=True,
        create=list(preview.changes.created),
        delete=list(preview.changes.deleted),
        warnings=preview.warnings,
    )
    impact = preview.impact
    if isinstance(impact, connectivity.Impact):
        data.update(impact=impact.report.as_json(), notes=list(impact.notes))
    else:
        data.update(impact=None, notes=[impact])
    return data


def _print_preview(preview: attachments.AttachmentPreview, controller: str) -> None:
    verb = "Attaching" if preview.action == "attach" else "Detaching"
    where = "to" if preview.action == "attach" else "from"
    namespace = preview.namespace
    out.print(
        Text(f"{verb} {preview.template} {where} {controller} in {namespace} would:", style="bold"),
        highlight=False,
    )
    for manifest in preview.changes.created:
        # The spec is what decides traffic; the labels and the template snapshot annotation
        # are netfence's bookkeeping and would only hide it.
        out.print(
            Text(f"  create NetworkPolicy {namespace}/{manifest['metadata']['name']} with spec:"),
            highlight=False,
        )
        text = yaml.safe_dump(manifest["spec"], sort_keys=False)
        out.print(Text("\n".join(f"    {line}" for line in text.splitlines())), highlight=False)
    for name in preview.changes.deleted:
        out.print(Text(f"  delete NetworkPolicy {namespace}/{name}"), highlight=False)
    if not preview.changes.created and not preview.changes.deleted:
        out.print("  change no NetworkPolicy")
    for warning in preview.warnings:
        out.print(Text.assemble(("  warning: ", "yellow"), warning), highlight=False)
    impacts.print_impact(preview.impact)
    out.print("[dim]Dry run: nothing was changed.[/]")
