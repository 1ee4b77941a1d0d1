"""Finding 12: a revocation with no reason was accepted. Revoking (which is how anyone ends a
session that is not theirs) now needs a reason, non-empty and bounded; it is in the audit
event and shown to the session's owner in the console."""

from __future__ import annotations

import pytest

from actas.domain.roles import Role
from tests.scenario import World, started_session
from tests.test_api_cross_site import console_client


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_revocation_without_a_reason_is_refused_and_ends_nothing(
    world: World, body: dict[str, str]
) -> None:
    session, _, alice = started_session(world)
    lucy = world.as_(world.lucy)
    before = len(world.events())
    response = world.client.post(f"/v1/sessions/{session}/revoke", headers=lucy, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert world.client.get(f"/v1/sessions/{session}", headers=alice).json()["ended_at"] is None
    assert len(world.events()) == before


def test_the_reason_is_in_the_log_and_shown_to_the_owner(world: World) -> None:
    session, _, alice = started_session(world)
    lucy = world.as_(world.lucy)
    why = "Customer <withdrew> consent on the phone"
    response = world.client.post(
        f"/v1/sessions/{session}/revoke", headers=lucy, json={"reason": why}
    )
    assert response.status_code == 200, response.text
    (event,) = [e for e in world.events(type="session.revoked") if e["session"] == session]
    assert event["reason"] == why
    assert event["actor"] == world.lucy.id
    seen = world.client.get(f"/v1/sessions/{session}", headers=alice).json()
    assert (seen["end_reason"], seen["end_note"]) == ("revoked", why)
    browser = console_client(world, Role.AGENT, "", who=world.alice)
    page = browser.get(f"/console/sessions/{session}").text
    assert "Reason given" in page
    assert "Customer &lt;withdrew&gt; consent on the phone" in page  # escaped, never markup
    browser.close()


def test_the_console_refuses_a_blank_reason(world: World) -> None:
    session, _, alice = started_session(world)
    browser = console_client(world, Role.LEAD, "", who=world.lucy)
    page = browser.get(f"/console/sessions/{session}")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert 'name="reason" maxlength="500" required' in page.text
    response = browser.post(
        f"/console/sessions/{session}/revoke",
        data={"csrf_token": token, "reason": " "},
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text
    assert world.client.get(f"/v1/sessions/{session}", headers=alice).json()["ended_at"] is None
    browser.close()
