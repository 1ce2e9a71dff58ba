"""The options commands share, spelled as kubectl spells them."""

from __future__ import annotations

from typing import Annotated

import typer

from netfence.cli import completion, output
from netfence.core import selectors


def _selector(text: str) -> selectors.Selector:
    try:
        return selectors.parse_query(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e


OutputOption = Annotated[
    output.Output,
    typer.Option(
        "-o",
        "--output",
        parser=output.parse,
        metavar="FORMAT",
        help="wide, name, json, yaml or jsonpath=TEMPLATE (default: a table).",
        show_default=False,
    ),
]
DocumentOutputOption = Annotated[
    output.Output,
    typer.Option(
        "-o",
        "--output",
        parser=output.parse,
        metavar="FORMAT",
        help="json, yaml or jsonpath=TEMPLATE (default: text for people).",
        show_default=False,
    ),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "-n",
        "--namespace",
        help="The namespace (default: the kubeconfig context's).",
        autocompletion=completion.namespaces,
        show_default=False,
    ),
]
AllNamespacesOption = Annotated[
    bool, typer.Option("-A", "--all-namespaces", help="Every namespace you may read.")
]
SelectorOption = Annotated[
    selectors.Selector | None,
    typer.Option(
        "-l",
        "--selector",
        parser=_selector,
        metavar="SELECTOR",
        help="Only objects whose labels match, e.g. -l 'team=a,env in (prod,staging)'.",
        show_default=False,
    ),
]
NoHeadersOption = Annotated[bool, typer.Option("--no-headers", help="Print no header row.")]
NamespaceArg = Annotated[
    str,
    typer.Argument(help="The namespace.", show_default=False, autocompletion=completion.namespaces),
]
TemplateArg = Annotated[
    str,
    typer.Argument(help="The template name.", autocompletion=completion.templates),
]

TABLE = output.Output()
