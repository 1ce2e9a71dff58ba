"""Shape checking of untyped documents (parsed YAML or JSON), with precise field paths.

Input is parsed YAML of any shape, so a wrong type is reported, never raised: each helper
appends a `FieldError` to the caller's list and returns what it could read (or None), so
the caller goes on and a user sees every problem at once. Unknown fields are errors with
a "did you mean" fix, and ``null`` is reported where a list or a mapping belongs, since
``key:`` with nothing after it rarely means "absent" to the person who wrote it.

What the fields mean is the callers' business (`validation` for NetworkPolicy rules,
`templates` and `manifests` for whole documents). Purely computational, no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from netfence.core import errors


def describe(value: object) -> str:
    """The YAML kind of a parsed value, for messages such as 'must be a list, got a string'."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    # YAML also yields dates, timestamps and bytes (!!binary).
    return f"a {type(value).__name__}"


def child(path: str, name: str) -> str:
    """The path of field ``name`` inside ``path`` (``ingress[0]`` -> ``ingress[0].from``)."""
    return f"{path}.{name}" if path else name


def too_deep(value: object, path: str, *, limit: int, fix: str) -> errors.FieldError | None:
    """An error at the first list or mapping nested more than ``limit`` deep in ``value``.

    Iterative, so a document of any depth is measured without recursion (and a cyclic one
    ends at the limit): everything that walks documents recursively runs only after this.
    """
    stack: list[tuple[object, str, int]] = [(value, path, 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, Mapping):
            children: list[tuple[object, str]] = [
                (v, child(where, str(k))) for k, v in item.items()
            ]
        elif isinstance(item, list):
            children = [(v, f"{where}[{index}]") for index, v in enumerate(item)]
        else:
            continue
        if depth > limit:
            return errors.FieldError(where, nesting_message(limit), fix)
        # Reversed, so the first deep entry in document order is the one reported.
        stack.extend((v, p, depth + 1) for v, p in reversed(children))
    return None


def nesting_message(limit: int, where: str = "") -> str:
    """The message for lists and mappings nested more than ``limit`` deep (``where``: a
    place such as ' at line 3, column 9')."""
    return f"nested more than {limit} levels deep{where}"


def unknown_fields(
    mapping: Mapping[object, object],
    path: str,
    allowed: Sequence[str],
    *,
    hints: Mapping[str, str] | None = None,
) -> list[errors.FieldError]:
    """An error for each key of ``mapping`` not in ``allowed``, naming the allowed ones.

    ``hints`` maps a known mistake to its fix; otherwise the fix is the closest allowed
    name, so ``podSelecter`` gets "did you mean 'podSelector'?".
    """
    found = []
    for key in mapping:
        if isinstance(key, str) and key in allowed:
            continue
        name = str(key)
        fix = (hints or {}).get(name) or _did_you_mean(name, allowed)
        message = f"unknown field {name!r}; allowed here: {', '.join(allowed)}"
        found.append(errors.FieldError(child(path, name), message, fix))
    return found


def as_list(
    value: object, path: str, found: list[errors.FieldError], *, null_fix: str
) -> list[object] | None:
    """``value`` if it is a list; otherwise None, with the error and a fix reported.

    ``null_fix`` is the fix for ``null``: what an empty key should be written as depends
    on what the list holds.
    """
    if isinstance(value, list):
        return value
    if value is None:
        found.append(errors.FieldError(path, "is empty (null)", null_fix))
    elif isinstance(value, Mapping):
        found.append(
            errors.FieldError(
                path,
                "must be a list, got a mapping",
                "start each entry with '- ' (a dash and a space)",
            )
        )
    else:
        found.append(
            errors.FieldError(
                path,
                f"must be a list, got {describe(value)}",
                f"write it as a list: [{_as_yaml_text(value)}]",
            )
        )
    return None


def as_mapping(
    value: object,
    path: str,
    found: list[errors.FieldError],
    *,
    allowed: Sequence[str],
    null_fix: str,
    hints: Mapping[str, str] | None = None,
    type_fix: str | None = None,
) -> dict[str, object] | None:
    """The known fields of ``value``; unknown ones and a wrong type are reported."""
    if value is None:
        found.append(errors.FieldError(path, "is empty (null)", null_fix))
        return None
    if not isinstance(value, Mapping):
        if type_fix is None and isinstance(value, list) and len(value) == 1:
            type_fix = "remove the '- ': this is a single mapping, not a list"
        found.append(errors.FieldError(path, f"must be a mapping, got {describe(value)}", type_fix))
        return None
    found.extend(unknown_fields(value, path, allowed, hints=hints))
    return {key: item for key, item in value.items() if isinstance(key, str) and key in allowed}


def quote_fix(value: object) -> str:
    """The fix for a value that YAML read as a non-string where text belongs."""
    # YAML reads unquoted 1, true, yes, 2024-01-01 as non-strings, but labels are text.
    if isinstance(value, bool):
        # `yes`, `on` and `true` all arrive as True: the original spelling is lost.
        return "quote it as written: YAML reads unquoted yes/no, on/off, true/false as booleans"
    return f"quote it: '{_as_yaml_text(value)}'"


def _did_you_mean(name: str, allowed: Sequence[str]) -> str | None:
    folded = {option.lower(): option for option in allowed}
    match = folded.get(name.lower())
    if match is None:
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        match = close[0] if close else None
    return f"did you mean {match!r}?" if match else None


def _as_yaml_text(value: object) -> str:
    # How the value was most likely written in YAML, for "quote it" fixes.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)
