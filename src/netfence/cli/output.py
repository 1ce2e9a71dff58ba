"""Printing as kubectl does: aligned tables for people, `-o wide|name|json|yaml|jsonpath=`
for scripts, one document style for every command (docs/cli.md).

Tables are plain columns separated by three spaces, never wrapped and without trailing
spaces, whether or not stdout is a terminal; colour only on a terminal. Documents carry
`apiVersion: netfence.io/v1` and a `kind`, with camelCase keys like the Kubernetes API.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import typer
import yaml
from rich.cells import cell_len
from rich.text import Text

from netfence.cli import jsonpaths
from netfence.cli.context import EXIT_USAGE, err, out

API_VERSION = "netfence.io/v1"
NONE = "<none>"


class Format(enum.StrEnum):
    TABLE = "table"
    WIDE = "wide"
    NAME = "name"
    JSON = "json"
    YAML = "yaml"
    JSONPATH = "jsonpath"


@dataclass(frozen=True, slots=True)
class Output:
    """What `-o` asked for; `template` is the jsonpath template of `-o jsonpath=...`."""

    format: Format = Format.TABLE
    template: str = ""

    @property
    def is_document(self) -> bool:
        return self.format in (Format.JSON, Format.YAML, Format.JSONPATH)

    @property
    def is_table(self) -> bool:
        return self.format in (Format.TABLE, Format.WIDE)

    def allow(self, command: str, *formats: Format) -> Output:
        """Refuse, as a usage error, a format this command does not print."""
        if self.format is Format.TABLE or self.format in formats:
            return self
        names = ", ".join(f.value + ("=TEMPLATE" if f is Format.JSONPATH else "") for f in formats)
        err.print(
            Text(f"error: {command} cannot print -o {self.format.value}; it prints: {names}"),
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE)


DOCUMENTS = (Format.JSON, Format.YAML, Format.JSONPATH)
LISTINGS = (Format.WIDE, Format.NAME, *DOCUMENTS)


def parse(text: str | Output) -> Output:
    """`-o` as kubectl reads it: wide, name, json, yaml, jsonpath=TEMPLATE (or table)."""
    if isinstance(text, Output):
        return text  # the default
    name, _, template = text.partition("=")
    try:
        found = Format(name.strip().lower())
    except ValueError:
        known = ", ".join(f.value for f in Format if f is not Format.JSONPATH)
        raise typer.BadParameter(
            f"unknown output format {text!r}; use one of {known}, jsonpath=TEMPLATE"
        ) from None
    if found is Format.JSONPATH:
        if not template:
            raise typer.BadParameter(
                "jsonpath needs a template, e.g. -o jsonpath='{.items[*].name}'"
            )
        try:
            jsonpaths.compile_template(template)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
    elif template:
        raise typer.BadParameter(f"-o {found.value} takes no template")
    return Output(found, template)


# --- documents ---------------------------------------------------------------------------


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def plain(value: Any) -> Any:
    """A dataclass as a document: its field names camelCased, recursively. Mappings inside
    (labels, template bodies) are data and keep their keys."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {camel(f.name): plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def document(kind: str, **fields: Any) -> dict[str, Any]:
    """`{apiVersion, kind, ...fields}`, field names camelCased."""
    return {"apiVersion": API_VERSION, "kind": kind, **{camel(k): v for k, v in fields.items()}}


def listing(kind: str, items: Iterable[Any], **fields: Any) -> dict[str, Any]:
    return document(f"{kind}List", items=[plain(i) for i in items], **fields)


def emit(data: Mapping[str, Any], output: Output) -> None:
    if output.format is Format.JSON:
        # As kubectl: indented, never coloured, so it pipes into jq as it reads.
        sys.stdout.write(json.dumps(data, indent=4, ensure_ascii=False) + "\n")
    elif output.format is Format.JSONPATH:
        sys.stdout.write(jsonpaths.render(output.template, data))
    else:
        sys.stdout.write(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True))
    sys.stdout.flush()


def emit_names(names: Iterable[str]) -> None:
    for name in names:
        sys.stdout.write(name + "\n")


# --- tables ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    # Shown with -o wide only.
    wide: bool = False


# A cell is its text, or its text and a rich style (colour on a terminal only).
Cell = str | tuple[str, str]


def _cell(cell: Cell) -> tuple[str, str]:
    text, style = cell if isinstance(cell, tuple) else (cell, "")
    return " ".join(text.split()) or NONE, style


def table_lines(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    *,
    wide: bool = False,
    headers: bool = True,
) -> list[Text]:
    """Aligned lines: columns padded to their widest cell, three spaces apart, the last
    column unpadded; a cell's newlines and tabs become spaces, so a row is one line."""
    shown = [i for i, c in enumerate(columns) if wide or not c.wide]
    grid: list[list[tuple[str, str]]] = []
    if headers:
        grid.append([(columns[i].header, "bold") for i in shown])
    for row in rows:
        grid.append([_cell(row[i]) for i in shown])
    widths = [max((cell_len(r[i][0]) for r in grid), default=0) for i in range(len(shown))]
    lines = []
    for row in grid:
        line = Text()
        for index, (text, style) in enumerate(row):
            last = index == len(row) - 1
            line.append(text, style=style or None)
            if not last:
                line.append(" " * (widths[index] - cell_len(text) + 3))
        line.rstrip()
        lines.append(line)
    return lines


def print_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Cell]],
    output: Output,
    *,
    headers: bool = True,
    empty: str = "No resources found.",
) -> None:
    """The table, or (like kubectl) a note on stderr when there is nothing to list."""
    if not rows:
        err.print(Text(empty), highlight=False)
        return
    for line in table_lines(columns, rows, wide=output.format is Format.WIDE, headers=headers):
        out.print(line, highlight=False)


def age(created: str | None, now: datetime.datetime | None = None) -> str:
    """kubectl's AGE (apimachinery's HumanDuration): 45s, 5m20s, 3h, 12d, 2y30d."""
    if not created:
        return NONE
    try:
        then = datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return NONE
    now = now or datetime.datetime.now(datetime.UTC)
    seconds = int((now - then).total_seconds())
    if seconds < -1:
        return "<invalid>"
    seconds = max(seconds, 0)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    years = days // 365
    if years < 8:
        return f"{years}y{days % 365}d" if days % 365 else f"{years}y"
    return f"{years}y"


def yes_no(value: bool) -> str:
    return "yes" if value else "no"
