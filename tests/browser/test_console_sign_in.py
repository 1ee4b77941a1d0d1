"""Sign-in messages (wrong code, a source told to wait, ended session), the keyboard path
through the sign-in page, and the Content-Security-Policy as the browser enforces it."""

from __future__ import annotations

from typing import Any

import pytest

from actas.domain.audit import Actor
from actas.http.callers import SESSION_COOKIE
from actas.services import staff as staff_service
from actas.services import throttle as throttle_service
from tests.browser.conftest import SETUP, Console, PageFactory, sign_in
from tests.browser.harness import run_axe, shoot

try:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    PlaywrightError = Exception  # type: ignore[assignment,misc]
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

WRONG = "The email, password or code is wrong."


def _try(page: Any, console: Console, name: str, *, password: str | None, code: str) -> Any:
    who = console[name]
    page.goto("/console/login")
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(password or who.password)
    page.get_by_label("Code from your authenticator app").fill(code)
    with page.expect_response("**/console/login") as answer:
        page.get_by_role("button", name="Sign in", exact=True).click()
    return answer.value


def test_wrong_code_throttled_source_and_ended_session(
    open_page: PageFactory, console: Console
) -> None:
    page = open_page()
    response = _try(page, console, "vera", password=None, code="000000")
    assert response.status == 401
    expect(page.get_by_role("alert")).to_contain_text(WRONG)
    expect(page.get_by_label("Email")).to_have_value("vera@staff.test")
    expect(page.get_by_label("Code from your authenticator app")).to_have_attribute(
        "aria-invalid", "true"
    )
    run_axe(page, "sign in, wrong code")

    for _ in range(3):  # the browser server lets a source fail three times before it waits
        _try(page, console, "lars", password="not-the-password-at-all", code="000000")
    # The broker runs on the real clock: more failures from this address, counted directly,
    # make the wait long enough that no slow run sees it end.
    for _ in range(12):
        throttle_service.count_sign_in_failure(
            console.broker.services,
            email="lars@staff.test",
            staff=None,
            reason="password",
            by=Actor(id=None, ip="127.0.0.1"),
        )
    # Every browser here shares 127.0.0.1: clear that address's own wait (as an admin would
    # for an office), so only lars's (email, address) wait remains.
    throttle_service.unthrottle_address(console.broker.services, address="127.0.0.1", by=SETUP)
    response = _try(page, console, "lars", password=None, code=console.code("lars"))
    assert response.status == 429
    expect(page.get_by_role("alert")).to_contain_text(
        "Too many failed sign-ins from here. Try again in 15 minutes"
    )
    shoot(page, "sign-in-locked")

    eve = open_page()
    sign_in(eve, console, "eve")
    token = next(c["value"] for c in eve.context.cookies() if c["name"] == SESSION_COOKIE)
    staff, session = staff_service.authenticate(console.broker.services, token)
    staff_service.logout(console.broker.services, staff=staff, session=session, by=SETUP)
    eve.goto("/console/sessions")
    eve.wait_for_url("**/console/login?expired=1&next=%2Fconsole%2Fsessions")
    expect(eve.get_by_role("status")).to_have_text(
        "Your session has ended. Sign in again to continue."
    )


def _focused(page: Any) -> str:
    return str(
        page.evaluate(
            """() => {
                const el = document.activeElement;
                return el.id || el.getAttribute("href") || el.textContent.trim();
            }"""
        )
    )


def test_the_keyboard_reaches_everything_in_order_with_visible_focus(
    open_page: PageFactory,
) -> None:
    page = open_page()
    page.goto("/console/login")
    order = []
    expected = ["#main", "/console/", "email", "password", "code", "Sign in"]
    for _ in expected:
        page.keyboard.press("Tab")
        order.append(_focused(page))
        outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on {order[-1]}"
    assert order == expected
    # Back to the skip link, which moves focus to the content.
    for _ in expected[1:]:
        page.keyboard.press("Shift+Tab")
    assert _focused(page) == "#main"
    page.keyboard.press("Enter")
    assert _focused(page) == "main"


def test_the_csp_refuses_inline_script_and_other_hosts(browser: Any, console: Console) -> None:
    context = browser.new_context(base_url=console.url)
    try:
        page = context.new_page()
        page.goto("/console/login")
        assert page.evaluate("typeof htmx") == "object"  # the vendored script runs
        with pytest.raises(PlaywrightError, match="Content Security Policy"):
            page.add_script_tag(content="window.injected = true")
        assert page.evaluate("typeof window.injected") == "undefined"
        other = f"{console.landing.origin}/actas/handoff"
        fetched = page.evaluate("url => fetch(url).then(() => 'loaded', () => 'blocked')", other)
        assert fetched == "blocked"
        image = page.evaluate(
            """url => new Promise(done => {
                const img = new Image();
                img.onload = () => done("loaded");
                img.onerror = () => done("blocked");
                img.src = url;
            })""",
            other,
        )
        assert image == "blocked"
        styled = page.evaluate(
            """() => {
                const probe = document.createElement("p");
                probe.setAttribute("style", "color: rgb(1, 2, 3)");
                document.body.append(probe);
                return getComputedStyle(probe).color;
            }"""
        )
        assert styled != "rgb(1, 2, 3)"
    finally:
        context.close()
