"""Errors as JSON: `{"message": ..., "field": ..., "errors": [...]}` with a fitting status."""

from __future__ import annotations

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
    errors.ClusterError: 502,
}


def _status(exc: errors.NetfenceError) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 500)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def _body(message: str, field: str | None, details: list[dict[str, Any]]) -> dict[str, Any]:
    return {"message": message, "field": field, "errors": details}


def field_errors(error: errors.InvalidTemplate) -> list[dict[str, Any]]:
    return [{"field": e.field, "message": e.message, "fix": e.fix} for e in error.errors]


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return JSONResponse(_body(exc.message, exc.field, exc.details), status_code=exc.status)

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
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "message": e.get("msg", "invalid"),
                "fix": None,
            }
            for e in exc.errors()
        ]
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
