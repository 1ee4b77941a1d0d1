"""``/docs`` is served from the broker: our page (no inline script), the vendored Swagger UI
release recorded in VENDORED.md, and the console's strict headers."""

from __future__ import annotations

import hashlib
import re

from fastapi.testclient import TestClient

from actas.api.docs import STATIC
from actas.http.security_headers import CSP
from tests.scenario import World


def test_the_docs_page_loads_nothing_from_another_host(world: World) -> None:
    client: TestClient = world.client
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/docs/static/", "/openapi.json", "data:")), url
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "docs.js"):
        asset = client.get(f"/docs/static/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-security-policy"] == CSP
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN page is gone


def test_the_vendored_swagger_ui_is_the_recorded_release() -> None:
    recorded = (STATIC / "VENDORED.md").read_text()
    assert "| 5.36.0 |" in recorded
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()
        assert f"`{digest}`" in recorded, name
