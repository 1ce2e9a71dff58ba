"""Options before or after the command, as kubectl takes them.

click reads a group's options only before its command, so `netfence controller
--kubeconfig PATH` would be refused. The root group puts the command line in click's
order first: connection options (wherever they are) before the command, and the
options of listings (`-n`, `-o`, `-l`, `-A`, `--no-headers`) given before the command
after it. Nothing else is moved, and nothing after `--`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer.core

# The root's options, which take a value.
ROOT_OPTIONS = frozenset({"--kubeconfig", "--context", "--netfence-namespace"})
# Commands' options that people also write before the command (`netfence -n shop policies`).
COMMAND_OPTIONS = frozenset({"-n", "--namespace", "-o", "--output", "-l", "--selector"})
COMMAND_FLAGS = frozenset({"-A", "--all-namespaces", "--no-headers"})


def _name(token: str) -> str:
    return token.split("=", 1)[0] if token.startswith("--") else token


def _attached(token: str) -> bool:
    """`--output=json` or `-ojson`: the value is in the token itself."""
    if token.startswith("--"):
        return "=" in token
    return len(token) > 2 and token[:2] in COMMAND_OPTIONS


def _subcommands(command: object) -> Mapping[str, object] | None:
    """A group's commands by name; None for a command that is not a group."""
    found = getattr(command, "commands", None)
    return found if isinstance(found, Mapping) else None


def normalize(args: Sequence[str], group: object) -> list[str]:
    """The same command line in the order click reads: root options, the command path, the
    options written before it, then the rest."""
    front: list[str] = []
    early: list[str] = []
    path: list[str] = []
    rest: list[str] = []
    current: object = group
    tokens = list(args)
    index = 0
    while index < len(tokens):
        word = tokens[index]
        if word == "--":
            rest.extend(tokens[index:])
            break
        name = _name(word)
        short = word[:2] if not word.startswith("--") else word
        if name in ROOT_OPTIONS:
            take = 1 if _attached(word) else 2
            front.extend(tokens[index : index + take])
            index += take
            continue
        if not path or _subcommands(current) is not None:
            if name in COMMAND_OPTIONS or short in COMMAND_OPTIONS:
                take = 1 if _attached(word) else 2
                early.extend(tokens[index : index + take])
                index += take
                continue
            if name in COMMAND_FLAGS:
                early.append(word)
                index += 1
                continue
        commands = _subcommands(current)
        if commands is not None and not word.startswith("-"):
            current = commands.get(word)
            path.append(word)
        elif not path:
            front.append(word)  # --help, --install-completion, ...
        else:
            rest.append(word)
        index += 1
    return [*front, *path, *early, *rest]


class RootGroup(typer.core.TyperGroup):
    """The `netfence` group, reading options wherever kubectl would."""

    # `Any`: typer's vendored click Context, which typer does not export.
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, normalize(args, self))
