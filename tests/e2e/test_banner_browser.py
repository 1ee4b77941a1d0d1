"""The banner in a real browser: Playwright driving Debian's Chromium, headless.

During impersonation a page of the notes app that tries to hide the banner with CSS (the
``?hostile=1`` stylesheet: ``display:none !important`` on anything named actas, maximal
z-index on everything, an opaque block over the top of the page) still shows it, visible, on
top and counting down; End ends the session and lands on "support session ended" with the way
back to the console. The banner names the customer (id on hover), announces only what
matters through a polite live region, puts End first in the tab order, and learns of a
revocation by itself. A refused action keeps the banner. A screenshot goes to
docs/screenshots/.

Skipped, with the reason, when Chromium or Playwright is missing, unless
``ACTAS_TEST_BROWSER=required`` (then it fails). Never downloads a browser.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from actas.domain.roles import Role
from tests.e2e.harness import ROOT, Persona, Stack, wait_for

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshots" / "banner.png"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("ACTAS_TEST_BROWSER") == "required":
        pytest.fail(f"ACTAS_TEST_BROWSER=required, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _seconds(text: str) -> int:
    match = re.fullmatch(r"(\d+):(\d\d)", text.strip())
    assert match is not None, f"not a countdown: {text!r}"
    return int(match.group(1)) * 60 + int(match.group(2))


ON_TOP = """([x, y]) => {
  const hit = document.elementFromPoint(x, y);
  return hit !== null && hit.closest('actas-banner') !== null;
}"""

SHOWN = """() => {
  const host = document.querySelector('actas-banner');
  if (!host) return null;
  const style = getComputedStyle(host);
  return {display: style.display, visibility: style.visibility, opacity: style.opacity,
          position: style.position, parent: host.parentNode === document.documentElement};
}"""


IN_SHADOW = """(selector) => {
  const host = document.querySelector('actas-banner');
  const found = host && host.shadowRoot && host.shadowRoot.querySelector(selector);
  if (!found) return null;
  const box = found.getBoundingClientRect();
  return {text: found.textContent, title: found.getAttribute('title'),
          live: found.getAttribute('aria-live'), width: box.width, height: box.height,
          hidden: found.hidden};
}"""

ALERTS = """() => {
  const host = document.querySelector('actas-banner');
  return document.querySelectorAll('[role=alert]').length +
         host.shadowRoot.querySelectorAll('[role=alert]').length;
}"""

FOCUSED = """() => {
  const active = document.activeElement;
  if (!active || active.tagName !== 'ACTAS-BANNER') return active && active.tagName;
  const inner = active.shadowRoot.activeElement;
  return inner ? inner.textContent : null;
}"""


def _display_name(stack: Stack, sam: Persona) -> str:
    """What the banner should call u-peter: the broker's ``subject_name`` when its redeem
    answer carries one, else the id. Asked of the broker directly, with the app's
    credential, on a session of its own."""
    probe = stack.start_session(sam, subject="u-peter", scopes=("read",), minutes=5)
    code = parse_qs(urlsplit(probe.redirect_url).query)["code"][0]
    answer = httpx.post(
        f"{stack.broker.url}/v1/handoff/redeem",
        json={"code": code, "handoff_url": f"{stack.notes.url}/actas/handoff"},
        headers={"Authorization": f"Bearer {stack.notes.env['NOTES_ACTAS_CREDENTIAL']}"},
        timeout=10.0,
    )
    assert answer.status_code == 200, answer.text
    name = answer.json().get("subject_name")
    return name if isinstance(name, str) and name else "u-peter"


def test_the_banner_is_visible_on_top_counting_down_and_end_ends_it(
    stack: Stack, chromium: Any, tmp_path: Path
) -> None:
    sam = stack.broker.add_staff("sam", Role.SECURITY)
    shown_name = _display_name(stack, sam)
    session = stack.start_session(sam, subject="u-peter", scopes=("read",), minutes=15)
    context = chromium.new_context(viewport={"width": 1200, "height": 640})
    try:
        page = context.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.goto(session.redirect_url)  # the handoff: cookie, then 303 to /notes
        assert page.url == f"{stack.notes.url}/notes"
        banner = page.locator("actas-banner")
        banner.wait_for(state="visible", timeout=10_000)
        assert "Peter Gibbons" in page.content()
        # Announced once, on the first page of the session (not on every page after).
        wait_for(
            lambda: "started" in (page.evaluate(IN_SHADOW, ".sr") or {}).get("text", ""),
            what="the start to be announced",
            timeout=10.0,
            interval=0.25,
        )
        page.screenshot(path=str(tmp_path / "banner.png"))
        if not SCREENSHOT.exists() or os.environ.get("ACTAS_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(tmp_path / "banner.png", SCREENSHOT)

        # A page that fights the banner.
        page.goto(f"{stack.notes.url}/notes?hostile=1")
        assert page.locator("#hostile-css").count() == 1
        # The attack works on the page itself: its opaque block covers the header below.
        assert page.evaluate("() => document.elementFromPoint(600, 70).tagName") == "BODY"
        banner.wait_for(state="visible", timeout=10_000)
        shown = page.evaluate(SHOWN)
        assert shown == {
            "display": "block",
            "visibility": "visible",
            "opacity": "1",
            "position": "fixed",
            "parent": True,
        }
        box = banner.bounding_box()
        assert box is not None
        assert box["y"] == 0
        assert box["height"] >= 30
        assert box["width"] >= 1000
        middle = box["y"] + box["height"] / 2
        for x in (box["x"] + 20, box["x"] + box["width"] / 2, box["x"] + box["width"] - 20):
            assert page.evaluate(ON_TOP, [x, middle]), f"something covers the banner at x={x}"
        text = page.locator("actas-banner .bar").inner_text()  # inside the shadow root
        assert "support session" in text.lower()
        # The customer by display name (when the broker sends one), the id on hover.
        named = page.evaluate(IN_SHADOW, ".who b[title]")
        assert named == {**named, "text": shown_name, "title": "u-peter"}

        # Accessibility: nothing announces the countdown; a visually hidden polite region
        # says the session started; End is the first stop in the tab order.
        assert page.evaluate(ALERTS) == 0
        region = page.evaluate(IN_SHADOW, ".sr")
        assert region["live"] == "polite"
        assert region["width"] <= 1
        assert region["height"] <= 1
        page.keyboard.press("Tab")
        assert page.evaluate(FOCUSED) == "End session"

        # Counting down, from the session's real end (15 minutes away).
        clock = page.locator("actas-banner time")
        first = _seconds(clock.inner_text())
        assert 0 < first <= 15 * 60
        wait_for(
            lambda: _seconds(clock.inner_text()) < first,
            what="the countdown to move",
            timeout=10.0,
            interval=0.25,
        )

        # A script that removes the banner does not get rid of it either.
        page.evaluate("() => document.querySelector('actas-banner').remove()")
        banner.wait_for(state="visible", timeout=5_000)

        # A refused action (a write in a read-only session): a styled page naming the cause,
        # and the banner stays, so End is still in reach.
        page.goto(f"{stack.notes.url}/notes")
        page.fill("#new-note input[name=title]", "not allowed")
        page.click("#new-note button[type=submit]")
        page.wait_for_selector("main.actas-page[data-cause=scope]", timeout=10_000)
        banner.wait_for(state="visible", timeout=10_000)
        border = page.evaluate(
            "() => getComputedStyle(document.querySelector('main.actas-page')).borderTopStyle"
        )
        assert border == "solid"  # the SDK's stylesheet applied

        # End ends the session, at the broker too, and says so, with the way back.
        page.goto(f"{stack.notes.url}/notes")
        page.locator("actas-banner button").click()
        page.wait_for_url(re.compile(r".*/actas/ended\?cause=ended$"), timeout=10_000)
        assert page.locator("actas-banner").count() == 0
        assert page.locator("h1").inner_text() == "Support session ended"
        back = page.locator("a", has_text="Back to the support console")
        assert back.get_attribute("href") == f"{stack.broker.url}/console/"
        state = stack.staff(sam).get(f"/v1/sessions/{session.id}").json()
        assert state["end_reason"] == "ended_by_staff"
        assert not [c for c in context.cookies() if c["name"] == "actas_sdk"]
        assert violations == []  # no inline script, nothing the pages' policy blocked
    finally:
        context.close()


def test_a_revocation_flips_the_banner_to_ended_without_a_click(
    stack: Stack, chromium: Any
) -> None:
    lead = stack.broker.add_staff("lee", Role.SECURITY)
    session = stack.start_session(lead, subject="u-peter", scopes=("read",), minutes=15)
    context = chromium.new_context(viewport={"width": 1200, "height": 640})
    try:
        page = context.new_page()
        page.goto(session.redirect_url)
        page.locator("actas-banner").wait_for(state="visible", timeout=10_000)
        assert page.evaluate(IN_SHADOW, ".gone")["hidden"] is True
        revoked = stack.staff(lead).post(
            f"/v1/sessions/{session.id}/revoke", json={"reason": "customer asked to stop"}
        )
        assert revoked.status_code == 200, revoked.text
        # No click, no navigation: the banner's poll of the SDK finds out (bounded wait).
        gone = wait_for(
            lambda: (state := page.evaluate(IN_SHADOW, ".gone")) and not state["hidden"] and state,
            what="the banner to say the session ended",
            timeout=20.0,
            interval=0.25,
        )
        assert "Support session ended" in gone["text"]
        assert "revoked" in gone["text"]
        assert page.evaluate(IN_SHADOW, ".live")["hidden"] is True  # no End, no countdown
        link = page.evaluate(IN_SHADOW, ".gone a")
        assert link is not None
        assert "support console" in link["text"]
        wait_for(
            lambda: "ended" in (page.evaluate(IN_SHADOW, ".sr") or {}).get("text", ""),
            what="the end to be announced",
            timeout=10.0,
            interval=0.25,
        )
    finally:
        context.close()
