"""The domain errors of netfence.

Adapters translate client and transport errors into these (chaining the cause with
``raise ... from``), and only the CLI entry point turns them into exit codes. Keep the
hierarchy shallow: callers catch ``NetfenceError`` or one specific subclass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable


class NetfenceError(Exception):
    """Base of every error netfence raises on purpose.

    ``field`` names the input at fault when there is one (``template``, ``restore``), so an
    entry point can point at it: the API's error body carries it, the console marks it.
    """

    field: str | None = None

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One problem with one field of user input.

    ``field`` is a path such as ``ingress[0].ports[1].endPort``; the empty string stands for
    the document as a whole (a YAML syntax error, a document that is not a mapping).
    ``fix`` is a concrete suggestion when one is obvious, so a user can act without
    reading the Kubernetes API reference.
    """

    field: str
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        text = f"{self.field}: {self.message}" if self.field else self.message
        return f"{text} ({self.fix})" if self.fix else text


class InvalidTemplate(NetfenceError):
    """A template that cannot be used, with every problem found in it, not just the first."""

    template: str
    errors: tuple[FieldError, ...]

    def __init__(self, template: str, errors: Iterable[FieldError]) -> None:
        self.template = template
        self.errors = tuple(errors)
        # The constructor arguments become ``args`` so the exception survives pickling
        # (process pools, multiprocessing-based runners) and a plain ``repr``.
        super().__init__(template, self.errors)

    def __str__(self) -> str:
        if not self.errors:
            return f"template {self.template!r} is invalid"
        if len(self.errors) == 1:
            return f"template {self.template!r} is invalid: {self.errors[0]}"
        lines = [f"template {self.template!r} is invalid ({len(self.errors)} problems):"]
        lines.extend(f"  - {error}" for error in self.errors)
        return "\n".join(lines)


class AccessDenied(NetfenceError):
    """The cluster knows the caller and its RBAC refuses them this request."""


class Unauthenticated(NetfenceError):
    """The cluster did not accept the caller's credentials (expired, revoked, wrong).

    Not an AccessDenied: reading less of the cluster does not help, signing in again does.
    """


class NotFound(NetfenceError):
    """An object the caller named does not exist."""


class Conflict(NetfenceError):
    """Someone else changed the object first; re-read and retry."""


class Rejected(NetfenceError):
    """The API server found the object invalid."""


class ClusterError(NetfenceError):
    """The cluster could not be reached or answered with an unexpected error."""


class Fenced(NetfenceError):
    """This replica no longer holds the Lease, by its own clock: it must not write."""


class Refused(NetfenceError):
    """netfence itself declines the request (for example, managing kube-system)."""


class Unavailable(NetfenceError):
    """The cluster cannot do what was asked here (probing a cluster without a prober)."""
