"""`attach` and `detach`: templates on controllers, by the label on the controller."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from lightkube import ApiError, AsyncClient
from lightkube.resources.networking_v1 import NetworkPolicy

from netfence.cli.context import Settings, fail, out, run, settings
from netfence.core import errors, naming
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


def register(app: typer.Typer) -> None:
    app.command("attach")(attach)
    app.command("detach")(detach)


def attach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption,
    wait: WaitOption = 15.0,
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
        )
    )


def detach(
    ctx: typer.Context,
    controller: ControllerArg,
    template: TemplateArg,
    namespace: NamespaceOption,
    wait: WaitOption = 15.0,
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
        )
    )


async def _set_label(
    s: Settings, controller: str, template: str, namespace: str, *, attach: bool, wait: float
) -> None:
    ref = WorkloadRef.parse(controller)
    async with s.client() as client:
        if attach:
            await _check_attachable(client, s, template, namespace)
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
