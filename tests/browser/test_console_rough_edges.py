"""The console's rough edges a newcomer hit in the first hour (issue 12 item 8), in Chromium:
a refused approval keeps the approver's comment and leaves no form address in the address
bar; unknown addresses (and a visit to a form's address) get the console's 404 page, not JSON;
the landing page and the nav say what waits; the footer names the browser's zone from the
first page on."""

from __future__ import annotations

import re
from typing import Any

import pytest

from actas.domain.access import AccessRequest
from actas.domain.audit import Actor
from actas.domain.staff import Staff
from actas.services import cases as cases_service
from actas.services import requests as requests_service
from actas.services import staff as staff_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

BY = Actor(id="browser-test")


def member(console: Console, name: str) -> Staff:
    email = console[name].email
    return next(m for m in staff_service.list_staff(console.broker.services) if m.email == email)


def waiting_request(
    console: Console, name: str, ticket: str, scopes: frozenset[str] = frozenset({"read"})
) -> AccessRequest:
    """A request by ``name`` on Jane Doe (Acme is flagged: it waits for a lead's approval)."""
    ctx = console.broker.services
    staff = member(console, name)
    case = cases_service.open_case(
        ctx,
        staff=staff,
        application_id="notes",
        subject_id="u-1",
        ticket=ticket,
        reason_code="bug_reproduction",
        reason_text="The export fails",
        by=BY,
    )
    request = requests_service.request_access(
        ctx,
        staff=staff,
        case_id=case.id,
        kind="impersonate",
        scopes=scopes,
        minutes=10,
        by=BY,
    )
    assert request.state.value == "pending_approval"
    return request


def test_a_refused_approval_keeps_the_comment_and_the_page_address(
    open_page: PageFactory, console: Console
) -> None:
    request = waiting_request(console, "vera", "ZD-8001")
    lucy = open_page()
    sign_in(lucy, console, "lucy")
    lucy.goto("/console/approvals")
    card = lucy.get_by_role("article").filter(has_text="ZD-8001")
    card.get_by_label("Comment").fill("Checked with the customer on the phone")
    # Security denies it first, while Lucy is still typing.
    requests_service.deny_request(
        console.broker.services,
        approver=member(console, "sam"),
        request_id=request.id,
        comment="Not needed",
        via="console",
        by=BY,
    )
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.get_by_role("alert")).to_contain_text("denied")
    # The page is the approvals page at its own address: a reload reads, it does not post.
    expect(lucy).to_have_url(f"{console.url}/console/approvals")
    run_axe(lucy, "approval refused")

    # On the request page, a refused answer keeps the words too.
    second = waiting_request(console, "vera", "ZD-8002")
    lucy.goto(f"/console/requests/{second.id}")
    lucy.get_by_label("Comment").fill("Looked at the ticket")
    requests_service.deny_request(
        console.broker.services,
        approver=member(console, "sam"),
        request_id=second.id,
        comment="Not needed",
        via="console",
        by=BY,
    )
    lucy.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.locator("#main .alert").first).to_contain_text("denied")
    expect(lucy).to_have_url(f"{console.url}/console/requests/{second.id}")
    lucy.reload()  # a GET: nothing is posted again, no "confirm resubmission"
    expect(lucy.get_by_role("heading", level=1)).to_have_text("Access request")


