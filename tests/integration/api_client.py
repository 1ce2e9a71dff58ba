"""Driving the REST API in-process, as a browser or a proxy would, for the API tests.

`Api.open((config, settings))` builds the app with `composition.web_app`, runs its lifespan (so the per-caller
Kubernetes clients are closed at the end) and talks to it through httpx's ASGI transport,
keeping cookies like a browser. Every request is recorded by route, so a test can prove
that each endpoint was exercised both successfully and with an error.
"""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from lightkube import KubeConfig
from starlette.types import ASGIApp, Receive, Scope, Send

from netfence.composition import web_app
from netfence.web.sessions import CSRF_HEADER
from netfence.web.settings import WebSettings

# The cluster a test app serves, and how it serves it.
Served = tuple[KubeConfig, WebSettings]

BASE_URL = "http://testserver"

Operation = tuple[str, str]  # (method, path as documented, e.g. /api/v1/templates/{name})


def operations(
    app: FastAPI, *, tags: set[str] | None = None, exclude_tags: set[str] | None = None
) -> set[Operation]:
    """Every operation the app documents in its OpenAPI schema; with `tags`, only those
    tagged so, and without those tagged with one of `exclude_tags`."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "delete", "patch"}
        and (tags is None or tags & set(operation.get("tags", ())))
        and not (exclude_tags or set()) & set(operation.get("tags", ()))
    }


def _pattern(path: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def operation_of(documented: set[Operation], method: str, path: str) -> Operation | None:
    """The documented operation a request reaches: the most literal path that matches."""
    matches = [
        op for op in documented if op[0] == method and _pattern(op[1]).match(path) is not None
    ]
    return min(matches, key=lambda op: op[1].count("{"), default=None)


@dataclass
class Coverage:
    """Which statuses each API operation answered with, across every app of a test module."""

    requests: list[tuple[str, str, int]] = field(default_factory=list)

    def wrap(self, app: ASGIApp) -> ASGIApp:
        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            status = 0

            async def sending(message: Any) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await app(scope, receive, sending)
            if scope["type"] == "http":
                self.requests.append((scope["method"], scope["path"], status))

        return recording

    def seen(self, documented: set[Operation]) -> dict[Operation, set[int]]:
        found: dict[Operation, set[int]] = defaultdict(set)
        for method, path, status in self.requests:
            op = operation_of(documented, method, path)
            if op is not None:
                found[op].add(status)
        return found

    def missing(self, documented: set[Operation]) -> dict[str, list[str]]:
        """Operations never seen succeeding (2xx) or never seen failing (4xx)."""
        seen = self.seen(documented)
        gaps: dict[str, list[str]] = {"success": [], "failure": []}
        for op in sorted(documented):
            statuses = seen.get(op, set())
            if not any(200 <= s < 300 for s in statuses):
                gaps["success"].append(" ".join(op))
            if not any(400 <= s < 500 for s in statuses):
                gaps["failure"].append(" ".join(op))
        return {k: v for k, v in gaps.items() if v}


class Api:
    """One browser-like client of one app: a cookie jar and the session's CSRF token."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http
        self._csrf: str | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, served: Served, coverage: Coverage | None = None) -> AsyncIterator[Api]:
        app = web_app(*served)
        asgi: ASGIApp = coverage.wrap(app) if coverage is not None else app
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=asgi), base_url=BASE_URL, timeout=60
            ) as http,
        ):
            yield cls(app, http)

    async def csrf(self) -> str:
        """The CSRF token of this client's session (starting a session if there is none)."""
        if self._csrf is None:
            response = await self.http.get("/api/v1/session")
            assert response.status_code == 200, response.text
            self._csrf = str(response.json()["csrf_token"])
        return self._csrf

    def forget_session(self) -> None:
        self._csrf = None

    async def sign_in(self, token: str) -> dict[str, Any]:
        """Sign in (token mode) and keep the new session's CSRF token."""
        response = await self.http.post("/api/v1/session", json={"token": token})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        self._csrf = str(body["csrf_token"])
        return body

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.http.get(path, **kwargs)

    async def send(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        csrf: bool | str = True,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A state-changing request; `csrf` True sends the session's token, a str that
        string, False no token at all."""
        sent = dict(headers or {})
        if csrf is True:
            sent[CSRF_HEADER] = await self.csrf()
        elif isinstance(csrf, str):
            sent[CSRF_HEADER] = csrf
        return await self.http.request(method, path, json=json, headers=sent, params=params)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.send("POST", path, json, **kwargs)

    async def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.send("PUT", path, json, **kwargs)

    async def delete(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.send("DELETE", path, json, **kwargs)


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have `status`."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, got "
        f"{response.status_code}: {response.text}"
    )
    return response.json()


def problem(
    response: httpx.Response,
    status: int,
    *,
    says: str | tuple[str, ...] = (),
    field: str | None = None,
) -> dict[str, Any]:
    """An error response: `status`, JSON with `message` (containing each of `says`) and
    `field` (equal to `field` when given)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url.path}: expected {status}, got "
        f"{response.status_code}: {response.text}"
    )
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert set(body) >= {"message", "field", "errors"}, body
    assert isinstance(body["message"], str)
    assert body["message"]
    for text in (says,) if isinstance(says, str) else says:
        assert text in body["message"], f"{text!r} not in {body['message']!r}"
    if field is not None:
        assert body["field"] == field, body
    return body
