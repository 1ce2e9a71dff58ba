"""Use cases of the template catalog: list, show, apply, delete, export, validate.

All templates live in one ConfigMap; every write carries the catalog version it was based
on, so a concurrent edit fails with Conflict instead of overwriting someone's change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from netfence.core import errors, suggestions, templates
from netfence.core.objects import Policy
from netfence.usecases import permissions
from netfence.usecases.ports import Cluster, StoredCatalog


@dataclass(frozen=True, slots=True)
class Listing:
    stored: StoredCatalog
    # Policies made from each template, or None when the caller may not list them.
    uses: dict[str, list[Policy]] | None
    can_edit: bool

    @property
    def templates(self) -> list[templates.Template]:
        return sorted(self.stored.catalog.templates.values(), key=lambda t: t.name)

    @property
    def broken(self) -> list[tuple[str, errors.InvalidTemplate]]:
        return sorted(self.stored.catalog.broken.items())


def _by_template(policies: list[Policy] | None) -> dict[str, list[Policy]] | None:
    if policies is None:
        return None
    found: dict[str, list[Policy]] = {}
    for policy in policies:
        if policy.template is not None:
            found.setdefault(policy.template, []).append(policy)
    return found


async def listing(cluster: Cluster, *, uses: bool = True) -> Listing:
    stored, used, allowed = await asyncio.gather(
        cluster.reader.catalog(),
        cluster.reader.attachment_policies() if uses else _nothing(),
        cluster.authorizer.can(permissions.edit_templates(cluster.netfence_namespace)),
    )
    return Listing(stored, _by_template(used), allowed)


async def _nothing() -> None:
    return None


def find(catalog: templates.Catalog, name: str) -> templates.Template:
    """The template; InvalidTemplate when it is broken, NotFound (with the known ones)."""
    if name in catalog.broken:
        raise catalog.broken[name]
    template = catalog.templates.get(name)
    if template is None:
        raise errors.NotFound(unknown_template(catalog, name))
    return template


def unknown_template(catalog: templates.Catalog, name: str) -> str:
    """`template htp does not exist; did you mean http? known templates: ...`"""
    known = sorted(catalog.templates)
    hint = suggestions.did_you_mean(name, known)
    listed = ", ".join(known) or "none"
    return f"template {name} does not exist{hint or ';'} known templates: {listed}"


@dataclass(frozen=True, slots=True)
class Shown:
    template: templates.Template
    uses: list[Policy] | None


async def show(cluster: Cluster, name: str, *, uses: bool = False) -> Shown:
    template = find((await cluster.reader.catalog()).catalog, name)
    if not uses:
        return Shown(template, None)
    found = _by_template(await cluster.reader.attachment_policies(name))
    return Shown(template, None if found is None else found.get(name, []))


@dataclass(frozen=True, slots=True)
class Applied:
    templates: list[templates.Template]
    created: list[str]
    configured: list[str]


async def apply(
    cluster: Cluster,
    documents: Mapping[str, str],
    *,
    resource_version: str | None = None,
    dry_run: bool = False,
) -> Applied:
    """Validate every template, then write them all in one request, or none of them.

    `resource_version` is the catalog version the caller read (the editor's, say); without
    one, the version read here guards the write. A dry run validates and reads, and says
    what would be created and configured, writing nothing.
    """
    parsed = [templates.parse_template(name, text) for name, text in documents.items()]
    stored = await cluster.reader.current_catalog()
    if dry_run:
        return Applied(
            templates=parsed,
            created=[n for n in documents if n not in stored.data],
            configured=[n for n in documents if n in stored.data],
        )
    version = resource_version if resource_version is not None else stored.resource_version
    if version is None:
        try:
            await cluster.changes.create_catalog(dict(documents))
        except errors.Conflict as e:
            raise errors.Conflict(
                "the template catalog was created by someone else meanwhile; nothing was "
                "written — apply again"
            ) from e
    else:
        await cluster.changes.patch_catalog(dict(documents), resource_version=version)
    return Applied(
        templates=parsed,
        created=[n for n in documents if n not in stored.data],
        configured=[n for n in documents if n in stored.data],
    )


async def delete(cluster: Cluster, name: str, *, resource_version: str | None = None) -> None:
    """Delete a template; policies made from it keep their snapshot."""
    stored = await cluster.reader.current_catalog()
    if name not in stored.data or stored.resource_version is None:
        raise errors.NotFound(unknown_template(stored.catalog, name))
    await cluster.changes.patch_catalog(
        {name: None}, resource_version=resource_version or stored.resource_version
    )


def validate(name: str, text: str) -> errors.InvalidTemplate | None:
    """The problems of a draft, by the same rules as saving it; None when it is valid."""
    try:
        templates.parse_template(name, text)
    except errors.InvalidTemplate as e:
        return e
    return None
