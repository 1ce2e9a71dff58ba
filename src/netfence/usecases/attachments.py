"""Use cases of attachments: a template on a controller, by the label on the controller.

Attaching, detaching, their previews, one controller's detail and the explicit update of a
policy to its template's current version. Every precondition is written once here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass

from netfence.core import errors, naming, suggestions, summaries, templates
from netfence.core import policies as rendering
from netfence.core.manifests import Inventory
from netfence.core.objects import JsonDict, Policy, Workload, WorkloadRef
from netfence.core.planning import NamespaceState
from netfence.usecases import connectivity, permissions
from netfence.usecases.namespaces import existing, is_managed
from netfence.usecases.ports import Cluster, ClusterViews
from netfence.usecases.templates import unknown_template

POLL_SECONDS = 0.1


def policy_name(ref: WorkloadRef, template: str) -> str:
    return naming.attachment_policy_name(ref.kind.value, ref.name, template)


def workload_in(state: NamespaceState, ref: WorkloadRef) -> Workload:
    workload = next((w for w in state.workloads if w.ref == ref), None)
    if workload is None:
        # Suggested as people type them: deployment/frontend.
        same_kind = [w.name for w in state.workloads if w.kind is ref.kind]
        close = [f"{ref.kind.value.lower()}/{n}" for n in suggestions.closest(ref.name, same_kind)]
        if not close:  # the name of a controller of another kind, perhaps
            by_name = {w.name: f"{w.kind.value.lower()}/{w.name}" for w in state.workloads}
            close = [by_name[n] for n in suggestions.closest(ref.name, by_name)]
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise errors.NotFound(
            f"{ref.kind.value} {ref.name} does not exist in namespace {state.name}{hint}"
        )
    return workload


def require_managed(state: NamespaceState) -> None:
    """Attaching into a namespace netfence does not manage would do nothing: refuse it."""
    if not is_managed(state):
        raise errors.Refused(
            f"namespace {state.name} is not managed by netfence, so the template would not be "
            f"applied; an admin can enable it with: netfence enable {state.name}"
        )


def require_template(catalog: templates.Catalog, template: str) -> templates.Template:
    """The template of that name; Rejected when it is broken, NotFound when absent."""
    if template in catalog.broken:
        raise errors.Rejected(str(catalog.broken[template]), field="template")
    found = catalog.templates.get(template)
    if found is None:
        raise errors.NotFound(unknown_template(catalog, template), field="template")
    return found


def require_attached(workload: Workload, template: str) -> None:
    if template not in workload.attached_templates:
        raise errors.NotFound(
            f"template {template} is not attached to {workload.ref}", field="template"
        )


async def attach(cluster: Cluster, namespace: str, ref: WorkloadRef, template: str) -> str:
    """Label the controller with the template; returns the policy netfence will create.

    Refused (nothing written) for an unmanaged namespace, an unknown or broken template,
    or a controller that does not exist. A caller who may not even read the namespace is
    told they may not attach there, not whether the namespace or controller exists.
    """
    try:
        state, stored = await asyncio.gather(
            existing(cluster.reader, namespace), cluster.reader.catalog()
        )
    except errors.AccessDenied as e:
        raise errors.AccessDenied(
            f"You may not attach templates to controllers in namespace {namespace}; ask an "
            f"admin for access to this namespace. ({e})"
        ) from e
    require_managed(state)
    require_template(stored.catalog, template)
    workload_in(state, ref)
    await cluster.changes.set_template_label(namespace, ref, template, attached=True)
    return policy_name(ref, template)


async def detach(cluster: Cluster, namespace: str, ref: WorkloadRef, template: str) -> str:
    """Remove the template's label; returns the policy netfence will delete."""
    await cluster.changes.set_template_label(namespace, ref, template, attached=False)
    return policy_name(ref, template)


