"""Translating API errors into netfence's domain errors, keeping the cause.

lightkube 1.x talks HTTP through `httpx2`, so transport errors are caught from there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import httpx2
from lightkube import ApiError

from netfence.core import errors


def translate(error: ApiError, action: str, *, who_can: str | None = None) -> errors.NetfenceError:
    """A domain error that says, in words, what the caller could not do and why.

    `who_can` completes a refusal for people, e.g. "an admin can".
    """
    status = error.status
    code = status.code or 0
    detail = status.message or str(error)
    if code == 403:
        if who_can:
            return errors.AccessDenied(f"You may not {action}; {who_can}. ({detail})")
        return errors.AccessDenied(f"you may not {action}: {detail}")
    if code == 404:
        return errors.NotFound(f"cannot {action}: {detail}")
    if code == 409:
        return errors.Conflict(f"cannot {action}: {detail}")
    if code == 422:
        return errors.Rejected(f"the API server rejected the request to {action}: {detail}")
    if code == 401:
        return errors.Unauthenticated(
            f"cannot {action}: the API server did not accept your credentials ({detail}); "
            "check the token or kubeconfig"
        )
    return errors.ClusterError(f"cannot {action}: {detail} (HTTP {code})")


@contextlib.contextmanager
def translated(action: str, *, who_can: str | None = None) -> Iterator[None]:
    try:
        yield
    except ApiError as e:
        raise translate(e, action, who_can=who_can) from e
    except httpx2.HTTPError as e:
        raise errors.ClusterError(
            f"cannot {action}: the API server{_at(e)} is unreachable ({e or type(e).__name__}); "
            "check that it runs and that --context or --kubeconfig name the right cluster"
        ) from e


def _at(error: httpx2.HTTPError) -> str:
    """` at https://host:port`, the server a request was sent to, when it is known."""
    try:
        url = error.request.url
    except RuntimeError:  # an error raised before any request was made
        return ""
    port = f":{url.port}" if url.port else ""
    return f" at {url.scheme}://{url.host}{port}"
