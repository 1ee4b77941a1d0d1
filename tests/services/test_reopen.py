"""A missed handoff link is not a dead end: the owner of a live session opens it again with a
fresh TOTP code and gets a new one-time code, audited as ``session.reopened``. Nobody else may,
nor for an ended session, nor with a used or wrong code; a refusal writes nothing."""

from __future__ import annotations

import pytest

from actas.domain.errors import Conflict, Forbidden, InvalidGrant, NotFound, StepUpRequired
from actas.services import handoff, sessions
from tests.desk import Desk
from tests.services.test_lifecycle_services import _ask, _case, _redeem, _start


def _live(desk: Desk) -> sessions.Started:
    return _start(desk, _ask(desk, _case(desk)))


def test_the_owner_reopens_a_live_session_after_the_link_expired(desk: Desk) -> None:
    started = _live(desk)
    assert started.handoff_code is not None
    desk.clock.advance(90)  # the first link (60 s) is gone
    with pytest.raises(InvalidGrant):
        _redeem(desk, started.handoff_code)
    again = sessions.reopen(
        desk.ctx,
        staff=desk.staff(desk.alice),
        session_id=started.session.id,
        code=desk.code(desk.alice),
        by=desk.actor(desk.alice),
    )
    assert again.session.id == started.session.id
    assert again.handoff_code is not None
    assert again.handoff_code != started.handoff_code
    assert again.redirect_url == f"https://notes.test/actas/handoff?code={again.handoff_code}"
    redeemed = _redeem(desk, again.handoff_code)
    assert redeemed.session.id == started.session.id
    with pytest.raises(InvalidGrant):
        _redeem(desk, again.handoff_code)  # the new code is one-time too
    assert desk.types()[-2:] == ["session.reopened", "session.handoff_redeemed"]


def _refused(desk: Desk, session_id: str, code: str | None, who: str = "alice") -> None:
    before = desk.types()
    persona = desk.alice if who == "alice" else desk.lucy
    with pytest.raises((Forbidden, Conflict, StepUpRequired, NotFound)):
        sessions.reopen(
            desk.ctx,
            staff=desk.staff(persona),
            session_id=session_id,
            code=code,
            by=desk.actor(persona),
        )
    # A refused reopening changes nothing; a wrong authenticator code is itself audited (and
    # counted by the step-up throttle), as every failed step-up is.
    after = [t for t in desk.types()[len(before) :] if t != "staff.step_up_failed"]
    assert desk.types()[: len(before)] == before
    assert after == [], "a refused reopening writes nothing else"


def test_reopening_needs_a_fresh_code(desk: Desk) -> None:
    started = _live(desk)
    _refused(desk, started.session.id, None)
    _refused(desk, started.session.id, "000000")
    used = desk.code(desk.alice)
    sessions.reopen(
        desk.ctx,
        staff=desk.staff(desk.alice),
        session_id=started.session.id,
        code=used,
        by=desk.actor(desk.alice),
    )
    _refused(desk, started.session.id, used)  # a code works once


def test_only_the_owner_and_only_while_live(desk: Desk) -> None:
    started = _live(desk)
    _refused(desk, started.session.id, desk.code(desk.lucy), who="lucy")
    _refused(desk, "no-such-session", desk.code(desk.alice))
    sessions.end_session(
        desk.ctx,
        staff=desk.staff(desk.alice),
        session_id=started.session.id,
        by=desk.actor(desk.alice),
    )
    _refused(desk, started.session.id, desk.code(desk.alice))
    lapsed = _live(desk)
    desk.clock.advance(16 * 60)  # past its 15 minutes, before the sweeper ran
    _refused(desk, lapsed.session.id, desk.code(desk.alice))


def test_reopening_moves_a_handed_off_session_to_the_new_link(desk: Desk) -> None:
    """The link was used, then the tab (and the app's cookie) lost: reopening works too, and
    the browser that had the session can no longer refresh it."""
    started = _live(desk)
    assert started.handoff_code is not None
    old = _redeem(desk, started.handoff_code)
    assert old.refresh_handle is not None
    again = sessions.reopen(
        desk.ctx,
        staff=desk.staff(desk.alice),
        session_id=started.session.id,
        code=desk.code(desk.alice),
        by=desk.actor(desk.alice),
    )
    assert again.handoff_code is not None
    new = _redeem(desk, again.handoff_code)
    assert new.refresh_handle not in (None, old.refresh_handle)
    with pytest.raises(InvalidGrant):
        handoff.refresh_session(
            desk.ctx,
            app=desk.app,
            session_id=started.session.id,
            refresh_handle=old.refresh_handle,
            by=desk.actor(desk.alice),
        )
    assert new.refresh_handle is not None
    handoff.refresh_session(
        desk.ctx,
        app=desk.app,
        session_id=started.session.id,
        refresh_handle=new.refresh_handle,
        by=desk.actor(desk.alice),
    )
