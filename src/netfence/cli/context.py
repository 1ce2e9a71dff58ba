"""Options every command shares, and the one place that turns errors into exit codes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from lightkube import AsyncClient
from lightkube.core.exceptions import ConfigError
from rich.console import Console
from rich.text import Text

from netfence.core import errors
from netfence.kube import connecting

T = TypeVar("T")

out = Console()
err = Console(stderr=True)

EXIT_CODES: dict[type[Exception], int] = {
    errors.InvalidTemplate: 2,
    errors.Refused: 2,
    errors.Rejected: 2,
    errors.AccessDenied: 3,
    errors.NotFound: 4,
    errors.Conflict: 5,
}


@dataclass(frozen=True, slots=True)
class Settings:
    kubeconfig: Path | None
    context: str | None
    netfence_namespace: str

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[AsyncClient]:
        try:
            client = connecting.client_for(self.kubeconfig, context=self.context)
        except ConfigError as e:
            raise errors.ClusterError(
                f"cannot load a kubeconfig ({e}); pass --kubeconfig PATH or set KUBECONFIG"
            ) from e
        try:
            yield client
        finally:
            await client.close()


def settings(ctx: typer.Context) -> Settings:
    value = ctx.find_root().obj
    assert isinstance(value, Settings)
    return value


def report(message: str) -> None:
    """One error line on stderr; the message is printed as text, never as markup."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    report(message)
    raise typer.Exit(code)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; domain errors become a message and an exit code."""
    try:
        return asyncio.run(coroutine)
    except errors.InvalidTemplate as e:
        report(f"template {e.template!r} is invalid:")
        for problem in e.errors:
            err.print(Text(f"  - {problem}"), highlight=False)
        raise typer.Exit(2) from e
    except errors.NetfenceError as e:
        code = next((c for t, c in EXIT_CODES.items() if isinstance(e, t)), 1)
        report(str(e))
        raise typer.Exit(code) from e
    except ValueError as e:
        report(str(e))
        raise typer.Exit(2) from e
