"""``/docs``: Swagger UI served from the broker itself, so that a self-hosted install without
internet access has working API docs (FastAPI's own page loads Swagger UI from a CDN and
starts it with an inline script, which a strict CSP refuses).

The page is a fixed HTML document; the vendored bundle, its stylesheet and ``docs.js`` (which
starts it) come from ``/docs/static/`` under the same headers as the console.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route, request_response
from starlette.staticfiles import StaticFiles

from actas.http.security_headers import SecurityHeaders

STATIC = Path(__file__).parent / "static"
OPENAPI_URL = "/openapi.json"

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
<title>actas broker API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css">
<script src="/docs/static/swagger-ui-bundle.js" defer></script>
<script src="/docs/static/docs.js" defer></script>
</head>
<body>
<main id="swagger-ui" data-openapi="{openapi}"><noscript>The API docs need JavaScript;
the OpenAPI document itself is at <a href="{openapi}">{openapi}</a>.</noscript></main>
</body>
</html>
"""


async def _page(_: Request) -> Response:
    return HTMLResponse(PAGE.format(openapi=OPENAPI_URL))


def _build() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = SecurityHeaders(request_response(_page))
    router.routes.append(Route("/docs", page, methods=["GET", "HEAD"], name="docs"))
    static = SecurityHeaders(StaticFiles(directory=STATIC), cache_control="no-cache")
    router.routes.append(Mount("/docs/static", app=static, name="docs:static"))
    return router


router = _build()
