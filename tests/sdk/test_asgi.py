"""The middleware under Starlette and FastAPI (pure ASGI), plus what only ASGI has."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import httpx2
from starlette.testclient import TestClient

from actas_sdk import ActAs
from actas_sdk.asgi import ActAsMiddleware
from actas_sdk.testing import FakeBroker
from tests.sdk import apps
from tests.sdk.behaviour import BASE, Contract


class TestStarlette(Contract):
    build = staticmethod(apps.starlette_app)
    note_route: ClassVar[str] = "/notes/{note_id}"

    def client_for(self, app: Any) -> httpx2.Client:
        return TestClient(app, base_url=BASE)


class TestFastAPI(Contract):
    build = staticmethod(apps.fastapi_app)
    note_route: ClassVar[str] = "/notes/{note_id}"

    def client_for(self, app: Any) -> httpx2.Client:
        return TestClient(app, base_url=BASE)


def test_the_middleware_is_plain_asgi() -> None:
    from starlette.middleware.base import BaseHTTPMiddleware

    assert not issubclass(ActAsMiddleware, BaseHTTPMiddleware)


def test_websockets_and_lifespan_pass_through(actas: ActAs) -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    middleware = ActAsMiddleware(app, actas=actas)
    for kind in ("lifespan", "websocket"):
        asyncio.run(middleware({"type": kind}, _never, _never))
    assert seen == ["lifespan", "websocket"]


async def _never(*_: Any) -> Any:
    raise AssertionError("not called")


def test_big_and_streamed_pages_get_the_banner_near_the_top(actas: ActAs, fake: FakeBroker) -> None:
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def chunks() -> Any:
        yield b"<html><body><p>first</p>"
        for _ in range(3):
            yield b"<p>" + b"x" * 1000 + b"</p>"
        yield b"</body></html>"

    async def page(request: Any) -> Any:
        return StreamingResponse(chunks(), media_type="text/html")

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ActAsMiddleware, actas=actas)
    with TestClient(app, base_url=BASE) as client:
        code = fake.handoff()
        client.get("/actas/handoff", params={"code": code})
        body = client.get("/").text
    assert body.index("<actas-banner") < body.index("<p>first</p>")
    assert body.endswith("</body></html>")


def test_a_content_security_policy_nonce_is_reused(actas: ActAs, fake: FakeBroker) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request: Any) -> Any:
        policy = "default-src 'self'; script-src 'nonce-abcdefgh12345678'"
        return HTMLResponse(
            "<html><body>hi</body></html>", headers={"CSP": "x", "Content-Security-Policy": policy}
        )

    app = Starlette(routes=[Route("/", page)])
    app.add_middleware(ActAsMiddleware, actas=actas)
    with TestClient(app, base_url=BASE) as client:
        client.get("/actas/handoff", params={"code": fake.handoff()})
        body = client.get("/").text
    assert 'defer nonce="abcdefgh12345678"></script>' in body