def test_a_wrong_code_keeps_the_approvers_comment(open_page: PageFactory, console: Console) -> None:
    """Impersonating with ``write`` is high risk: the approver's TOTP code is needed. A wrong
    one is refused, and the comment is still in the box, on the request's own address."""
    request = waiting_request(console, "sam", "ZD-8003", frozenset({"read", "write"}))
    assert request.high_risk
    lucy = open_page()
    sign_in(lucy, console, "lucy")
    lucy.goto("/console/approvals")
    card = lucy.get_by_role("article").filter(has_text="ZD-8003")
    card.get_by_label("Comment").fill("Fine by me: write is needed to fix the export")
    card.get_by_label("Your authenticator code (high risk)").fill("000000")
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.get_by_role("alert").first).to_be_visible()
    expect(lucy).to_have_url(f"{console.url}/console/approvals")
    card = lucy.get_by_role("article").filter(has_text="ZD-8003")
    expect(card.get_by_label("Comment")).to_have_value(
        "Fine by me: write is needed to fix the export"
    )
    expect(card.get_by_label("Your authenticator code (high risk)")).to_have_value("")
    # From the request page too.
    lucy.goto(f"/console/requests/{request.id}")
    lucy.get_by_label("Comment").fill("Second try")
    lucy.get_by_label("Your authenticator code (high risk)").fill("000000")
    lucy.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy).to_have_url(f"{console.url}/console/requests/{request.id}")
    expect(lucy.get_by_label("Comment")).to_have_value("Second try")
    # With a good code it goes through, and the words recorded are hers.
    lucy.get_by_label("Your authenticator code (high risk)").fill(console.code("lucy"))
    lucy.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.get_by_role("status")).to_have_text("You approved the request.")
    expect(lucy.locator("#request-status")).to_contain_text("Second try")


def _is_console_page(page: Any, status: int, response: Any) -> None:
    assert response is not None
    assert response.status == status
    assert response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="Back to the console")).to_be_visible()


def test_unknown_console_addresses_show_the_console_404_page(
    open_page: PageFactory, console: Console
) -> None:
    stranger = open_page()
    response = stranger.goto("/console/no-such-page")
    _is_console_page(stranger, 404, response)
    run_axe(stranger, "404 signed out")

    ned = open_page()
    sign_in(ned, console, "ned")
    response = ned.goto("/console/cases/123/nothing/here")
    _is_console_page(ned, 404, response)
    expect(ned.get_by_role("navigation", name="Console")).to_be_visible()
    # A visit to an address that takes a form: the same page, saying so.
    response = ned.goto("/console/sessions/some-session/end")
    _is_console_page(ned, 404, response)
    expect(ned.get_by_role("alert")).to_contain_text("takes a form")
    response = ned.goto("/console/logout")
    _is_console_page(ned, 404, response)
    run_axe(ned, "404 signed in")
    # Still signed in: the 404 page changed nothing.
    ned.goto("/console/search")
    expect(ned.get_by_role("heading", level=1)).to_have_text("Find a customer")
    response = ned.goto("/console")
    assert response is not None
    assert ned.url.endswith("/console/search")


def test_the_landing_page_and_nav_show_what_waits(open_page: PageFactory, console: Console) -> None:
    waiting_request(console, "eve", "ZD-8010")
    lucy = open_page()
    sign_in(lucy, console, "lucy")
    waiting = lucy.get_by_role("region", name="Waiting for you")
    expect(waiting).to_contain_text("Eve asks to impersonate Jane Doe")
    expect(waiting).to_contain_text(re.compile(r"\d+ to approve"))
    nav = lucy.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name=re.compile(r"^Approvals \(\d+\)$"))).to_be_visible()
    run_axe(lucy, "waiting for you")
    waiting.get_by_role("link", name=re.compile("Eve asks to impersonate Jane Doe")).first.click()
    expect(lucy.get_by_role("heading", level=1)).to_have_text("Access request")

    # The requester sees the request waiting on others and her open case.
    eve = open_page()
    sign_in(eve, console, "eve")
    mine = eve.get_by_role("region", name="Waiting for you")
    expect(mine).to_contain_text("your request for Jane Doe")
    expect(mine).to_contain_text("ZD-8010")


def test_the_footer_names_the_browsers_zone_from_the_first_page(
    open_page: PageFactory, console: Console
) -> None:
    page = open_page(timezone_id="Asia/Tokyo")
    page.goto("/console/login")  # no zone cookie yet: the server rendered UTC
    expect(page.locator("footer")).to_contain_text("Times are shown in Asia/Tokyo")
    expect(page.locator("footer")).to_contain_text("hover over a time to see it in UTC")
    utc = open_page(timezone_id="UTC")
    utc.goto("/console/login")
    expect(utc.locator("footer")).to_have_text("Times are shown in UTC.", use_inner_text=True)
