"""``POST /v1/sessions/{id}/reopen`` over HTTP: the owner gets a new one-time handoff after a
fresh code; without one, or for someone else's session, a problem and nothing written."""

from __future__ import annotations

from tests.scenario import World, redeem, started_session


def test_reopen_over_the_api(world: World) -> None:
    session, first, alice = started_session(world)
    assert redeem(world, first).status_code == 200
    before = world.events()
    missing = world.client.post(f"/v1/sessions/{session}/reopen", headers=alice, json={})
    assert missing.status_code in (401, 403, 422), missing.text
    assert missing.headers["content-type"].startswith("application/problem+json")
    lead = world.as_(world.lucy)
    theirs = world.client.post(
        f"/v1/sessions/{session}/reopen", headers=lead, json={"code": world.code(world.lucy)}
    )
    assert theirs.status_code == 403, theirs.text
    assert len(world.events()) == len(before) + 1  # lucy's sign-in, nothing from the refusals

    again = world.client.post(
        f"/v1/sessions/{session}/reopen", headers=alice, json={"code": world.code(world.alice)}
    )
    assert again.status_code == 200, again.text
    body = again.json()
    assert body["session"]["id"] == session
    assert body["handoff_code"].startswith("actas_hc_")
    assert body["redirect_url"].endswith(f"?code={body['handoff_code']}")
    assert redeem(world, body["handoff_code"]).status_code == 200
    assert world.types_for_session(session)[-2:] == [
        "session.reopened",
        "session.handoff_redeemed",
    ]