async def until_policy(
    reader: ClusterViews, namespace: str, name: str, *, present: bool, timeout: float
) -> bool:
    """Whether the policy appeared (or went) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await reader.policy_exists(namespace, name) == present:
            return True
        await asyncio.sleep(POLL_SECONDS)
    return False


# --- previews ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttachmentPreview:
    action: str
    namespace: str
    ref: WorkloadRef
    template: str
    policy: str
    changes: connectivity.ChangePreview
    impact: connectivity.Impact | str

    @property
    def warnings(self) -> list[str]:
        """Refusals of the plan, then the pitfalls of the change (found with its effect
        on traffic, from as much of the cluster as the caller may read), with their fix."""
        found = self.impact.warnings if isinstance(self.impact, connectivity.Impact) else ()
        return [n.message for n in self.changes.refusals] + [
            f"{f.message}; fix: {f.fix}" for f in found
        ]


async def preview(
    cluster: Cluster, namespace: str, ref: WorkloadRef, template: str, *, attach: bool
) -> AttachmentPreview:
    """What attaching (or detaching) would do: the policies netfence would create or delete
    and the connections that change. Changes nothing; refuses what `attach` would refuse."""
    ns = cluster.netfence_namespace
    state, stored = await asyncio.gather(
        existing(cluster.reader, namespace), cluster.reader.catalog()
    )
    workload = workload_in(state, ref)
    catalog = stored.catalog
    if attach:
        require_managed(state)
        require_template(catalog, template)
    else:
        require_attached(workload, template)

    def changes(inventory: Inventory) -> connectivity.ChangePreview:
        return connectivity.preview_attachment(
            inventory, state, ref, template, catalog, attach=attach, netfence_namespace=ns
        )

    # The policies changed, from the namespace alone (always readable here), and their
    # effect, from as much of the cluster as the caller may read.
    changed = changes(Inventory(policies=tuple(state.policies)))
    effect = await connectivity.impact_of(cluster.reader, namespace, changes)
    return AttachmentPreview(
        action="attach" if attach else "detach",
        namespace=namespace,
        ref=ref,
        template=template,
        policy=policy_name(ref, template),
        changes=changed,
        impact=effect,
    )


# --- one controller ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControllerDetail:
    workload: Workload
    # Every policy of the namespace that selects the controller's pods, netfence's first.
    policies: list[Policy]
    catalog: templates.Catalog
    namespace_managed: bool
    permissions: dict[str, bool]


async def controller(cluster: Cluster, namespace: str, ref: WorkloadRef) -> ControllerDetail:
    state, stored, allowed = await asyncio.gather(
        existing(cluster.reader, namespace),
        cluster.reader.catalog(),
        permissions.answers(
            cluster.authorizer, {"attach": permissions.attach_in(namespace, ref.kind)}
        ),
    )
    workload = workload_in(state, ref)
    selecting = [p for p in state.policies if summaries.selects(p, workload)]
    return ControllerDetail(
        workload=workload,
        policies=sorted(selecting, key=lambda p: (not p.is_managed, p.name)),
        catalog=stored.catalog,
        namespace_managed=is_managed(state),
        permissions=allowed,
    )


# --- updating a policy to its template's current version -------------------------------


@dataclass(frozen=True, slots=True)
class UpdateProposal:
    """Re-rendering one attachment from its template's current version (nothing written)."""

    policy: str
    controller: WorkloadRef
    template: templates.Template
    version: str
    current_spec: JsonDict
    proposed_spec: JsonDict
    impact: connectivity.Impact | str | None = None

    @property
    def changed(self) -> bool:
        return self.current_spec != self.proposed_spec


def propose_update(
    state: NamespaceState, catalog: templates.Catalog, policy_name: str
) -> UpdateProposal:
    """The proposal for one policy, from the namespace's state (pure)."""
    policy = next((p for p in state.policies if p.name == policy_name), None)
    if policy is None or policy.controller is None or policy.template is None:
        raise errors.NotFound(
            f"{policy_name} is not a policy netfence made from a template in {state.name}"
        )
    template = catalog.templates.get(policy.template)
    if template is None:
        raise errors.NotFound(
            f"template {policy.template} no longer exists, so there is nothing to update to"
        )
    ref = policy.controller
    workload = next((w for w in state.workloads if w.ref == ref), None)
    if workload is None or workload.pod_selector is None:
        raise errors.NotFound(f"{ref} no longer exists in {state.name}")
    proposed = rendering.attachment_policy(workload, template)
    return UpdateProposal(
        policy=policy_name,
        controller=ref,
        template=template,
        version=rendering.version_of(template),
        current_spec=rendering.normalize_spec(policy.spec),
        proposed_spec=proposed["spec"],
    )


async def proposal(
    cluster: Cluster, namespace: str, policy: str, *, impact: bool = False
) -> UpdateProposal:
    state, stored = await asyncio.gather(
        existing(cluster.reader, namespace), cluster.reader.catalog()
    )
    found = propose_update(state, stored.catalog, policy)
    if not impact:
        return found
    effect = await connectivity.impact_of(
        cluster.reader,
        namespace,
        lambda inventory: connectivity.preview_policy_update(
            inventory, namespace, policy, found.proposed_spec
        ),
    )
    return dataclasses.replace(found, impact=effect)


async def update(cluster: Cluster, namespace: str, policy: str) -> UpdateProposal:
    """Ask the controller to re-render the policy from its template's current version."""
    found = await proposal(cluster, namespace, policy)
    await cluster.changes.request_refresh(
        namespace, found.controller, found.template.name, found.version
    )
    return found
