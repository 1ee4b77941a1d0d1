"""The middleware under Flask (WSGI)."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx2
import pytest

from actas_sdk import ActAs, current_impersonation
from actas_sdk.testing import FakeBroker
from tests.sdk import apps
from tests.sdk.behaviour import Contract


class TestFlask(Contract):
    build = staticmethod(apps.flask_app)
    note_route: ClassVar[str] = "/notes/<note_id>"


def _app_with_own_hooks(sdk: ActAs, seen: list[Any]) -> Any:
    """An app whose own hooks are registered before ``init_app``: its ``before_request``
    still sees the context, and its ``after_request`` cannot undo ``no-store``."""
    from flask import Flask, g, make_response

    from actas_sdk.flask import init_app

    app = Flask("hooks_first")

    @app.before_request
    def remember() -> None:
        seen.append(("before", g.actas.subject if g.actas else None))

    @app.after_request
    def cache_it(response: Any) -> Any:
        response.headers["Cache-Control"] = "public, max-age=600"
        return response

    @app.get("/boom")
    def boom() -> Any:
        seen.append(("view", current_impersonation() is not None))
        raise RuntimeError("the view failed")

    @app.get("/plain")
    def plain() -> Any:
        seen.append(("view", current_impersonation() is not None))
        return make_response("ok")

    init_app(app, sdk, load_user=apps.load_user)
    return app


class TestFlaskOrdering:
    """The SDK's steps run first on the way in and last on the way out, whatever the order
    in which the app registered its own hooks, and an impersonation never outlives its
    request (the thread's next request runs as a normal user)."""

    @pytest.fixture
    def sdk(self, make_actas: Any) -> ActAs:
        actas: ActAs = make_actas(**apps.APP_CONFIG)
        actas.start()
        assert actas.wait_ready(5)
        return actas

    def test_hooks_see_the_context_and_no_store_has_the_last_word(
        self, sdk: ActAs, fake: FakeBroker
    ) -> None:
        seen: list[Any] = []
        app = _app_with_own_hooks(sdk, seen)
        transport = httpx2.WSGITransport(app=app, raise_app_exceptions=False)
        with httpx2.Client(transport=transport, base_url="http://testserver") as client:
            assert client.get("/plain").headers["Cache-Control"] == "public, max-age=600"
            code = fake.handoff(subject="u-1", scopes=("read",))
            assert client.get("/actas/handoff", params={"code": code}).status_code == 303
            del seen[2:]  # the handoff itself
            response = client.get("/plain")
            assert response.headers["Cache-Control"] == "no-store, private"
            assert client.get("/boom").status_code == 500
            client.cookies.clear()
            assert client.get("/plain").status_code == 200
        assert seen == [
            ("before", None),
            ("view", False),
            ("before", "u-1"),
            ("view", True),
            ("before", "u-1"),
            ("view", True),
            ("before", None),
            ("view", False),  # the failed request's impersonation did not stay behind
        ]
        assert sdk.flush()
        statuses = [(e["route"], e.get("status")) for e in fake.events if e["kind"] == "request"]
        assert statuses == [("/plain", 200), ("/boom", 500)]
