"""Finding 2: a case and its sessions are acted on by their owner, a lead, security or an
admin, and by nobody else. Before the fix any staff member could close another's case (ending
their live session), add notes to it and read it."""

from __future__ import annotations

from actas.domain.roles import Role
from tests.scenario import World, started_session

SUMMARY = {"changes": "nothing", "verify": "nothing to check"}


def _case_of(world: World, session: str, headers: dict[str, str]) -> str:
    return str(world.client.get(f"/v1/sessions/{session}", headers=headers).json()["case"])


def test_another_agent_cannot_close_the_case_and_end_its_session(world: World) -> None:
    session, _, alice = started_session(world)
    case = _case_of(world, session, alice)
    mallory = world.as_(world.people.add("mallory", Role.AGENT, Role.ENGINEER))
    before = len(world.events())
    closed = world.client.post(f"/v1/cases/{case}/close", headers=mallory, json=SUMMARY)
    assert closed.status_code == 403, closed.text
    assert closed.headers["content-type"] == "application/problem+json"
    # Nothing changed: the session is live, the case open, no event written.
    assert world.client.get(f"/v1/sessions/{session}", headers=alice).json()["ended_at"] is None
    assert len(world.events()) == before


def test_another_agent_can_neither_add_notes_nor_read_the_case(world: World) -> None:
    session, _, alice = started_session(world)
    case = _case_of(world, session, alice)
    mallory = world.as_(world.people.add("mallory", Role.AGENT))
    before = len(world.events())
    note = world.client.post(f"/v1/cases/{case}/notes", headers=mallory, json={"text": "hi"})
    assert note.status_code == 403, note.text
    read = world.client.get(f"/v1/cases/{case}", headers=mallory)
    assert read.status_code == 403, read.text
    assert "Export button" not in read.text
    assert len(world.events()) == before
    assert world.client.get(f"/v1/cases/{case}", headers=alice).json()["notes"] == []


def test_the_owner_and_a_lead_may_act_on_the_case(world: World) -> None:
    session, _, alice = started_session(world)
    case = _case_of(world, session, alice)
    note = world.client.post(f"/v1/cases/{case}/notes", headers=alice, json={"text": "mine"})
    assert note.status_code == 201
    lucy = world.as_(world.lucy)
    assert world.client.get(f"/v1/cases/{case}", headers=lucy).status_code == 200
    closed = world.client.post(f"/v1/cases/{case}/close", headers=lucy, json=SUMMARY)
    assert closed.status_code == 200, closed.text
    detail = world.client.get(f"/v1/sessions/{session}", headers=alice).json()
    assert detail["end_reason"] == "case_closed"
