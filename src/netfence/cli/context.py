"""Options every command shares, the runtime the composition root provides, and the one
place that turns errors into exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from netfence.core import errors, labs
from netfence.usecases.ports import Cluster

T = TypeVar("T")

out = Console()
err = Console(stderr=True)

EXIT_CODES: dict[type[Exception], int] = {
    errors.InvalidTemplate: 2,
    errors.Refused: 2,
    errors.Rejected: 2,
    errors.AccessDenied: 3,
    errors.Unauthenticated: 3,
    errors.NotFound: 4,
    errors.Conflict: 5,
}


@dataclass(frozen=True, slots=True)
class ServeOptions:
    host: str
    port: int
    auth: str
    controller: bool
    secure_cookies: bool
    # Host names the console answers besides loopback and `host` (local mode), or instead
    # of any name (token mode).
    allowed_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    workers: int
    # How long a Lease is held without renewal, and how often the leader renews it.
    lease_seconds: int
    renew_seconds: float


@dataclass(frozen=True, slots=True)
class LabSummary:
    """What `lab up` made on the local cluster."""

    plan: labs.LabPlan
    pods: int
    seconds: float
    node: str
    pod_cidr: str
    kubeconfig: Path


class Runtime(Protocol):
    """What commands need from outside the entry point; the composition root provides it."""

    def cluster(self, target: Settings) -> AbstractAsyncContextManager[Cluster]:
        """The ports of the cluster `target` names, acting with the kubeconfig's user."""
        ...

    async def run_controller(self, target: Settings, options: ControllerOptions) -> None: ...

    async def serve(self, target: Settings, options: ServeOptions) -> None: ...

    def start_local_cluster(self, directory: Path) -> Path:
        """Build (once) and start the local control plane; its admin kubeconfig."""
        ...

    async def seed_demo(self, kubeconfig: Path) -> int: ...

    async def serve_demo(self, kubeconfig: Path, port: int) -> None: ...

    def lab_up(self, directory: Path, documents: list[object]) -> LabSummary:
        """Load exported manifests onto the local control plane of `directory`."""
        ...

    def lab_down(self, directory: Path) -> int:
        """Remove the lab from the local control plane of `directory`; objects removed."""
        ...


@dataclass(frozen=True, slots=True)
class Settings:
    kubeconfig: Path | None
    context: str | None
    netfence_namespace: str
    runtime: Runtime

    def cluster(self) -> AbstractAsyncContextManager[Cluster]:
        return self.runtime.cluster(self)


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
