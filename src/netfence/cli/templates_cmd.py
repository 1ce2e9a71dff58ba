"""`netfence templates ...`: the admin-curated catalog of policy templates."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from netfence.cli import output
from netfence.cli.context import Settings, out, run, settings
from netfence.cli.output import Format
from netfence.core import template_files, templates
from netfence.usecases import templates as catalog_cases

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
    async with s.cluster() as cluster:
        found = await catalog_cases.listing(cluster, uses=False)
    catalog = found.stored.catalog
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
    async with s.cluster() as cluster:
        template = (await catalog_cases.show(cluster, name)).template
    document = {"name": template.name, **template.to_document()}
    if fmt is Format.JSON:
        print(json.dumps(document, indent=2))
    else:
        print(yaml.safe_dump(document, sort_keys=False), end="")


def _read_documents(path: Path, name: str | None) -> dict[str, str]:
    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    return template_files.read_documents(text, origin=str(path), name=name)


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
    async with s.cluster() as cluster:
        applied = await catalog_cases.apply(cluster, documents)
    for doc_name in documents:
        verb = "configured" if doc_name in applied.configured else "created"
        out.print(f"template/{doc_name} {verb}")
    if applied.configured:
        out.print("[dim]Existing policies keep the version they were attached with.[/]")


@app.command("delete")
def delete(ctx: typer.Context, name: str) -> None:
    """Delete a template; policies already made from it stay as they are."""
    run(_delete(settings(ctx), name))


async def _delete(s: Settings, name: str) -> None:
    async with s.cluster() as cluster:
        await catalog_cases.delete(cluster, name)
    out.print(f"template/{name} deleted (policies made from it keep their snapshot)")


@app.command("export")
def export(ctx: typer.Context) -> None:
    """Print every template as YAML documents that `templates apply -f` reads back."""
    run(_export(settings(ctx)))


async def _export(s: Settings) -> None:
    async with s.cluster() as cluster:
        stored = (await catalog_cases.listing(cluster, uses=False)).stored
    documents = [
        {"name": t.name, **t.to_document()}
        for t in sorted(stored.catalog.templates.values(), key=lambda t: t.name)
    ]
    print(yaml.safe_dump_all(documents, sort_keys=False), end="")
    for name, broken in sorted(stored.catalog.broken.items()):
        print(f"# skipped invalid template {name}: {broken}", file=sys.stderr)
