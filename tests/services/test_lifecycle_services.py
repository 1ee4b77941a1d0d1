"""The lifecycle through the services alone: each use case, its state and its audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from actas.domain.access import CaseStatus, EndReason, RequestState
from actas.domain.errors import Conflict, Forbidden, InvalidGrant, NoTimeLeft, StepUpRequired
from actas.domain.subjects import AccountFlag
from actas.services import cases, handoff, requests, sessions, sweep
from actas.services.handoff import Redeemed
from tests.desk import Desk

HANDOFF = "https://notes.test/actas/handoff"


def _case(desk: Desk) -> str:
    return cases.open_case(
        desk.ctx,
        staff=desk.staff(desk.alice),
        application_id="notes",
        subject_id="u-1",
        ticket="ZD-1",
        reason_code="bug_reproduction",
        reason_text="export fails",
        by=desk.actor(desk.alice),
    ).id


def _ask(desk: Desk, case_id: str, minutes: int = 15) -> str:
    return requests.request_access(
        desk.ctx,
        staff=desk.staff(desk.alice),
        case_id=case_id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=minutes,
        by=desk.actor(desk.alice),
    ).id


def _start(desk: Desk, request_id: str) -> sessions.Started:
    return sessions.start_session(
        desk.ctx,
        staff=desk.staff(desk.alice),
        request_id=request_id,
        code=desk.code(desk.alice),
        by=desk.actor(desk.alice),
    )


def _redeem(desk: Desk, code: str) -> Redeemed:
    return handoff.redeem_handoff(
        desk.ctx, app=desk.app, code=code, handoff_url=HANDOFF, by=desk.actor(desk.alice)
    )


def test_a_session_from_case_to_end(desk: Desk) -> None:
    case_id = _case(desk)
    started = _start(desk, _ask(desk, case_id))
    assert started.handoff_code is not None
    redeemed = _redeem(desk, started.handoff_code)
    assert redeemed.refresh_handle is not None
    with pytest.raises(InvalidGrant):
        _redeem(desk, started.handoff_code)  # single use
    desk.clock.advance(60)
    handoff.refresh_session(
        desk.ctx,
        app=desk.app,
        session_id=started.session.id,
        refresh_handle=redeemed.refresh_handle,
        by=desk.actor(desk.alice),
    )
    ended = sessions.end_session(
        desk.ctx,
        staff=desk.staff(desk.alice),
        session_id=started.session.id,
        by=desk.actor(desk.alice),
    )
    assert ended.end_reason is EndReason.ENDED_BY_STAFF
    with pytest.raises(Conflict):
        sessions.end_session(
            desk.ctx,
            staff=desk.staff(desk.alice),
            session_id=started.session.id,
            by=desk.actor(desk.alice),
        )
    trail = [t for t in desk.types() if t.startswith(("case.", "access.", "session."))]
    assert trail == [
        "case.opened",
        "access.requested",
        "session.started",
        "session.handoff_redeemed",
        "session.refreshed",
        "session.ended",
    ]


def test_start_needs_a_fresh_code_and_the_requester(desk: Desk) -> None:
    request_id = _ask(desk, _case(desk))
    with pytest.raises(StepUpRequired):
        sessions.start_session(
            desk.ctx,
            staff=desk.staff(desk.alice),
            request_id=request_id,
            code="000000",
            by=desk.actor(desk.alice),
        )
    with pytest.raises(Forbidden):
        sessions.start_session(
            desk.ctx,
            staff=desk.staff(desk.lucy),
            request_id=request_id,
            code=desk.code(desk.lucy),
            by=desk.actor(desk.lucy),
        )
    _start(desk, request_id)
    with pytest.raises(Conflict, match="not approved"):
        _start(desk, request_id)


def test_approval_follows_the_domain_table(desk: Desk) -> None:
    desk.set_flags(AccountFlag.FLAGGED)
    request_id = _ask(desk, _case(desk))
    request, _ = requests.get_request(desk.ctx, request_id)
    assert request.state is RequestState.PENDING_APPROVAL
    with pytest.raises(Forbidden):  # never one's own request
        requests.approve_request(
            desk.ctx,
            approver=desk.staff(desk.alice),
            request_id=request_id,
            comment="",
            via="api",
            code=None,
            by=desk.actor(desk.alice),
        )
    approved = requests.approve_request(
        desk.ctx,
        approver=desk.staff(desk.lucy),
        request_id=request_id,
        comment="ok",
        via="api",
        code=desk.code(desk.lucy),
        by=desk.actor(desk.lucy),
    )
    assert approved.state is RequestState.APPROVED
    with pytest.raises(Conflict, match="not pending approval"):
        requests.deny_request(
            desk.ctx,
            approver=desk.staff(desk.lucy),
            request_id=request_id,
            comment="changed my mind",
            via="api",
            by=desk.actor(desk.lucy),
        )


def test_closing_a_case_ends_its_session_and_cancels_its_requests(desk: Desk) -> None:
    case_id = _case(desk)
    started = _start(desk, _ask(desk, case_id))
    waiting = _ask(desk, case_id)
    closed = cases.close_case(
        desk.ctx,
        staff=desk.staff(desk.alice),
        case_id=case_id,
        changes="nothing",
        verify="nothing",
        by=desk.actor(desk.alice),
    )
    assert closed.status is CaseStatus.CLOSED
    assert sessions.get_session(desk.ctx, started.session.id).end_reason is EndReason.CASE_CLOSED
    assert requests.get_request(desk.ctx, waiting)[0].state is RequestState.CANCELLED


def test_a_refresh_in_the_last_second_is_a_clear_refusal(desk: Desk) -> None:
    """The token signer used to raise a ValueError (a 500) when the session had less than a
    second left: the refresh must answer with the domain's own error."""
    desk.clock.advance(0.7)  # the session's expiry falls inside a second, not on its edge
    started = _start(desk, _ask(desk, _case(desk), minutes=5))
    assert started.handoff_code is not None
    redeemed = _redeem(desk, started.handoff_code)
    assert redeemed.refresh_handle is not None
    expires = started.session.expires_at
    now = desk.clock()
    desk.clock.advance((expires - now).total_seconds() - 0.3)
    assert int(desk.clock().timestamp()) == int(expires.timestamp())
    with pytest.raises(NoTimeLeft, match="no time is left"):
        handoff.refresh_session(
            desk.ctx,
            app=desk.app,
            session_id=started.session.id,
            refresh_handle=redeemed.refresh_handle,
            by=desk.actor(desk.alice),
        )


def test_the_sweeper_ends_what_lapsed(desk: Desk) -> None:
    started = _start(desk, _ask(desk, _case(desk), minutes=5))
    desk.clock.advance(timedelta(minutes=6).total_seconds())
    swept = sweep.sweep(desk.ctx)
    assert swept.sessions_ended == 1
    assert sessions.get_session(desk.ctx, started.session.id).end_reason in {
        EndReason.EXPIRED,
        EndReason.IDLE_TIMEOUT,
    }
