"""Tables for people, JSON and YAML for scripts."""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from typing import Any

import yaml
from rich.table import Table

from netfence.cli.context import out


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


def emit_data(data: Any, fmt: Format) -> None:
    if fmt is Format.JSON:
        out.print_json(json.dumps(data))
    else:
        print(yaml.safe_dump(data, sort_keys=False), end="")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    result = Table(title=title, title_justify="left", header_style="bold", box=None, pad_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result


def yes_no(value: bool) -> str:
    return "yes" if value else "no"
