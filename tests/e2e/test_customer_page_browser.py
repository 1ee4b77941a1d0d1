"""The customer page in a real browser (Playwright, Debian's Chromium), reached the way a
customer reaches it: signed in to Notes, *Settings → Support access*. The customer grants and
revokes access, generates a support access code and downloads the history; an account admin
changes the account's policy. Each page passes axe-core; screenshots go to docs/screenshots/
(rewritten only with ``ACTAS_UPDATE_SCREENSHOTS=1``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from actas.domain.roles import Role
from actas.verifier.export_check import verify_export
from tests.browser.harness import run_axe, shoot
from tests.e2e.harness import Stack
from tests.e2e.test_customer_browser import chromium

__all__ = ["chromium"]

pytestmark = pytest.mark.browser


def _sign_in_to_the_page(stack: Stack, browser: Any, email: str) -> Any:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{stack.notes.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", stack.notes.passwords[email])
    page.click("button[type=submit]")
    page.wait_for_url(f"{stack.notes.url}/notes")
    page.goto(f"{stack.notes.url}/settings")
    page.get_by_test_id("support-access").click()
    page.wait_for_url(f"{stack.broker.url}/customer/page")
    return page


def test_a_customer_grants_revokes_makes_a_code_and_downloads_the_history(
    stack: Stack, chromium: Any
) -> None:
    security = stack.broker.add_staff("sue", Role.SECURITY)
    stack.start_session(security, subject="u-peter", scopes=("read",), minutes=15)
    page = _sign_in_to_the_page(stack, chromium, "peter@initech.test")
    try:
        assert "Support access to your" in page.locator("h1").inner_text()
        assert "Your account's policy" not in page.content()  # Peter is no account admin
        assert "Sue" in page.locator("#history-h + table").inner_text()
        run_axe(page, "the customer page")

        page.check("input[name=minutes][value='1440']")
        page.get_by_role("button", name="Grant access").click()
        page.wait_for_url(re.compile(r"done=granted"))
        assert "Revoke access until" in page.content()
        run_axe(page, "the customer page with a grant")
        shoot(page, "customer-page")

        page.get_by_role("button", name="Generate a code").click()
        code = page.locator("strong.code").inner_text()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}", code)
        shoot(page, "customer-page-code")

        page.locator("button", has_text="Revoke access until").click()
        page.wait_for_url(re.compile(r"done=revoked"))
        assert "Support has no access you granted" in page.content()

        with page.expect_download() as csv_download:
            page.click("text=CSV")
        csv_text = Path(csv_download.value.path()).read_text(encoding="utf-8")
        assert csv_text.startswith("session,staff_name,staff_roles")
        assert "Sue" in csv_text
        with page.expect_download() as jsonl_download:
            page.click("text=JSON Lines")
        lines = Path(jsonl_download.value.path()).read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["staff_name"] for line in lines] == ["Sue"]
    finally:
        page.context.close()


def test_an_account_admin_changes_the_accounts_policy(stack: Stack, chromium: Any) -> None:
    page = _sign_in_to_the_page(stack, chromium, "omar@customer.test")
    try:
        page.check("input[name=rule][value=consent]")
        page.check("input[name=notify]")
        page.get_by_role("button", name="Save the policy").click()
        page.wait_for_url(re.compile(r"done=policy"))
        assert page.is_checked("input[name=rule][value=consent]")
        assert page.is_checked("input[name=notify]")
        run_axe(page, "the customer page of an account admin")
        page.locator("#policy-h").scroll_into_view_if_needed()
        shoot(page, "customer-page-policy")

        # The admin takes the account's audit log with its proofs, and checks it offline
        # against the keys the broker publishes.
        page.locator("#proof-h").evaluate("heading => heading.scrollIntoView()")
        shoot(page, "customer-page-audit")
        with page.expect_download() as audit_download:
            page.get_by_role("link", name="everything").click()
        path = Path(audit_download.value.path())
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        jwks = page.request.get(f"{stack.broker.url}/.well-known/jwks.json").json()
        report = verify_export(lines, jwks)
        assert report.ok, report.summary()
        events = [json.loads(line) for line in lines[1:]]
        assert len({(e["application"], e["account"]) for e in events}) == 1
        assert "customer_page.signed_in" in {e["type"] for e in events}
    finally:
        page.context.close()


def test_support_cannot_reach_the_customer_page_from_a_support_session(stack: Stack) -> None:
    security = stack.broker.add_staff("sid", Role.SECURITY)
    session = stack.start_session(security, subject="u-peter", scopes=("read", "write"))
    browser = stack.browser()
    stack.handoff(browser, session)
    refused = browser.get("/settings/support-access")
    assert refused.status_code == 403
    assert "/customer/page" not in refused.headers.get("location", "")
