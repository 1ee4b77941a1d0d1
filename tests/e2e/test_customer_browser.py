"""What the customer receives, followed in a real browser (Playwright, Debian's Chromium).

The broker of the stack has no SMTP server configured, so it writes every customer email to
its maildir (beside its SQLite file), as ``make run`` does; the test reads the messages there
like the customer reads their inbox:

- the demo app's password reset: ask on "Forgot your password?", open the link from the
  email, confirm on the SDK's landing page, set a new password, sign in with it;
- the kill switch: a session starts, the session-started email's link opens the broker's
  confirmation page, confirming ends the session, and the staff member's banner says so.

The emails' HTML parts are rendered in Chromium for docs/screenshots/ (rewritten only with
``ACTAS_UPDATE_SCREENSHOTS=1``).
"""

from __future__ import annotations

import email
import email.policy
import mailbox
import os
import re
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from actas.domain.roles import Role
from tests.e2e.harness import ROOT, Stack, wait_for
from tests.e2e.test_banner_browser import ARGS, IN_SHADOW, _unavailable

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/actas/link\?t=[A-Za-z0-9_-]+")
KILL = re.compile(r"http://127\.0\.0\.1:\d+/customer/end/[A-Za-z0-9_-]+")


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


def inbox(stack: Stack, address: str) -> list[EmailMessage]:
    """Every message the broker wrote for ``address`` so far."""
    folder = stack.broker.settings.mail_dir
    if not (folder / "new").exists() and not (folder / "cur").exists():
        return []
    found: list[EmailMessage] = []
    for key in mailbox.Maildir(folder, create=False).iterkeys():
        raw = folder / "new" / key  # the customer has not "read" anything: all still new
        if not raw.exists():
            continue
        message = email.message_from_bytes(raw.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            found.append(message)
    return found


def wait_for_mail(stack: Stack, address: str, pattern: re.Pattern[str]) -> tuple[str, str]:
    """The newest email to ``address`` with a URL matching ``pattern``: (the URL, its HTML)."""

    def newest() -> tuple[str, str] | None:
        for message in reversed(inbox(stack, address)):
            plain = message.get_body(preferencelist=("plain",))
            rich = message.get_body(preferencelist=("html",))
            assert plain is not None, "every email has a plain-text part"
            assert rich is not None, "every email has an HTML part"
            found = pattern.search(plain.get_content())
            if found:
                return found.group(0), str(rich.get_content())
        return None

    return wait_for(newest, what=f"an email to {address} with {pattern.pattern}", timeout=30.0)


def screenshot_email(chromium: Any, html: str, name: str, tmp_path: Path) -> None:
    """Render an email's HTML part as a mail client would show it; keep it for the docs."""
    context = chromium.new_context(viewport={"width": 640, "height": 200})
    try:
        page = context.new_page()
        page.set_content(html)
        shot = tmp_path / name
        page.screenshot(path=str(shot), full_page=True)
        target = SCREENSHOTS / name
        if not target.exists() or os.environ.get("ACTAS_UPDATE_SCREENSHOTS") == "1":
            target.write_bytes(shot.read_bytes())
    finally:
        context.close()


def test_the_demo_password_reset_from_the_email(
    stack: Stack, chromium: Any, tmp_path: Path
) -> None:
    address = "omar@customer.test"
    before = len(inbox(stack, address))
    context = chromium.new_context(viewport={"width": 1000, "height": 720})
    try:
        page = context.new_page()
        page.goto(f"{stack.notes.url}/login")
        page.click("text=Forgot your password?")
        page.fill("input[name=email]", address)
        page.click("button[type=submit]")
        page.get_by_test_id("reset-sent").wait_for(timeout=10_000)

        url, html = wait_for_mail(stack, address, LINK)
        assert len(inbox(stack, address)) == before + 1
        screenshot_email(chromium, html, "email-password-reset.png", tmp_path)

        page.goto(url)  # what a click in the mail client does: a GET, which uses nothing
        assert page.locator("main[data-cause=confirm] h1").inner_text() == "Reset your password"
        page.click("text=Continue to reset my password")
        page.wait_for_url(f"{stack.notes.url}/reset")
        new_password = "a-new-and-long-passphrase"
        page.fill("input[name=password]", new_password)
        page.fill("input[name=again]", new_password)
        page.click("text=Set my new password")
        page.wait_for_url(re.compile(r"/login\?m=password-set$"))

        page.fill("input[name=email]", address)
        page.fill("input[name=password]", new_password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{stack.notes.url}/notes")
        assert "Omar" in page.get_by_test_id("who").inner_text()
        stack.notes.passwords[address] = new_password

        # the link and the reset page are spent: opening the link again says so
        page.goto(url)
        page.click("text=Continue to reset my password")
        assert page.locator("main").get_attribute("data-cause") == "link_used"
        page.goto(f"{stack.notes.url}/reset")
        assert "This reset has expired" in page.content()
    finally:
        context.close()


def test_the_kill_switch_from_the_session_started_email(
    stack: Stack, chromium: Any, tmp_path: Path
) -> None:
    lead = stack.broker.add_staff("kim", Role.SECURITY)
    address = "peter@initech.test"
    session = stack.start_session(lead, subject="u-peter", scopes=("read",), minutes=15)
    staff = chromium.new_context(viewport={"width": 1200, "height": 640})
    customer = chromium.new_context(viewport={"width": 1000, "height": 720})
    try:
        support = staff.new_page()
        support.goto(session.redirect_url)
        support.locator("actas-banner").wait_for(state="visible", timeout=10_000)

        url, html = wait_for_mail(stack, address, KILL)
        screenshot_email(chromium, html, "email-session-started.png", tmp_path)

        page = customer.new_page()
        page.goto(url)  # the GET only asks
        assert "End the support session now" in page.content()
        assert support.evaluate(IN_SHADOW, ".gone")["hidden"] is True
        page.click("text=End the support session now")
        page.locator("[role=status]").wait_for(timeout=10_000)
        said = page.locator("[role=status]").inner_text()
        ended = stack.audit(lead, session=session.id)
        assert any(event["type"] == "session.ended" for event in ended), (said, ended)

        def banner_ended() -> dict[str, Any] | None:
            state: dict[str, Any] | None = support.evaluate(IN_SHADOW, ".gone")
            return state if state and not state["hidden"] else None

        gone = wait_for(
            banner_ended,
            what="the banner to say the session ended",
            timeout=20.0,
            interval=0.25,
        )
        assert "Support session ended" in gone["text"]
    finally:
        customer.close()
        staff.close()
