"""An admin sets an account's flags from the console: audited, and no_access ends the live
session at once; anyone else is refused and nothing changes."""

from __future__ import annotations

from tests.scenario import World, redeem, started_session
from tests.test_console import Staffer, staffers

__all__ = ["staffers"]

FLAGS = "/console/accounts/notes/acme/flags"


def test_an_admin_sets_flags_and_no_access_ends_the_live_session(
    world: World, staffers: dict[str, Staffer]
) -> None:
    page = staffers["boss"].get("/console/subjects/notes/u-1")
    assert 'name="flags" value="no_access"' in page.text
    assert 'name="flags"' not in staffers["alice"].get("/console/subjects/notes/u-1").text
    session, code, _ = started_session(world)
    redeem(world, code)
    refused = staffers["lucy"].post(FLAGS, {"flags": ["no_access"], "subject": "u-1"})
    assert refused.status_code == 403
    assert world.types_for_session(session)[-1] != "session.revoked"
    done = staffers["boss"].post(FLAGS, {"flags": ["no_access", "flagged"], "subject": "u-1"})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/subjects/notes/u-1"
    assert world.types_for_session(session)[-1] == "session.revoked"
    (event,) = world.events(type="account.flags_set")
    assert event["data"]["flags"] == ["flagged", "no_access"]
    bad = staffers["boss"].post(FLAGS, {"flags": ["closed"], "subject": "u-1"})
    assert bad.status_code == 422
    assert len(world.events(type="account.flags_set")) == 1
