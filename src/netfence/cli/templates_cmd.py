"""`netfence templates ...`: the admin-curated catalog of policy templates."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from netfence.cli import output
from netfence.cli.context import Settings, out, run, settings
from netfence.cli.output import Format
from netfence.core import errors, templates
from netfence.kube import template_store

app = typer.Typer(
    help="List, show, apply, delete and export policy templates.", no_args_is_help=True
)

OutputOption = Annotated[Format, typer.Option("-o", "--output", help="table, json or yaml")]


def _opens(template: templates.Template) -> str:
    parts = []
    for direction, rules in (("in", template.ingress), ("out", template.egress)):
        ports: list[str] = []
        for rule in rules:
            for port in rule.get("ports") or []:
                number = str(port.get("port", "any"))
                if port.get("endPort"):
                    number += f"-{port['endPort']}"
                ports.append(f"{number}/{port.get('protocol', 'TCP')}")
            if not rule.get("ports"):
                ports.append("all ports")
        parts.append(f"{direction}: {', '.join(ports)}") if rules else None
    return "; ".join(parts)


def _summary(description: str) -> str:
    """The first sentence, on one line: tables stay readable, `show` has the rest."""
    text = " ".join(description.split())
    end = text.find(". ")
    return text if end == -1 else text[: end + 1]


@app.command("list")
def list_templates(ctx: typer.Context, output_format: OutputOption = Format.TABLE) -> None:
    """List templates with what they open; broken ones are shown with their errors."""
    run(_list(settings(ctx), output_format))


async def _list(s: Settings, fmt: Format) -> None:
    async with s.client() as client:
        stored = await template_store.load(client, namespace=s.netfence_namespace)
    catalog = stored.catalog
    if fmt is not Format.TABLE:
        output.emit_data(
            {
                "templates": [
                    {"name": t.name, **t.to_document()}
                    for t in sorted(catalog.templates.values(), key=lambda t: t.name)
                ],
                "invalid": [
                    {"name": name, "errors": [str(e) for e in broken.errors]}
                    for name, broken in sorted(catalog.broken.items())
                ],
            },
            fmt,
        )
        return
    rows = [
        [t.name, ", ".join(t.policy_types), _opens(t), _summary(t.description)]
        for t in sorted(catalog.templates.values(), key=lambda t: t.name)
    ]
    rows += [
        [name, "[red]invalid[/]", "; ".join(str(e) for e in broken.errors), ""]
        for name, broken in sorted(catalog.broken.items())
    ]
    if not rows:
        out.print("No templates. Add one with: netfence templates apply -f FILE")
        return
    out.print(output.table(None, ["NAME", "TYPES", "OPENS", "DESCRIPTION"], rows))


@app.command("show")
def show(ctx: typer.Context, name: str, output_format: OutputOption = Format.YAML) -> None:
    """Print one template."""
    run(_show(settings(ctx), name, output_format))


async def _show(s: Settings, name: str, fmt: Format) -> None:
    async with s.client() as client:
        stored = await template_store.load(client, namespace=s.netfence_namespace)
    if name in stored.catalog.broken:
        raise stored.catalog.broken[name]
    template = stored.catalog.templates.get(name)
    if template is None:
        known = ", ".join(sorted(stored.catalog.templates)) or "none"
        raise errors.NotFound(f"template {name} does not exist; known templates: {known}")
    document = {"name": template.name, **template.to_document()}
    if fmt is Format.JSON:
        print(json.dumps(document, indent=2))
    else:
        print(yaml.safe_dump(document, sort_keys=False), end="")


def _read_documents(path: Path, name: str | None) -> dict[str, str]:
    """Template documents from a file: each `{name, description, ingress, egress}`.

    Every document is validated here, before anything is written, so a file with one bad
    template writes none of them.
    """
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise errors.InvalidTemplate(
            str(path), [errors.FieldError("", f"not valid YAML: {e}")]
        ) from e
    if not documents:
        raise errors.InvalidTemplate(
            str(path), [errors.FieldError("", "the file holds no template")]
        )
    found: dict[str, str] = {}
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            raise errors.InvalidTemplate(
                str(path), [errors.FieldError(f"document[{index}]", "must be a mapping")]
            )
        body: dict[str, Any] = dict(document)
        doc_name = body.pop("name", None) or (name if len(documents) == 1 else None)
        if not isinstance(doc_name, str) or not doc_name:
            raise errors.InvalidTemplate(
                str(path),
                [
                    errors.FieldError(
                        f"document[{index}].name",
                        "is required",
                        "add `name: my-template` or pass --name",
                    )
                ],
            )
        text_out = yaml.safe_dump(body, sort_keys=False)
        templates.parse_template(doc_name, text_out)  # raises InvalidTemplate with field paths
        found[doc_name] = text_out
    return found


@app.command("apply")
def apply(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("-f", "--filename", help="YAML file, or - for stdin.")],
    name: Annotated[
        str | None, typer.Option(help="Name for a single document without one.")
    ] = None,
) -> None:
    """Create or update templates from a file, after validating every one of them."""
    run(_apply(settings(ctx), file, name))


async def _apply(s: Settings, file: Path, name: str | None) -> None:
    documents = _read_documents(file, name)
    async with s.client() as client:
        stored = await template_store.load(client, namespace=s.netfence_namespace)
        await template_store.put_many(
            client,
            namespace=s.netfence_namespace,
            documents=documents,
            resource_version=stored.resource_version,
        )
    for doc_name in documents:
        verb = "configured" if doc_name in stored.data else "created"
        out.print(f"template/{doc_name} {verb}")
    if any(doc_name in stored.data for doc_name in documents):
        out.print("[dim]Existing policies keep the version they were attached with.[/]")


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete a template; policies already made from it stay as they are."""
    run(_delete(settings(ctx), name))


async def _delete(s: Settings, name: str) -> None:
    async with s.client() as client:
        stored = await template_store.load(client, namespace=s.netfence_namespace)
        if name not in stored.data or stored.resource_version is None:
            raise errors.NotFound(f"template {name} does not exist")
        await template_store.remove(
            client,
            namespace=s.netfence_namespace,
            name=name,
            resource_version=stored.resource_version,
        )
    out.print(f"template/{name} deleted (policies made from it keep their snapshot)")


@app.command("export")
def export(ctx: typer.Context) -> None:
    """Print every template as YAML documents that `templates apply -f` reads back."""
    run(_export(settings(ctx)))


async def _export(s: Settings) -> None:
    async with s.client() as client:
        stored = await template_store.load(client, namespace=s.netfence_namespace)
    documents = [
        {"name": t.name, **t.to_document()}
        for t in sorted(stored.catalog.templates.values(), key=lambda t: t.name)
    ]
    print(yaml.safe_dump_all(documents, sort_keys=False), end="")
    for name, broken in sorted(stored.catalog.broken.items()):
        print(f"# skipped invalid template {name}: {broken}", file=sys.stderr)
