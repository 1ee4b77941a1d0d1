"""What the host app's SDK reports: appended once, attributed to staff acting for the subject."""

from __future__ import annotations

import uuid
from typing import Any

from tests.scenario import World, redeem, refresh, started_session


def event(session: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "session": session,
        "kind": "request",
        "at": "2026-11-23T12:05:00Z",
        "method": "POST",
        "route": "/notes/{note_id}",
        "status": 200,
        "resource": "note:42",
        **extra,
    }


def post(world: World, events: list[dict[str, Any]]) -> Any:
    return world.client.post(
        "/v1/audit/app-events", headers=world.app_headers, json={"events": events}
    )


def test_events_are_appended_once_with_the_actor(world: World) -> None:
    session, _, _ = started_session(world)
    batch = [event(session), event(session, method="GET", status=404, resource=None)]
    first = post(world, batch)
    assert first.json() == {"received": 2, "appended": 2}
    again = post(world, batch)  # the spool resends after a crash
    assert again.json() == {"received": 2, "appended": 0}
    shipped = world.events(type="app.request")
    assert len(shipped) == 2
    assert {e["actor"] for e in shipped} == {world.alice.id}
    assert {e["subject"] for e in shipped} == {"u-1"}
    assert {e["session"] for e in shipped} == {session}
    assert shipped[0]["data"]["route"] == "/notes/{note_id}"


def test_suppressed_side_effects_are_counted(world: World) -> None:
    session, _, _ = started_session(world)
    response = post(world, [event(session, kind="suppressed", suppressed={"email": 1})])
    assert response.json()["appended"] == 1
    (shipped,) = world.events(type="app.suppressed")
    assert shipped["data"]["suppressed"] == {"email": 1}


def test_events_for_unknown_or_foreign_sessions_are_refused(world: World) -> None:
    response = post(world, [event(str(uuid.uuid4()))])
    assert response.status_code == 404
    assert not world.events(type="app.request")


def test_bodies_and_query_values_have_nowhere_to_go(world: World) -> None:
    session, _, _ = started_session(world)
    response = post(world, [event(session, body="secret")])
    assert response.status_code == 422


def test_the_banner_end_button_ends_the_session(world: World) -> None:
    session, code, _ = started_session(world)
    handle = redeem(world, code).json()["refresh_handle"]
    wrong = world.client.post(
        f"/v1/sessions/{session}/app-end",
        headers=world.app_headers,
        json={"refresh_handle": "actas_rh_" + "B" * 43},
    )
    assert wrong.status_code == 400
    ended = world.client.post(
        f"/v1/sessions/{session}/app-end",
        headers=world.app_headers,
        json={"refresh_handle": handle},
    )
    assert ended.json()["end_reason"] == "ended_by_staff"
    assert refresh(world, session, handle).status_code == 400
    last = [e for e in world.events() if e["session"] == session][-1]
    assert last["type"] == "session.ended"
    assert last["actor"] == world.alice.id
