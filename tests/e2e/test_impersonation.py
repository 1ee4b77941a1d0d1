"""Support access end to end, over real HTTP: the broker and the notes app each in its own
uvicorn process, staff acting through the broker's API and browsers through cookie-keeping
clients. (Killing the broker is in test_broker_outage.py; the banner in a real browser in
test_banner_browser.py.)"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from actas.domain.audit import in_time_order
from actas.domain.roles import Role
from tests.e2e.harness import Persona, Session, Stack, answers, wait_for

PETER = "peter@initech.test"
BANNER = "<actas-banner"


@pytest.fixture
def sam(stack: Stack) -> Persona:
    """Security: may impersonate with write on an unflagged account, and reads the audit log."""
    return stack.broker.add_staff("sam", Role.SECURITY)


def impersonating(stack: Stack, staff: Persona, *scopes: str) -> tuple[Session, httpx.Client]:
    """A started session for Peter and a staff browser that has followed the handoff."""
    session = stack.start_session(staff, subject="u-peter", scopes=scopes or ("read",))
    browser = stack.browser()
    stack.handoff(browser, session)
    return session, browser


def app_events(stack: Stack, reader: Persona, session: Session, kind: str) -> list[dict[str, Any]]:
    return [e for e in stack.audit(reader, type=f"app.{kind}") if e["session"] == session.id]


def test_handoff_sets_the_sdk_cookie_and_leaves_the_users_own_session_alone(
    stack: Stack, sam: Persona
) -> None:
    customer = stack.browser()
    stack.sign_in(customer, PETER)
    customers_cookie = customer.cookies["notes_session"]
    # The staff member's browser is signed in to the app as somebody else already.
    support = stack.browser()
    stack.sign_in(support, "jane@customer.test")
    own_cookie = support.cookies["notes_session"]

    session = stack.start_session(sam, subject="u-peter")
    assert session.redirect_url.startswith(f"{stack.notes.url}/actas/handoff?code=")
    response = stack.handoff(support, session)

    assert response.headers["location"] == "/notes"
    set_cookies = response.headers.get_list("set-cookie")
    assert len(set_cookies) == 1, set_cookies
    assert set_cookies[0].startswith("actas_sdk=")
    attributes = {part.strip().lower() for part in set_cookies[0].split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= attributes
    assert response.headers["cache-control"] == "no-store"
    assert support.cookies["notes_session"] == own_cookie

    page = support.get("/notes")
    assert page.status_code == 200
    assert "Peter Gibbons" in page.text  # the subject, not the browser's own user
    assert "Jane Doe" not in page.text
    assert BANNER in page.text
    assert f'data-actas-session="{session.id}"' in page.text

    # The customer's own sign-in was never touched: same cookie, same user, no banner.
    mine = customer.get("/notes")
    assert mine.status_code == 200
    assert "Peter Gibbons" in mine.text
    assert BANNER not in mine.text
    assert customer.cookies["notes_session"] == customers_cookie
    # A handoff code works once.
    again = stack.browser().get(session.redirect_url)
    assert again.status_code == 400


def test_every_html_page_shows_the_banner(stack: Stack, sam: Persona) -> None:
    _, support = impersonating(stack, sam)
    for path in ("/notes", "/settings", "/digest"):
        page = support.get(path)
        assert page.status_code == 200, path
        assert page.text.count(BANNER) == 1, path
        assert "Time left" in page.text
        assert 'action="/actas/end"' in page.text
    # Not into assets: only HTML documents carry it.
    css = support.get("/static/notes.css")
    assert css.status_code == 200
    assert BANNER not in css.text


def test_a_write_outside_the_scopes_is_refused(stack: Stack, sam: Persona) -> None:
    session, support = impersonating(stack, sam, "read")
    title = f"refused {uuid.uuid4().hex[:8]}"
    response = support.post("/notes", data={"title": title, "body": "should not exist"})
    assert response.status_code == 403
    customer = stack.browser()
    stack.sign_in(customer, PETER)
    assert title not in customer.get("/notes").text
    refused = wait_for(
        lambda: app_events(stack, sam, session, "refused"), what="the refusal in the audit log"
    )
    assert refused[0]["data"]["method"] == "POST"
    assert refused[0]["data"]["route"] == "/notes"
    assert refused[0]["actor"] == sam.id
    assert refused[0]["subject"] == "u-peter"


def test_an_allowed_write_reaches_the_audit_log_with_the_session_id(
    stack: Stack, sam: Persona
) -> None:
    session, support = impersonating(stack, sam, "read", "write")
    title = f"written by support {uuid.uuid4().hex[:8]}"
    response = support.post("/notes", data={"title": title, "body": "fixed the export"})
    assert response.status_code == 303
    customer = stack.browser()
    stack.sign_in(customer, PETER)
    page = customer.get("/notes").text
    assert title in page
    note_id = re.search(r'data-note-id="(\d+)"', page)
    assert note_id is not None

    def posted() -> list[dict[str, Any]]:
        return [
            e for e in app_events(stack, sam, session, "request") if e["data"]["method"] == "POST"
        ]

    (event,) = wait_for(posted, what="the write in the audit log")
    assert event["session"] == session.id
    assert event["actor"] == sam.id
    assert event["subject"] == "u-peter"
    assert event["account"] == "initech"
    assert event["data"]["route"] == "/notes"
    assert event["data"]["status"] == 303
    assert event["data"]["resource"] == f"note:{note_id.group(1)}"
    assert title not in str(event)  # bodies never travel


def test_identity_changes_are_refused_even_with_write(stack: Stack, sam: Persona) -> None:
    session, support = impersonating(stack, sam, "read", "write")
    response = support.post(
        "/settings/email", data={"email": "attacker@evil.test", "password": "irrelevant"}
    )
    assert response.status_code == 403
    assert "attacker@evil.test" not in support.get("/settings").text
    (refused,) = wait_for(
        lambda: app_events(stack, sam, session, "refused"), what="the refusal in the audit log"
    )
    assert refused["data"]["route"] == "/settings/email"
    assert "protected" in refused["data"].get("detail", "")


def test_email_and_analytics_are_silenced_for_support_and_not_for_the_user(
    stack: Stack, sam: Persona
) -> None:
    session, support = impersonating(stack, sam, "read")
    before = len(stack.mail.to(PETER))
    page = support.get("/digest")
    assert page.status_code == 200
    assert "/static/analytics.js" not in page.text
    assert "No email was sent" in page.text
    # The app sends its mail inside the request: had it been sent, it would be here now.
    assert len(stack.mail.to(PETER)) == before

    def digest_event() -> list[dict[str, Any]]:
        return [
            e for e in app_events(stack, sam, session, "request") if e["data"]["route"] == "/digest"
        ]

    (event,) = wait_for(digest_event, what="the digest request in the audit log")
    assert event["data"]["suppressed"] == {"analytics": 1, "email": 1}

    customer = stack.browser()
    stack.sign_in(customer, PETER)
    mine = customer.get("/digest")
    assert mine.status_code == 200
    assert '<script src="/static/analytics.js" data-analytics="segment"' in mine.text
    assert "was emailed to peter@initech.test" in mine.text
    received = stack.mail.to(PETER)
    assert len(received) == before + 1
    assert "Your notes digest" in received[-1]["content"]


def test_a_revocation_at_the_broker_ends_the_session_on_the_next_request(
    stack: Stack, sam: Persona
) -> None:
    session, support = impersonating(stack, sam, "read")
    assert support.get("/notes").status_code == 200
    revoked = stack.staff(sam).post(
        f"/v1/sessions/{session.id}/revoke", json={"reason": "customer asked to stop"}
    )
    assert revoked.status_code == 200, revoked.text

    ended = wait_for(
        answers(support, "/notes", 401),
        what="the notes app to refuse the revoked session",
        timeout=10.0,
    )
    assert "Support session ended" in ended.text
    assert 'data-cause="revoked"' in ended.text
    assert f'href="{stack.broker.url}/console/"' in ended.text
    assert BANNER not in ended.text
    cleared = ended.headers["set-cookie"]
    assert cleared.startswith("actas_sdk=")
    assert "max-age=0" in cleared.lower() or "expires=" in cleared.lower()
    assert "actas_sdk" not in support.cookies
    # Without the cookie the browser is nobody here again.
    assert support.get("/notes").headers["location"] == "/login"


def test_end_in_the_banner_ends_the_session_at_the_broker(stack: Stack, sam: Persona) -> None:
    session, support = impersonating(stack, sam, "read")
    page = support.get("/notes").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    # Without its token the End form is refused (a cross-site page cannot end sessions).
    assert support.post("/actas/end", data={}).status_code == 403
    response = support.post("/actas/end", data={"csrf": csrf.group(1)})
    assert response.status_code == 303
    # Staff land on "support session ended" with the way back to the console, not on the
    # app's sign-in page.
    assert response.headers["location"] == "/actas/ended?cause=ended"
    landing = support.get(response.headers["location"])
    assert "<h1>Support session ended</h1>" in landing.text
    assert f'href="{stack.broker.url}/console/"' in landing.text
    assert "actas_sdk" not in support.cookies
    state = stack.staff(sam).get(f"/v1/sessions/{session.id}").json()
    assert state["ended_at"] is not None
    assert state["end_reason"] == "ended_by_staff"

    # The trail in the order things happened (as the console's timeline and the tour show it):
    # the End request, then the session.ended it caused, though its event arrived later.
    def trail() -> list[tuple[str, object]] | None:
        events = [e for e in stack.audit(sam) if e["session"] == session.id]
        if not any(e["data"].get("route") == "/actas/end" for e in events):
            return None  # the SDK ships its events in the background
        return [(str(e["type"]), e["data"].get("route")) for e in in_time_order(events)]

    shown = wait_for(trail, what="the app's End event", timeout=20.0, interval=0.25)
    assert shown[-2:] == [("app.request", "/actas/end"), ("session.ended", None)], shown
