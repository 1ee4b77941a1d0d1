"""The console's main paths, walked in Debian's Chromium as a person would: sign in with TOTP,
find a customer, open a case, see a decision that needs approval, have a second person approve
it in another browser, step up and start, land at the application's handoff URL, revoke from
the live sessions page; a security user filters the audit log; an agent is refused it.

Every page visited is checked by axe-core (no serious or critical violation) and by the CSP
listener of ``open_page`` (no violation, no script error); the main ones are photographed
into ``docs/screenshots``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from actas.domain.audit import AuditQuery
from actas.services import audit as audit_service
from actas.services import sessions as sessions_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe, shoot

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def test_sign_in_find_case_approval_start_handoff_and_revoke(
    open_page: PageFactory, console: Console
) -> None:
    alice = open_page(timezone_id="America/New_York")
    alice.goto("/console/login")
    run_axe(alice, "sign in")
    shoot(alice, "sign-in")
    sign_in(alice, console, "alice")

    # Find a customer: the account's flags shown plainly, and the consent (none yet).
    alice.get_by_label("Email, name, user id or account").fill("jane")
    alice.get_by_role("button", name="Search").click()
    alice.wait_for_url("**/console/search?q=jane")
    row = alice.get_by_role("row").filter(has_text="Jane Doe")
    expect(row).to_contain_text("Flagged")
    expect(row).to_contain_text("none")
    alice.get_by_label("Email, name, user id or account").fill("globex")
    alice.get_by_role("button", name="Search").click()
    expect(alice.get_by_role("row").filter(has_text="Hank Scorpio")).to_contain_text("Regulated")
    run_axe(alice, "find a customer")
    shoot(alice, "find-a-customer")
    alice.get_by_label("Email, name, user id or account").fill("jane@customer.test")
    alice.get_by_role("button", name="Search").click()
    alice.get_by_role("link", name="Jane Doe").click()
    alice.wait_for_url("**/console/subjects/notes/u-1")
    expect(alice.locator("dl.facts")).to_contain_text("Customer's consent")
    run_axe(alice, "customer")

    # Open a case and record what the customer sees.
    alice.get_by_label("Ticket reference").fill("ZD-4711")
    alice.get_by_label("Reason").select_option("bug_reproduction")
    alice.get_by_label("What the customer needs").fill("Export button fails with error 500")
    alice.get_by_role("button", name="Open case").click()
    alice.wait_for_url(re.compile(r".*/console/cases/[0-9a-f-]+\?done=case_opened$"))
    expect(alice.get_by_role("status")).to_have_text("The case is open.")
    alice.get_by_label("Device").fill("MacBook Air")
    alice.get_by_label("Browser", exact=True).fill("Firefox 140")
    alice.get_by_label("Steps to reproduce").fill("Reports, Export, CSV")
    alice.get_by_label("Does it happen again?").select_option("yes")
    alice.get_by_role("button", name="Record observation").click()
    expect(alice.get_by_role("status")).to_have_text("The note is recorded.")
    expect(alice.locator("ol.notes")).to_contain_text("Firefox 140")
    run_axe(alice, "case")
    shoot(alice, "case")

    # Ask for access: the decision and its reasons show before submitting, and follow edits.
    alice.get_by_role("link", name="Ask for access").click()
    alice.wait_for_url("**/access")
    decision = alice.locator("#decision-body")
    expect(decision).to_contain_text(
        "needs approval by a lead or security because the account is flagged"
    )
    alice.get_by_label("Minutes").fill("45")
    expect(decision).to_contain_text("45 minutes is over the agent maximum of 20")
    alice.get_by_label("Minutes").fill("15")
    expect(decision).to_contain_text("Needs approval before you can start")
    run_axe(alice, "ask for access")
    shoot(alice, "ask-for-access")
    alice.get_by_role("button", name="Ask for access").click()
    alice.wait_for_url(re.compile(r".*/console/requests/[0-9a-f-]+$"))
    expect(alice.locator("#request-status")).to_contain_text("Waiting for approval")
    run_axe(alice, "request waiting")

    # A lead approves in another browser context; the requester could not.
    lucy = open_page()
    sign_in(lucy, console, "lucy")
    lucy.get_by_role("link", name="Approvals").click()
    card = lucy.get_by_role("article").filter(has_text="Alice asks to impersonate Jane Doe")
    expect(card).to_contain_text("ZD-4711")
    expect(card).to_contain_text("15 minutes")
    run_axe(lucy, "approvals")
    shoot(lucy, "approvals")
    card.get_by_label("Comment").fill("Checked ZD-4711")
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.get_by_role("status")).to_have_text("You approved the request.")

    # The request page updates by itself; step up with a fresh code and start.
    alice.get_by_label("Authenticator code").fill(console.code("alice"))
    alice.get_by_role("button", name="Start", exact=True).click()
    alice.wait_for_url(f"{console.landing.origin}/actas/handoff?code=*")
    code = parse_qs(urlsplit(alice.url).query)["code"][0]
    assert code.startswith("actas_hc_")
    expect(alice.get_by_role("heading", level=1)).to_have_text("Notes: handoff received")

    # Revoke from the live sessions page and see the session end.
    lucy.get_by_role("link", name="Live sessions").click()
    row = lucy.get_by_role("row").filter(has_text="Jane Doe")
    expect(row).to_contain_text("Alice")
    expect(row.locator(".countdown")).to_contain_text(re.compile(r"1[45] min \d\d s left"))
    run_axe(lucy, "live sessions")
    shoot(lucy, "live-sessions")
    row.get_by_label(re.compile("Reason for revoking")).fill("Customer called back")
    row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(lucy.get_by_role("status")).to_contain_text("The session is revoked")
    expect(lucy.get_by_role("row").filter(has_text="Jane Doe")).to_have_count(0)
    ended = audit_service.read_events(
        console.broker.services, AuditQuery(type="session.revoked", limit=10)
    )
    assert [e["reason"] for e in ended] == ["Customer called back"]
    assert not [
        s for s in sessions_service.live_sessions(console.broker.services) if s.subject_id == "u-1"
    ]

    # Alice's times are in her zone (New York), with the UTC value on hover.
    alice.goto(f"/console/sessions/{ended[0]['session']}")
    expect(alice.locator("dl.facts")).to_contain_text("revoked")
    # The owner is told why (finding 12).
    expect(alice.locator("dl.facts")).to_contain_text("Customer called back")
    started = alice.locator("time").first
    expect(started).to_contain_text("EST")
    expect(started).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    run_axe(alice, "session")


def test_security_filters_the_audit_log_and_exports_it(
    open_page: PageFactory, console: Console
) -> None:
    sam = open_page()
    sign_in(sam, console, "sam")
    sam.get_by_role("link", name="Audit").click()
    expect(sam.locator("#verify")).to_contain_text("Chain verified")
    sam.get_by_label("Event type").fill("staff.login")
    sam.get_by_label("Staff member").select_option(label="Sam (sam@staff.test)")
    sam.get_by_role("button", name="Filter").click()
    sam.wait_for_url(re.compile(r".*/console/audit\?.*type=staff\.login.*"))
    rows = sam.locator("table.audit tbody tr")
    # One per time Sam signed in (other tests of this module sign Sam in too).
    logins = audit_service.read_events(
        console.broker.services,
        AuditQuery(type="staff.login", actor=_staff_id(console, "sam@staff.test"), limit=100),
    )
    expect(rows).to_have_count(len(logins))
    expect(rows.first).to_contain_text("staff.login")
    expect(rows.first).to_contain_text("Sam")
    rows.first.locator("summary").click()
    expect(rows.first.locator("pre")).to_contain_text('"type": "staff.login"')
    run_axe(sam, "audit")  # its screenshot: test_console_audit.py, with the app's events

    with sam.expect_download() as download:
        sam.get_by_role("link", name="CSV").click()
    text = Path(download.value.path()).read_text()
    # The export opens with "#" lines: its header and the signed checkpoint.
    rows = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    exported = list(csv.DictReader(io.StringIO(rows)))
    assert [e["type"] for e in exported] == ["staff.login"] * len(logins)
    with sam.expect_download() as download:
        sam.get_by_role("link", name="JSON Lines").click()
    head, *events = (
        json.loads(line) for line in Path(download.value.path()).read_text().splitlines()
    )
    assert head["type"] == "actas.audit.export"
    assert [e["type"] for e in events] == ["staff.login"] * len(logins)


def test_an_agent_is_refused_the_audit_log(open_page: PageFactory, console: Console) -> None:
    ned = open_page()
    sign_in(ned, console, "ned")
    expect(ned.get_by_role("navigation", name="Console").get_by_role("link")).to_have_text(
        ["Find a customer", "Live sessions", "Your sign-in"]
    )
    response = ned.goto("/console/audit")
    assert response is not None
    assert response.status == 403
    expect(ned.get_by_role("alert")).to_contain_text("This page is for the security role")
    run_axe(ned, "refused")
    shoot(ned, "audit-refused")
    response = ned.goto("/console/audit/export.csv")
    assert response is not None
    assert response.status == 403


def _enrolled_key(page: Any) -> str:
    return str(page.locator("code.secret").first.inner_text()).replace(" ", "")


def test_admin_adds_staff_who_enrolls_and_signs_in(
    open_page: PageFactory, console: Console
) -> None:
    import pyotp

    ada = open_page()
    sign_in(ada, console, "ada")
    ada.get_by_role("link", name="Staff").click()
    run_axe(ada, "staff")
    ada.get_by_label("Email").fill("nora@staff.test")
    ada.get_by_label("Name").fill("Nora New")
    ada.get_by_role("group", name="Roles", exact=True).get_by_label("agent").check()
    ada.get_by_role("button", name="Add staff member").click()
    expect(ada.get_by_role("heading", level=1)).to_have_text("Authenticator for Nora New")
    expect(
        ada.get_by_role("img", name=re.compile("QR code to enroll nora@staff.test"))
    ).to_be_visible()
    run_axe(ada, "enrollment")
    shoot(ada, "enrollment")
    key = _enrolled_key(ada)
    password = str(ada.locator("code.secret").nth(1).inner_text())

    # Nora enrolls the key and signs in with it.
    nora = open_page()
    nora.goto("/console/login")
    nora.get_by_label("Email").fill("nora@staff.test")
    nora.get_by_label("Password").fill(password)
    nora.get_by_label("Code from your authenticator app").fill(pyotp.TOTP(key).now())
    nora.get_by_role("button", name="Sign in", exact=True).click()
    nora.wait_for_url("**/console/search")

    # Roles change, then Nora is disabled: her session ends at once.
    ada.goto("/console/staff")
    row = ada.get_by_role("row").filter(has_text="nora@staff.test")
    row.get_by_label("lead").check()
    row.get_by_role("button", name="Save roles of Nora New").click()
    expect(ada.get_by_role("status")).to_have_text("The roles are changed.")
    row = ada.get_by_role("row").filter(has_text="nora@staff.test")
    row.get_by_role("button", name="Disable Nora New").click()
    expect(ada.get_by_role("status")).to_contain_text("disabled")
    expect(ada.get_by_role("row").filter(has_text="nora@staff.test")).to_contain_text("disabled")
    shoot(ada, "staff")
    nora.reload()
    nora.wait_for_url("**/console/login?expired=1*")
    expect(nora.get_by_role("status")).to_have_text(
        "Your session has ended. Sign in again to continue."
    )
    types = [
        e["type"]
        for e in audit_service.read_events(console.broker.services, AuditQuery(limit=1000))
        if e["actor"] == _staff_id(console, "ada@staff.test")
    ]
    assert {"staff.added", "staff.roles_changed", "staff.disabled"} <= set(types)


def _staff_id(console: Console, email: str) -> str:
    from actas.services import staff as staff_service

    return next(m.id for m in staff_service.list_staff(console.broker.services) if m.email == email)
