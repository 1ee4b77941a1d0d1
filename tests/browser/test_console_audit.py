"""The audit page as security reads it (issue 12 items 3 and 4), in Chromium: each row says
what happened inline (method, route, status, resource), to the second, with names; ``app.*``
and ``session.*`` filter by kind; a session's timeline tells everything it did in the order it
happened, the approval before it and the End before the ``session.ended`` it caused."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from actas.domain.access import AppEvent
from actas.domain.audit import Actor
from actas.services import app_events
from actas.services import applications as app_service
from actas.services import sessions as sessions_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe, shoot
from tests.browser.test_console_reopen import _allowed_request
from tests.browser.test_console_rough_edges import member

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _session_with_app_events(console: Console) -> str:
    """Alice's session on Gavin Belson: two pages seen, a note saved, then End in the app.
    The app reports its events after the broker recorded the end (a batch ships later)."""
    ctx = console.broker.services
    alice = member(console, "alice")
    by = Actor(id=alice.id, ip="127.0.0.1", user_agent="Chromium")
    started = sessions_service.start_session(
        ctx,
        staff=alice,
        request_id=_allowed_request(console, "alice", "ZD-7001"),
        code=console.code("alice"),
        by=by,
    )
    session = started.session
    at = ctx.clock()  # after session.started was written, before the end
    sessions_service.end_session(ctx, staff=alice, session_id=session.id, by=by)
    app = next(a for a in app_service.list_applications(ctx) if a.id == "notes")
    seen = [
        ("GET", "/notes", 200, None, None),
        ("POST", "/notes", 303, "note:4", None),
        ("POST", "/actas/end", 303, None, "ended by staff"),
    ]
    app_events.ingest_app_events(
        ctx,
        app=app,
        events=[
            AppEvent(
                id=str(uuid.uuid4()),
                session_id=session.id,
                kind="request",
                # Each began before the broker's end; microseconds apart in real life.
                at=at + timedelta(microseconds=10 + i),
                method=method,
                route=route,
                status=status,
                resource=resource,
                detail=detail,
            )
            for i, (method, route, status, resource, detail) in enumerate(seen)
        ],
        by=Actor(id="app:notes"),
    )
    return session.id


def test_security_reads_the_audit_and_a_session_timeline(
    open_page: PageFactory, console: Console
) -> None:
    session_id = _session_with_app_events(console)
    sam = open_page()
    sign_in(sam, console, "sam")
    sam.goto("/console/audit")
    sam.get_by_label("Event type").fill("app.*")
    sam.get_by_label("Subject (user id)").fill("u-4")
    sam.get_by_role("button", name="Filter").click()
    sam.wait_for_url(re.compile(r".*/console/audit\?.*type=app\.(\*|%2A).*"))
    rows = sam.locator("table.audit tbody tr")
    expect(rows).to_have_count(3)
    # Inline, newest first, telling the rows apart: method, route, status, resource.
    expect(rows.nth(0)).to_contain_text("POST /actas/end 303")
    expect(rows.nth(1)).to_contain_text("POST /notes 303")
    expect(rows.nth(1)).to_contain_text("resource: note:4")
    expect(rows.nth(2)).to_contain_text("GET /notes 200")
    # Names, not ids; times to the second.
    expect(rows.nth(0)).to_contain_text("Alice")
    expect(rows.nth(0)).to_contain_text("Gavin Belson")
    expect(rows.nth(0)).to_contain_text("Hooli")
    expect(rows.nth(0).locator("time")).to_have_text(re.compile(r"\d\d:\d\d:\d\d "))
    run_axe(sam, "audit with app events")
    shoot(sam, "audit")

    # A bare word is a prefix too; session.* finds the session's own events.
    sam.get_by_label("Event type").fill("session.*")
    sam.get_by_role("button", name="Filter").click()
    expect(rows.first).to_contain_text("session.ended")
    expect(sam.locator("table.audit tbody")).not_to_contain_text("app.request")

    # From the row to the session's timeline.
    rows.first.get_by_role("link", name=re.compile("Session timeline")).click()
    sam.wait_for_url(f"**/console/sessions/{session_id}/timeline")
    expect(sam.get_by_role("heading", level=1)).to_have_text("Session timeline")
    entries = sam.locator("ol.timeline > li > code")
    # Everything the session did, in order, with the notices the customer was sent about it.
    expect(entries).to_have_text(
        [
            "access.requested",
            "session.started",
            "notice.queued",
            "app.request",
            "app.request",
            "app.request",
            "session.ended",
            "notice.queued",
        ]
    )
    expect(sam.locator("ol.timeline > li").nth(5)).to_contain_text("POST /actas/end 303")
    expect(sam.locator("dl.facts")).to_contain_text("Gavin Belson")
    run_axe(sam, "session timeline")
    shoot(sam, "session-timeline")

    # Linked from the session page and the case page too.
    sam.goto(f"/console/sessions/{session_id}")
    sam.get_by_role("link", name="Session timeline").click()
    sam.wait_for_url(f"**/console/sessions/{session_id}/timeline")
    sam.get_by_role("link", name="Case").click()
    sam.get_by_role("link", name=re.compile("^timeline")).first.click()
    sam.wait_for_url("**/timeline")

    # Not for an agent: the audit log is security's.
    alice = open_page()
    sign_in(alice, console, "alice")
    response = alice.goto(f"/console/sessions/{session_id}/timeline")
    assert response is not None
    assert response.status == 403
    alice.goto(f"/console/sessions/{session_id}")
    expect(alice.get_by_role("link", name="Session timeline")).to_have_count(0)
