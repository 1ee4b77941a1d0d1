"""An assist session end to end, over real HTTP: the staff member stays themselves (the app
loads no customer), sees the banner, and can run only the admin action its scopes name, on
that one account; the email that action exists to send does reach the customer."""

from __future__ import annotations

import pytest

from actas.domain.roles import Role
from tests.e2e.harness import Persona, Stack, wait_for

PETER = "peter@initech.test"
BANNER = "<actas-banner"


@pytest.fixture
def sam(stack: Stack) -> Persona:
    return stack.broker.add_staff("sam", Role.SECURITY)


def test_an_assist_session_runs_only_its_admin_action_as_the_staff_member(
    stack: Stack, sam: Persona
) -> None:
    session = stack.start_session(
        sam, subject="u-peter", scopes=("admin:verify_email",), kind="assist"
    )
    support = stack.browser()
    landing = stack.handoff(support, session)
    assert landing.headers["location"] == "/support/admin"

    page = support.get("/support/admin")
    assert page.status_code == 200, page.text
    assert BANNER in page.text
    assert "not signed in as the customer" in page.text
    assert "admin:verify_email" in page.text

    # The customer's own pages are not the staff member's: refused, no user loaded.
    notes = support.get("/notes")
    assert notes.status_code == 403
    assert "only the admin actions the session names" in notes.text
    assert support.post("/notes", data={"title": "x", "body": "y"}).status_code == 403
    assert support.get("/settings").status_code == 403

    before = len(stack.mail.to(PETER))
    sent = support.post("/support/admin/resend-verification")
    assert sent.status_code == 303, sent.text
    wait_for(lambda: len(stack.mail.to(PETER)) > before or None, what="the verification email")
    assert "sent again" in support.get("/support/admin?sent=1").text

    def refused() -> list[dict[str, object]] | None:
        events = [e for e in stack.audit(sam, type="app.refused") if e["session"] == session.id]
        return events if len(events) >= 3 else None

    wait_for(refused, what="three refusals in the audit log")


def test_an_assist_session_without_the_action_in_its_scopes_runs_nothing(
    stack: Stack, sam: Persona
) -> None:
    session = stack.start_session(
        sam, subject="u-peter", scopes=("admin:reset_mfa",), kind="assist"
    )
    support = stack.browser()
    stack.handoff(support, session)
    assert support.get("/support/admin").status_code == 403
    assert support.post("/support/admin/resend-verification").status_code == 403
    assert support.get("/notes").status_code == 403
