"""`attach` and `detach`: templates on controllers, by the label on the controller."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
import yaml
from lightkube import ApiError, AsyncClient
from lightkube.resources.networking_v1 import NetworkPolicy
from rich.text import Text

from netfence import analysis
from netfence.cli import impacts
from netfence.cli.context import Settings, fail, out, run, settings
from netfence.core import errors, manifests, naming
from netfence.core.objects import WorkloadRef
from netfence.kube import actions, failures, reading, template_store

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
    run(
        _set_label(
            settings(ctx),
            controller,
            template,
            namespace,
            attach=True,
            wait=wait,
            dry_run=dry_run,
        )
    )


def detach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption,
    wait: WaitOption = 15.0,
    dry_run: DryRunOption = False,
) -> None:
    """Detach a template from a controller: netfence deletes the policy it made for it."""
    run(
        _set_label(
            settings(ctx),
            controller,
            template,
            namespace,
            attach=False,
            wait=wait,
            dry_run=dry_run,
        )
    )


async def _set_label(
    s: Settings,
    controller: str,
    template: str,
    namespace: str,
    *,
    attach: bool,
    wait: float,
    dry_run: bool = False,
) -> None:
    ref = WorkloadRef.parse(controller)
    async with s.client() as client:
        if attach:
            await _check_attachable(client, s, template, namespace)
        if dry_run:
            await _preview(client, s, ref, template, namespace, attach=attach)
            return
        await actions.set_template_label(client, namespace, ref, template, attached=attach)
        policy = naming.attachment_policy_name(ref.kind.value, ref.name, template)
        if attach:
            out.print(f"Labelled {ref} with {naming.template_label_key(template)}=true.")
        else:
            out.print(f"Removed label {naming.template_label_key(template)} from {ref}.")
        if wait <= 0:
            return
        if await _wait_for_policy(client, namespace, policy, present=attach, timeout=wait):
            word = "created" if attach else "deleted"
            out.print(f"[green]✔[/] NetworkPolicy {namespace}/{policy} {word}.")
        else:
            fail(
                f"NetworkPolicy {namespace}/{policy} was not "
                f"{'created' if attach else 'deleted'} within {wait:.0f}s; is the controller "
                f"running? See `kubectl get events -n {namespace}`."
            )


async def _preview(
    client: AsyncClient,
    s: Settings,
    ref: WorkloadRef,
    template: str,
    namespace: str,
    *,
    attach: bool,
) -> None:
    state = await reading.read_namespace(client, namespace, netfence_namespace=s.netfence_namespace)
    catalog = (await template_store.load(client, namespace=s.netfence_namespace)).catalog
    verb = "Attaching" if attach else "Detaching"
    out.print(f"[bold]{verb} {template} {'to' if attach else 'from'} {ref} would:[/]")
    inventory = await impacts.survey_or_none(client)
    preview = analysis.preview_attachment(
        # Without the cluster, the policies are still previewed, only not their effect.
        inventory or manifests.Inventory(policies=tuple(state.policies)),
        state,
        ref,
        template,
        catalog,
        attach=attach,
        netfence_namespace=s.netfence_namespace,
    )
    for manifest in preview.created:
        # The spec is what decides traffic; the labels and the template snapshot annotation
        # are netfence's bookkeeping and would only hide it.
        out.print(f"  create NetworkPolicy {namespace}/{manifest['metadata']['name']} with spec:")
        text = yaml.safe_dump(manifest["spec"], sort_keys=False)
        out.print(Text("\n".join(f"    {line}" for line in text.splitlines())), highlight=False)
    for name in preview.deleted:
        out.print(f"  delete NetworkPolicy {namespace}/{name}")
    if not preview.created and not preview.deleted:
        out.print("  change no NetworkPolicy")
    for notice in preview.refusals:
        out.print(Text.assemble(("  warning: ", "yellow"), notice.message), highlight=False)
    if inventory is not None:
        impacts.print_impact(preview.impact)
    out.print("[dim]Dry run: nothing was changed.[/]")


async def _check_attachable(
    client: AsyncClient, s: Settings, template: str, namespace: str
) -> None:
    state = await reading.read_namespace(client, namespace, netfence_namespace=s.netfence_namespace)
    if state.namespace is None or not state.namespace.wants_management:
        raise errors.Refused(
            f"namespace {namespace} is not managed by netfence, so the template would not be "
            f"applied; an admin can enable it with: netfence enable {namespace}"
        )
    try:
        catalog = (await template_store.load(client, namespace=s.netfence_namespace)).catalog
    except errors.AccessDenied:
        return  # the controller reports an unknown template as an Event
    if template in catalog.broken:
        raise errors.Refused(str(catalog.broken[template]))
    if template not in catalog.templates:
        known = ", ".join(sorted(catalog.templates)) or "none"
        raise errors.NotFound(f"template {template} does not exist; known templates: {known}")


async def _wait_for_policy(
    client: AsyncClient, namespace: str, name: str, *, present: bool, timeout: float
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await client.get(NetworkPolicy, name, namespace=namespace)
            exists = True
        except ApiError as e:
            if e.status.code != 404:
                raise failures.translate(e, f"read NetworkPolicy {namespace}/{name}") from e
            exists = False
        if exists == present:
            return True
        await asyncio.sleep(0.1)
    return False
