"""One ASGI middleware for what every request leaves behind: its id (``X-Request-Id`` in and
out), its count and duration in the metrics, and one JSON access line.

The id a client sends is kept only when it is short and plain (it lands in logs); otherwise a
new one is made. Routes are reported by template, never by path: a path can carry a one-time
token, and a per-path label would grow without bound."""

from __future__ import annotations

import re
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actas import metrics

HEADER = b"x-request-id"
_PLAIN_ID = re.compile(rb"^[A-Za-z0-9._:-]{8,64}$")
log = structlog.get_logger("actas.access")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == HEADER and _PLAIN_ID.match(value):
            return bytes(value).decode("ascii")
    return uuid.uuid4().hex


def _find(routes: Any, endpoint: Any, depth: int = 0) -> Any:
    """The route holding ``endpoint``, looking into included routers and mounts."""
    for candidate in routes or ():
        if getattr(candidate, "endpoint", None) is endpoint:
            return candidate
        # FastAPI keeps an included router whole (``original_router``); a Mount has ``routes``.
        # The broker includes its routers without a prefix, so a route's path is the template.
        nested = getattr(candidate, "original_router", candidate)
        inner = getattr(nested, "routes", None)
        if inner and depth < 4:
            found = _find(inner, endpoint, depth + 1)
            if found is not None:
                return found
    return None


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    endpoint = scope.get("endpoint")
    if route is None and endpoint is not None:
        # Plain Starlette routes (the console's, the customer pages') leave only the endpoint
        # in the scope: find the route that holds it.
        route = _find(getattr(scope.get("app"), "routes", ()), endpoint)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else "unmatched"


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        began = metrics.clock()
        status = 500
        answered = 0.0

        async def tagged(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = int(message["status"])
                answered = metrics.clock() - began
                headers = [(n, v) for n, v in message.get("headers", []) if n != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, tagged)
        finally:
            route = _route(scope)
            method = str(scope.get("method", ""))
            metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            metrics.HTTP_SECONDS.labels(route).observe(answered or metrics.clock() - began)
            log.info("request", method=method, route=route, status=status,
                     seconds=round(answered or metrics.clock() - began, 6))  # fmt: skip
            structlog.contextvars.clear_contextvars()
