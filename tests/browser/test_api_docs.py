"""``/docs`` works offline (issue 12 item 9), in Chromium: every request that would leave the
broker is cut off, and Swagger UI still draws the broker's API from its own copy, with no CSP
violation and no script error (``open_page`` fails the test on either)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Console, PageFactory

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def test_the_api_docs_draw_without_internet(open_page: PageFactory, console: Console) -> None:
    page = open_page()
    elsewhere: list[str] = []

    def offline(route: Any) -> None:
        url = route.request.url
        if url.startswith((console.url + "/", "data:")):
            route.continue_()
        else:
            elsewhere.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", offline)
    response = page.goto("/docs")
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", name="actas broker")).to_be_visible()
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    reopen = page.locator(".opblock-summary-path", has_text="/v1/sessions/{session_id}/reopen")
    expect(reopen).to_have_count(1)
    reopen.click()  # an operation opens: the page is alive, not a picture
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    assert elsewhere == [], f"the docs page asked another host: {elsewhere}"
