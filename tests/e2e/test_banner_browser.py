"""The banner in a real browser: Playwright driving Debian's Chromium, headless.

During impersonation a page of the notes app that tries to hide the banner with CSS (the
``?hostile=1`` stylesheet: ``display:none !important`` on anything named actas, maximal
z-index on everything, an opaque block over the top of the page) still shows it, visible, on
top and counting down; End ends the session. A screenshot goes to docs/screenshots/.

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

import pytest

from actas.domain.roles import Role
from tests.e2e.harness import ROOT, Stack, wait_for

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


def test_the_banner_is_visible_on_top_counting_down_and_end_ends_it(
    stack: Stack, chromium: Any, tmp_path: Path
) -> None:
    sam = stack.broker.add_staff("sam", Role.SECURITY)
    session = stack.start_session(sam, subject="u-peter", scopes=("read",), minutes=15)
    context = chromium.new_context(viewport={"width": 1200, "height": 640})
    try:
        page = context.new_page()
        page.goto(session.redirect_url)  # the handoff: cookie, then 303 to /notes
        assert page.url == f"{stack.notes.url}/notes"
        banner = page.locator("actas-banner")
        banner.wait_for(state="visible", timeout=10_000)
        assert "Peter Gibbons" in page.content()
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
        assert "u-peter" in text

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

        # End ends the session, at the broker too.
        page.locator("actas-banner button").click()
        page.wait_for_url(re.compile(r".*/(login|notes)$"), timeout=10_000)
        assert page.locator("actas-banner").count() == 0
        state = stack.staff(sam).get(f"/v1/sessions/{session.id}").json()
        assert state["end_reason"] == "ended_by_staff"
        assert not [c for c in context.cookies() if c["name"] == "actas_sdk"]
    finally:
        context.close()
