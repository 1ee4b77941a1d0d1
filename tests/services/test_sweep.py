"""The sweeper reads only what is due (indexed expiry and idle deadline) and runs in one
process at a time (a PostgreSQL advisory lock)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from actas.bootstrap import Broker
from actas.domain.access import EndReason, RequestState
from actas.domain.lifecycle import OPEN_STATES
from actas.domain.subjects import AccountFlag
from actas.services import handoff, requests, sessions, sweep
from actas.store.session_repos import SWEEP_LOCK
from tests.desk import Desk
from tests.services.test_lifecycle_services import _ask, _case, _redeem, _start


def _due_ids(desk: Desk) -> set[str]:
    with desk.ctx.read() as uow:
        return {s.id for s in uow.sessions.lapsed(desk.clock(), limit=100)}


def test_only_due_sessions_are_read_and_a_refresh_moves_the_idle_deadline(desk: Desk) -> None:
    short = _start(desk, _ask(desk, _case(desk), minutes=5)).session
    long = _start(desk, _ask(desk, _case(desk), minutes=20))
    assert long.handoff_code is not None
    redeemed = _redeem(desk, long.handoff_code)
    assert redeemed.refresh_handle is not None
    idle = long.session.idle_seconds
    assert _due_ids(desk) == set()
    desk.clock.advance(6 * 60)
    assert _due_ids(desk) == {short.id}  # past its expiry; the long one is neither
    # Activity just before the idle deadline moves it: not due at the old one.
    desk.clock.advance(idle - 6 * 60 - 60)
    handoff.refresh_session(
        desk.ctx,
        app=desk.app,
        session_id=long.session.id,
        refresh_handle=redeemed.refresh_handle,
        by=desk.actor(desk.alice),
    )
    desk.clock.advance(120)
    assert _due_ids(desk) == {short.id}  # the idle deadline of before the refresh has passed
    assert sweep.sweep(desk.ctx).sessions_ended == 1
    assert _due_ids(desk) == set()  # ended sessions leave the index
    desk.clock.advance(5 * 60)  # past the 20-minute expiry, before the moved idle deadline
    assert _due_ids(desk) == {long.session.id}
    assert sweep.sweep(desk.ctx).sessions_ended == 1
    ended = sessions.get_session(desk.ctx, long.session.id)
    assert ended.end_reason is EndReason.EXPIRED


def test_the_sweeper_expires_only_due_requests(desk: Desk) -> None:
    desk.set_flags(AccountFlag.FLAGGED)  # pending approval, so it can go unanswered
    request_id = _ask(desk, _case(desk))
    with desk.ctx.read() as uow:
        assert uow.requests.due(OPEN_STATES, desk.clock(), limit=10) == []
    desk.clock.advance(timedelta(days=2).total_seconds())
    with desk.ctx.read() as uow:
        assert [r.id for r in uow.requests.due(OPEN_STATES, desk.clock(), limit=10)] == [request_id]
    assert sweep.sweep(desk.ctx).requests_expired == 1
    assert requests.get_request(desk.ctx, request_id)[0].state is RequestState.EXPIRED


def test_only_one_process_sweeps(desk: Desk, broker: Broker, backend: str) -> None:
    """While another process holds the sweep claim, a sweep does nothing and says so; once it
    is released, the next sweep ends what lapsed. (SQLite serves one host: always claimed.)"""
    started = _start(desk, _ask(desk, _case(desk), minutes=5))
    desk.clock.advance(timedelta(minutes=6).total_seconds())
    if backend == "postgres":
        with broker.engine.connect() as other, other.begin():
            held = other.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK})
            assert held.scalar() is True
            skipped = sweep.sweep(desk.ctx)
            assert skipped == sweep.Swept(0, 0, claimed=False)
            assert sessions.get_session(desk.ctx, started.session.id).ended_at is None
    swept = sweep.sweep(desk.ctx)
    assert swept.claimed
    assert swept.sessions_ended == 1
