"""`-o jsonpath=TEMPLATE` as kubectl reads it, with jsonpath-ng evaluating the paths.

A template is text with `{...}` blocks: `{.items[*].name}` (a path; several matches are
joined by spaces), `{"\\n"}` (a literal), `{range .items[*]}...{end}` (the inner template
once per match, its paths relative to the match). Filters work as in kubectl:
`{.items[?(@.managed==true)].name}`. A path that matches nothing prints nothing, as
kubectl does by default (--allow-missing-template-keys).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonpath_ng import JSONPath
from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext.parser import parse as parse_path

_BLOCK = re.compile(r"\{((?:\"(?:[^\"\\]|\\.)*\"|[^{}\"])*)\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


@dataclass(frozen=True, slots=True)
class _Text:
    text: str


@dataclass(frozen=True, slots=True)
class _Path:
    path: JSONPath


@dataclass(frozen=True, slots=True)
class _Range:
    path: JSONPath
    body: tuple[_Node, ...]


_Node = _Text | _Path | _Range


def _path(expression: str) -> JSONPath:
    text = expression.strip()
    if text in ("", "@", "$"):
        text = "$"
    elif text.startswith(("@.", "@[")):
        text = "$" + text[1:]
    elif text.startswith((".", "[")):
        text = "$" + text
    try:
        return parse_path(text)
    except (JsonPathLexerError, JsonPathParserError) as e:
        raise ValueError(f"cannot read the jsonpath {{{expression}}}: {e}") from e
    except Exception as e:
        raise ValueError(f"cannot read the jsonpath {{{expression}}}: {e}") from e


def _literal(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), body)


@functools.lru_cache(maxsize=32)
def compile_template(template: str) -> tuple[_Node, ...]:
    """The template's nodes; ValueError for an unreadable path or an unclosed range."""
    stack: list[tuple[JSONPath | None, list[_Node]]] = [(None, [])]
    position = 0
    for block in _BLOCK.finditer(template):
        if block.start() > position:
            stack[-1][1].append(_Text(template[position : block.start()]))
        position = block.end()
        inner = block[1].strip()
        if inner.startswith('"') and inner.endswith('"') and len(inner) >= 2:
            stack[-1][1].append(_Text(_literal(inner)))
        elif inner.startswith("range ") or inner == "range":
            stack.append((_path(inner[len("range") :]), []))
        elif inner == "end":
            if len(stack) == 1:
                raise ValueError("the jsonpath template has {end} without {range ...}")
            path, body = stack.pop()
            assert path is not None
            stack[-1][1].append(_Range(path, tuple(body)))
        else:
            stack[-1][1].append(_Path(_path(inner)))
    rest = template[position:]
    if "{" in rest or "}" in rest:
        raise ValueError(f"the jsonpath template has an unmatched brace near {rest!r}")
    if rest:
        stack[-1][1].append(_Text(rest))
    if len(stack) != 1:
        raise ValueError("the jsonpath template has {range ...} without {end}")
    return tuple(stack[0][1])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)


def _render(nodes: tuple[_Node, ...], data: Any) -> str:
    parts: list[str] = []
    for node in nodes:
        if isinstance(node, _Text):
            parts.append(node.text)
        elif isinstance(node, _Path):
            parts.append(" ".join(_text(m.value) for m in node.path.find(data)))
        else:
            parts.extend(_render(node.body, m.value) for m in node.path.find(data))
    return "".join(parts)


def render(template: str, data: Any) -> str:
    """The template filled from `data` (kubectl prints no newline unless asked)."""
    return _render(compile_template(template), data)
