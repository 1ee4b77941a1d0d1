"""RFC 9457 problem details: the one table from domain errors to HTTP, and the handlers that
make every error (validation, unknown route, oversize body) a ``application/problem+json``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actas.domain import errors

PROBLEM = "application/problem+json"
TYPE_BASE = "https://actas.dev/problems/"

#: The single table from domain errors to HTTP status codes.
STATUS: dict[type[errors.ActasError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.AuthenticationFailed: 401,
    errors.InvalidGrant: 400,
    errors.Throttled: 429,
    errors.Forbidden: 403,
    errors.StepUpRequired: 401,
    errors.Unavailable: 503,
}

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    423: "Locked",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (code or str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    issues = []
    malformed = False
    for err in exc.errors():
        location = ".".join(str(p) for p in err.get("loc", ()))
        if err.get("type") == "json_invalid":
            malformed = True
        issues.append(
            {"location": location, "message": str(err.get("msg", "")), "type": err.get("type")}
        )
    if malformed:
        return problem(
            400, "the request body is not valid JSON", code="malformed_json", errors=issues
        )
    first = issues[0] if issues else {"location": "", "message": "invalid"}
    detail = f"{first['location']}: {first['message']}" if first["location"] else first["message"]
    return problem(422, detail, code="invalid_input", errors=issues)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.ActasError)
    async def _domain(_: Request, exc: errors.ActasError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
        headers = None
        if isinstance(exc, errors.Throttled):
            headers = {"Retry-After": str(exc.retry_after)}
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return problem(status, exc.detail, code=exc.code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        code = "too_large" if exc.status_code == 413 else None
        return problem(exc.status_code, detail, code=code, headers=dict(exc.headers or {}) or None)


class BodyLimit:
    """Refuse bodies over ``limit`` bytes before any parsing: by Content-Length at once, and by
    counting the stream for chunked uploads. Pure ASGI, so it costs nothing per request."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    size = -1
                if size < 0:
                    response = problem(400, "Content-Length is not a size", code="bad_length")
                    await response(scope, receive, send)
                    return
                if size > self.limit:
                    await self._refuse(scope, receive, send)
                    return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # An HTTPException passes through FastAPI's body reader untouched (any
                    # other error becomes a 400 there) and reaches the problem handler.
                    raise StarletteHTTPException(
                        413, f"the request body is larger than {self.limit} bytes"
                    )
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem(
            413, f"the request body is larger than {self.limit} bytes", code="too_large"
        )
        await response(scope, receive, send)
