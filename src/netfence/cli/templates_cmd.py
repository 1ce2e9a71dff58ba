"""`netfence templates ...`: the admin-curated catalog of policy templates."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.text import Text

from netfence.cli import output
from netfence.cli.context import Settings, err, out, run, settings
from netfence.cli.options import (
    TABLE,
    NoHeadersOption,
    OutputOption,
    TemplateArg,
)
from netfence.cli.output import DOCUMENTS, LISTINGS, Column, Format, Output
from netfence.core import template_files, templates
from netfence.usecases import templates as catalog_cases

app = typer.Typer(
    help="List, show, apply, delete and export policy templates.", no_args_is_help=True
)

YAML = Output(Format.YAML)
COLUMNS = (
    Column("NAME"),
    Column("TYPES"),
    Column("OPENS"),
    Column("DESCRIPTION"),
    Column("USED-BY", wide=True),
)


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
                ports.append("all-ports")
        if rules:
            parts.append(f"{direction}:{','.join(ports)}")
    return ";".join(parts)


def _summary(description: str) -> str:
    """The first sentence, on one line: tables stay readable, `show` has the rest."""
    text = " ".join(description.split())
    end = text.find(". ")
    return text if end == -1 else text[: end + 1]


def _document(template: templates.Template) -> dict[str, Any]:
    """A template as `show`, `export` and `-o yaml` write it, and `apply -f` reads it."""
    return {
        "apiVersion": template_files.API_VERSION,
        "kind": template_files.KIND,
        "name": template.name,
        **template.to_document(),
    }


@app.command("list")
def list_templates(
    ctx: typer.Context, output_format: OutputOption = TABLE, no_headers: NoHeadersOption = False
) -> None:
    """List templates with what they open; broken ones are shown with their errors."""
    fmt = output_format.allow("templates list", *LISTINGS)
    run(_list(settings(ctx), fmt, no_headers))


async def _list(s: Settings, fmt: Output, bare: bool) -> None:
    async with s.cluster() as cluster:
        found = await catalog_cases.listing(cluster, uses=fmt.format is Format.WIDE)
    if fmt.is_document:
        document = output.document(
            "TemplateList",
            items=[_document(t) for t in found.templates],
            invalid=[
                {"name": name, "errors": [str(e) for e in broken.errors]}
                for name, broken in found.broken
            ],
        )
        output.emit(document, fmt)
        return
    if fmt.format is Format.NAME:
        output.emit_names(f"template/{t.name}" for t in found.templates)
        return
    uses = found.uses
    rows: list[list[output.Cell]] = [
        [
            t.name,
            ",".join(t.policy_types),
            _opens(t),
            _summary(t.description),
            "?" if uses is None else str(len(uses.get(t.name, []))),
        ]
        for t in found.templates
    ]
    rows += [
        [name, ("invalid", "red"), "; ".join(str(e) for e in broken.errors), "", ""]
        for name, broken in found.broken
    ]
    output.print_table(
        COLUMNS,
        rows,
        fmt,
        headers=not bare,
        empty="No templates. Add one with: netfence templates apply -f FILE",
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: TemplateArg,
    output_format: Annotated[
        Output,
        typer.Option(
            "-o",
            "--output",
            parser=output.parse,
            metavar="FORMAT",
            help="yaml (the default), json or jsonpath=TEMPLATE.",
            show_default=False,
        ),
    ] = YAML,
) -> None:
    """Print one template (YAML that `templates apply -f` reads back)."""
    fmt = output_format.allow("templates show", *DOCUMENTS)
    run(_show(settings(ctx), name, fmt))


async def _show(s: Settings, name: str, fmt: Output) -> None:
    async with s.cluster() as cluster:
        template = (await catalog_cases.show(cluster, name)).template
    output.emit(_document(template), fmt)


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
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show what would change; write nothing.")
    ] = False,
    output_format: Annotated[
        Output,
        typer.Option(
            "-o",
            "--output",
            parser=output.parse,
            metavar="FORMAT",
            help="name, json or yaml.",
            show_default=False,
        ),
    ] = TABLE,
) -> None:
    """Create or update templates from a file, after validating every one of them."""
    fmt = output_format.allow("templates apply", Format.NAME, *DOCUMENTS)
    if str(file) != "-" and not file.is_file():
        err.print(Text(f"error: cannot read {file}: no such file"), highlight=False)
        raise typer.Exit(1)
    run(_apply(settings(ctx), file, name, dry_run, fmt))


async def _apply(s: Settings, file: Path, name: str | None, dry_run: bool, fmt: Output) -> None:
    documents = _read_documents(file, name)
    async with s.cluster() as cluster:
        applied = await catalog_cases.apply(cluster, documents, dry_run=dry_run)
    if fmt.is_document:
        output.emit(
            output.document(
                "TemplateApplyResult",
                dry_run=dry_run,
                created=applied.created,
                configured=applied.configured,
            ),
            fmt,
        )
        return
    suffix = " (dry run)" if dry_run else ""
    for doc_name in documents:
        if fmt.format is Format.NAME:
            out.print(Text(f"template/{doc_name}"), highlight=False)
            continue
        verb = "configured" if doc_name in applied.configured else "created"
        out.print(Text(f"template/{doc_name} {verb}{suffix}"), highlight=False)
    if applied.configured and fmt.format is not Format.NAME:
        out.print("[dim]Existing policies keep the version they were attached with.[/]")


@app.command("delete")
def delete(ctx: typer.Context, name: TemplateArg) -> None:
    """Delete a template; policies already made from it stay as they are."""
    run(_delete(settings(ctx), name))


async def _delete(s: Settings, name: str) -> None:
    async with s.cluster() as cluster:
        await catalog_cases.delete(cluster, name)
    out.print(
        Text(f"template/{name} deleted (policies made from it keep their snapshot)"),
        highlight=False,
    )


@app.command("export")
def export(ctx: typer.Context) -> None:
    """Print every template as YAML documents that `templates apply -f` reads back."""
    run(_export(settings(ctx)))


async def _export(s: Settings) -> None:
    async with s.cluster() as cluster:
        stored = (await catalog_cases.listing(cluster, uses=False)).stored
    documents = [
        _document(t) for t in sorted(stored.catalog.templates.values(), key=lambda t: t.name)
    ]
    sys.stdout.write(yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True))
    for name, broken in sorted(stored.catalog.broken.items()):
        print(f"# skipped invalid template {name}: {broken}", file=sys.stderr)
