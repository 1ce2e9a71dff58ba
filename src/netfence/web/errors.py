"""Errors as JSON: `{"message": ..., "field": ..., "errors": [...]}` with a fitting status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from netfence.core import errors


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.details = details or []


_STATUS: dict[type[errors.NetfenceError], int] = {
    errors.Unauthenticated: 401,
    errors.AccessDenied: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidTemplate: 422,
    errors.Rejected: 422,
    errors.Refused: 400,
    errors.Unavailable: 409,
    errors.ClusterError: 502,
}


def _status(exc: errors.NetfenceError) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _body(message: str, field: str | None, details: list[dict[str, Any]]) -> dict[str, Any]:
    return {"message": message, "field": field, "errors": details}


def problem_body(problem: ApiProblem) -> dict[str, Any]:
    """The JSON body of an ApiProblem, for a layer that answers before the app's handlers."""
    return _body(problem.message, problem.field, problem.details)


def field_errors(error: errors.InvalidTemplate) -> list[dict[str, Any]]:
    return [{"field": e.field, "message": e.message, "fix": e.fix} for e in error.errors]


def _field(loc: Sequence[object]) -> str | None:
    """A body field by its path in the body, a path parameter by its name (`namespace`,
    `name`: what the console calls it), a query parameter as `query.<name>`; None for the
    body as a whole."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "path"):
        parts = parts[1:]
    return ".".join(parts) or None


def _detail(error: Mapping[str, Any]) -> dict[str, Any]:
    context = error.get("ctx") or {}
    if error.get("type") == "json_invalid":
        # Its location is a character offset, not a field.
        where = error.get("loc", ())[-1:]
        at = f" at character {where[0]}" if where and isinstance(where[0], int) else ""
        reason = context.get("error") or "cannot be decoded"
        return {"field": None, "message": f"the body is not valid JSON{at}: {reason}", "fix": None}
    field = _field(error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if field is None and error.get("type") == "missing":
        message = "a JSON body is required"
    elif field is None:
        message = f"the body: {message}"
    return {"field": field, "message": message, "fix": context.get("fix")}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return JSONResponse(problem_body(exc), status_code=exc.status)

    @app.exception_handler(errors.NetfenceError)
    async def _domain(_: Request, exc: errors.NetfenceError) -> JSONResponse:
        status = _status(exc)
        if isinstance(exc, errors.InvalidTemplate):
            details = field_errors(exc)
            first = details[0]["field"] if details else None
            return JSONResponse(_body(str(exc), first, details), status_code=status)
        if exc.field is not None:
            # An input error: the console shows it as a sentence beside that field.
            return JSONResponse(_body(_sentence(str(exc)), exc.field, []), status_code=status)
        return JSONResponse(_body(str(exc), None, []), status_code=status)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        # Routing errors (no such path, method not allowed) in the same shape as the rest.
        return JSONResponse(
            _body(str(exc.detail), None, []), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_detail(e) for e in exc.errors()]
        first = details[0] if details else {"field": None, "message": "invalid request"}
        return JSONResponse(
            _body(
                f"{first['field']}: {first['message']}"
                if first["field"]
                else str(first["message"]),
                first["field"],
                details,
            ),
            status_code=422,
        )
