"""The console and the app side by side in one browser (issue 12 item 1): on one host the
broker and the app share cookies across ports, so the two must not sign each other out. One
Chromium context keeps a console tab and an app tab through a whole session, from the
console's Start to the banner's End, and both stay signed in throughout."""

from __future__ import annotations

import re
from typing import Any

import pytest

from actas.domain.roles import Role
from tests.e2e.harness import Stack
from tests.e2e.test_banner_browser import chromium  # noqa: F401 - the browser fixture

pytestmark = pytest.mark.browser


def _console_signed_in(console: Any, url: str) -> None:
    console.goto(url)
    assert "/console/login" not in console.url, "the console signed out"
    assert console.locator("text=Signed in as").count() == 1


def test_console_and_app_stay_signed_in_side_by_side(
    stack: Stack,
    chromium: Any,  # noqa: F811 - the fixture imported above
) -> None:
    sam = stack.broker.add_staff("sam", Role.SECURITY)
    context = chromium.new_context(viewport={"width": 1200, "height": 760})
    context.set_default_timeout(15_000)
    try:
        console = context.new_page()
        console.goto(f"{stack.broker.url}/console/login")
        console.fill("#email", sam.email)
        console.fill("#password", sam.password)
        console.get_by_label("Code from your authenticator app").fill(sam.authenticator.code())
        console.get_by_role("button", name="Sign in").click()
        console.wait_for_url("**/console/search")

        # The fastest path: an unflagged customer, allowed at once, started from the console.
        console.get_by_label("Email, name, user id or account").fill("peter")
        console.get_by_role("button", name="Search").click()
        console.get_by_role("link", name="Peter Gibbons").click()
        console.get_by_label("Ticket reference").fill("ZD-1")
        console.get_by_label("Reason").select_option("bug_reproduction")
        console.get_by_label("What the customer needs").fill("Cannot export")
        console.get_by_role("button", name="Open case").click()
        console.get_by_role("link", name="Ask for access").click()
        console.get_by_role("button", name="Ask for access").click()
        console.wait_for_url(re.compile(r".*/console/requests/[0-9a-f-]+$"))
        request_url = console.url
        console.get_by_label("Authenticator code").fill(sam.authenticator.code())
        console.get_by_role("button", name="Start", exact=True).click()
        console.wait_for_url(f"{stack.notes.url}/notes")
        console.locator("actas-banner").wait_for(state="visible")

        # The app in this tab; the console again in another tab of the same browser.
        app = console
        console = context.new_page()
        _console_signed_in(console, request_url)
        console.get_by_role("link", name="See the session").click()
        session_url = console.url
        assert "live" in console.locator("dl.facts").inner_text()

        # Back and forth: each click in one keeps the other signed in.
        for _ in range(2):
            app.goto(f"{stack.notes.url}/notes")
            app.locator("actas-banner").wait_for(state="visible")
            assert "Peter Gibbons" in app.content()
            _console_signed_in(console, f"{stack.broker.url}/console/sessions")
            assert console.get_by_role("row").filter(has_text="Peter Gibbons").count() == 1

        # End from the banner; the console, still signed in, shows the session ended.
        app.goto(f"{stack.notes.url}/notes")
        app.locator("actas-banner button").click()
        app.wait_for_url(re.compile(r".*/actas/ended\?cause=ended$"))
        _console_signed_in(console, session_url)
        assert "ended" in console.locator("dl.facts").inner_text()
        # No page of either answers a browser with raw JSON.
        for url in (f"{stack.notes.url}/no-such-page", f"{stack.broker.url}/console/nope"):
            response = app.goto(url)
            assert response is not None
            assert response.status == 404
            assert response.headers["content-type"].startswith("text/html"), url
            assert app.locator("h1").inner_text() == "Page not found"
        names = {c["name"] for c in context.cookies()}
        assert "actas_sdk" not in names  # the app's cookie went with End ...
        assert any(n.endswith("actas_session") or "actas_staff" in n for n in names)  # ... not ours
    finally:
        context.close()
