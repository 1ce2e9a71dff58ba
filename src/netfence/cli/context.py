"""Options every command shares, the runtime the composition root provides, and the one
place that turns errors into exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
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

# soft_wrap: a line is never broken at the terminal's (or, piped, at 80) columns.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

# Exit codes (docs/cli.md): as kubectl, 0 and 1; 2 for a command line that cannot be read
# (nothing was sent; click's and most Unix tools' convention); 3 when a command that
# looks for problems found some (`check --fail-on-findings`), so a script can tell "the
# cluster has pitfalls" from "the check could not run".
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FINDINGS = 3


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
    # The controller's /metrics and /healthz, /readyz (see ControllerOptions).
    metrics_address: str | None = None
    health_address: str | None = None
    # How the controller's own process logs (it runs beside the server, not inside it).
    log_level: str = "INFO"
    log_format: str = "text"
    # Views from the shared watch cache (else read with each caller's credentials).
    watch_cache: bool = True
    # The kubeconfig contexts the console serves (--contexts); empty: see `serve --help`.
    contexts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    workers: int
    # How long a Lease is held without renewal, and how often the leader renews it.
    lease_seconds: int
    renew_seconds: float
    # HOST:PORT for /metrics (None: 127.0.0.1:9090, skipped with a warning when taken;
    # "0": none) and for /healthz and /readyz (None: the same listener as the metrics).
    metrics_address: str | None = None
    health_address: str | None = None


class DemoOutcome(Protocol):
    """One connection of the demo application and what a fresh connection met."""

    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def protocol(self) -> str: ...
    @property
    def allowed(self) -> bool: ...
    @property
    def purpose(self) -> str: ...
    @property
    def observed(self) -> str: ...
    @property
    def as_intended(self) -> bool: ...


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

    def namespace(self, target: Settings) -> str:
        """The namespace of the kubeconfig's context (`default` when it names none)."""
        ...

    def contexts(self, kubeconfig: Path | None) -> list[str]:
        """The kubeconfig's context names (for completion)."""
        ...

    def start_local_cluster(self, directory: Path) -> Path:
        """Build (once) and start the local cluster (control plane, and the dataplane where
        the machine can run it); its admin kubeconfig."""
        ...

    async def seed_demo(self, kubeconfig: Path) -> int: ...

    async def prove_demo(self, kubeconfig: Path, directory: Path) -> Sequence[DemoOutcome] | None:
        """The demo application's connections, opened for real once it runs as intended
        (or a timeout passed); None where no dataplane runs."""
        ...

    async def start_second_cluster(self, directory: Path) -> Path:
        """Start the demo's second cluster (control plane only) beside the first, with its
        application; a kubeconfig naming both clusters, the first current."""
        ...

    async def serve_demo(self, kubeconfig: Path, port: int, clusters: Path | None = None) -> None:
        """The console (for ``clusters``, a kubeconfig of several, when given) and a
        controller per cluster."""
        ...

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

    def namespace_or_default(self, namespace: str | None) -> str:
        """`-n` when given, else the context's namespace, as kubectl does."""
        if namespace:
            return namespace
        try:
            return self.runtime.namespace(self)
        except errors.NetfenceError as e:
            fail(str(e))


def settings(ctx: typer.Context) -> Settings:
    value = ctx.find_root().obj
    assert isinstance(value, Settings)
    return value


def report(message: str) -> None:
    """One error line on stderr; the message is printed as text, never as markup."""
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
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
        raise typer.Exit(EXIT_ERROR) from e
    except errors.NetfenceError as e:
        report(str(e))
        raise typer.Exit(EXIT_ERROR) from e
    except ValueError as e:
        # Arguments read inside a command (KIND/NAME, a protocol): the command line.
        report(str(e))
        raise typer.Exit(EXIT_USAGE) from e
