"""A normal user's request (no SDK cookie, no actor token) must cost next to nothing: the
Django and Flask adapters neither build the request's header mapping nor parse its cookies
for it (issue 15 measured +14 and +21 µs of CPU per request from exactly that)."""

from __future__ import annotations

from typing import Any

from actas_sdk import ActAs
from tests.sdk import apps


def test_django_leaves_headers_and_cookies_alone_for_a_normal_user(actas: ActAs) -> None:
    apps.configure_django()
    from django.http import HttpResponse
    from django.test import RequestFactory

    from actas_sdk.django import ActAsMiddleware

    apps.django_actas.append(actas)
    seen: list[dict[str, Any]] = []

    def view(request: Any) -> HttpResponse:
        seen.append(dict(request.__dict__))  # cached properties land in __dict__ when used
        return HttpResponse("ok")

    middleware = ActAsMiddleware(view)
    request = RequestFactory().get("/", HTTP_COOKIE="session=abc; theme=dark")
    assert middleware(request).status_code == 200
    (state,) = seen
    assert state["actas"] is None
    assert "headers" not in state
    assert "COOKIES" not in state


def test_django_still_reads_our_cookie(actas: ActAs) -> None:
    apps.configure_django()
    from django.http import HttpResponse
    from django.test import RequestFactory

    from actas_sdk.django import ActAsMiddleware

    apps.django_actas.append(actas)
    middleware = ActAsMiddleware(lambda request: HttpResponse("ok"))
    request = RequestFactory().get("/", HTTP_COOKIE=f"{actas.cookies.name}=not-a-token")
    response = middleware(request)
    assert response.status_code != 200  # the cookie was read, and refused


def test_flask_leaves_cookies_alone_for_a_normal_user(actas: ActAs) -> None:
    from flask import Flask, request

    from actas_sdk.flask import init_app

    app = Flask("normal_path")
    parsed: list[bool] = []

    @app.get("/")
    def home() -> str:
        parsed.append("cookies" in request.__dict__)  # werkzeug caches the parsed cookies
        return "ok"

    init_app(app, actas)
    with app.test_client() as client:
        client.set_cookie("session", "abc")
        assert client.get("/").status_code == 200
        client.set_cookie(actas.cookies.name, "not-a-token")
        assert client.get("/").status_code != 200  # our cookie is still read
    assert parsed == [False]
