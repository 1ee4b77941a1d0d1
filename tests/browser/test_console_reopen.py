"""A missed handoff link is not a dead end (issue 12 item 2), in Chromium: the owner of a live
session opens it again from the session page and from the request page, with a fresh code,
and lands at the application with a new one-time code; others see no such button."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from actas.domain.audit import Actor, AuditQuery
from actas.services import audit as audit_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe
from tests.browser.test_console_rough_edges import member

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _allowed_request(console: Console, name: str, ticket: str) -> str:
    """A request on Gavin Belson (Hooli has no flag): allowed at once."""
    from actas.services import cases as cases_service
    from actas.services import requests as requests_service

    ctx = console.broker.services
    staff = member(console, name)
    case = cases_service.open_case(
        ctx,
        staff=staff,
        application_id="notes",
        subject_id="u-4",
        ticket=ticket,
        reason_code="bug_reproduction",
        reason_text="Cannot see the export",
        by=Actor(id=staff.id),
    )
    request = requests_service.request_access(
        ctx,
        staff=staff,
        case_id=case.id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=10,
        by=Actor(id=staff.id),
    )
    assert request.state.value == "approved", request
    return request.id


def _landed_code(page: Any, console: Console) -> str:
    page.wait_for_url(f"{console.landing.origin}/actas/handoff?code=*")
    code = parse_qs(urlsplit(page.url).query)["code"][0]
    assert code.startswith("actas_hc_")
    return str(code)


def test_the_owner_opens_a_live_session_again(open_page: PageFactory, console: Console) -> None:
    request_id = _allowed_request(console, "alice", "ZD-9001")
    alice = open_page()
    sign_in(alice, console, "alice")
    alice.goto(f"/console/requests/{request_id}")
    alice.get_by_label("Authenticator code").fill(console.code("alice"))
    alice.get_by_role("button", name="Start", exact=True).click()
    first = _landed_code(alice, console)

    # The link was missed (its tab closed): back in the console, the session page offers more.
    alice.goto(f"/console/requests/{request_id}")
    alice.get_by_role("link", name="See the session").click()
    alice.wait_for_url(re.compile(r".*/console/sessions/[0-9a-f-]+$"))
    session_url = alice.url
    expect(alice.get_by_role("heading", name="Open it again")).to_be_visible()
    run_axe(alice, "session with reopen")
    # A wrong code is refused on the session's own page; nothing is handed out.
    alice.get_by_label("Authenticator code").fill("000000")
    alice.get_by_role("button", name="Open it again").click()
    expect(alice.get_by_role("alert")).to_contain_text("code is wrong")
    expect(alice).to_have_url(session_url)
    alice.get_by_label("Authenticator code").fill(console.code("alice"))
    alice.get_by_role("button", name="Open it again").click()
    expect(alice.get_by_role("heading", level=1)).to_have_text("Session opened again")
    run_axe(alice, "session opened again")
    alice.get_by_role("link", name="Continue to the application").click()
    second = _landed_code(alice, console)
    assert second != first

    # From the request page too.
    alice.goto(f"/console/requests/{request_id}")
    expect(alice.locator("#request-status")).to_contain_text("Started")
    alice.get_by_label("Authenticator code").fill(console.code("alice"))
    alice.get_by_role("button", name="Open it again").click()
    alice.get_by_role("link", name="Continue to the application").click()
    third = _landed_code(alice, console)
    assert third not in {first, second}

    session_id = session_url.rsplit("/", 1)[1]
    reopened = [
        e
        for e in audit_service.read_events(
            console.broker.services, AuditQuery(type="session.reopened", limit=100)
        )
        if e["session"] == session_id
    ]
    assert len(reopened) == 2
    assert all(e["actor"] == member(console, "alice").id for e in reopened)

    # Somebody else (a lead) sees the session but no button to open it.
    lucy = open_page()
    sign_in(lucy, console, "lucy")
    lucy.goto(session_url)
    expect(lucy.get_by_role("heading", level=1)).to_contain_text("session")
    expect(lucy.get_by_role("button", name="Open it again")).to_have_count(0)
