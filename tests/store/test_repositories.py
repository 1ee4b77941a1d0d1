"""The repository contract: the compare-and-set and single-use guarantees the services rely
on, checked on each store adapter (SQLite and PostgreSQL) through the unit of work."""

from __future__ import annotations

from datetime import timedelta

from actas.bootstrap import Broker
from actas.domain.access import EndReason, RequestState
from actas.domain.tokens import HANDOFF_PREFIX, new_token, token_hash
from actas.services import cases, requests, sessions
from tests.desk import Desk

HANDOFF = "https://notes.test/actas/handoff"


def _session(desk: Desk) -> sessions.Started:
    staff = desk.staff(desk.alice)
    by = desk.actor(desk.alice)
    case = cases.open_case(
        desk.ctx,
        staff=staff,
        application_id="notes",
        subject_id="u-1",
        ticket="T-1",
        reason_code="bug_reproduction",
        reason_text="r",
        by=by,
    )
    request = requests.request_access(
        desk.ctx,
        staff=staff,
        case_id=case.id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=15,
        by=by,
    )
    return sessions.start_session(
        desk.ctx, staff=staff, request_id=request.id, code=desk.code(desk.alice), by=by
    )


def test_a_request_transition_is_a_compare_and_set(broker: Broker, desk: Desk) -> None:
    started = _session(desk)
    request_id = started.session.request_id
    approved = frozenset({RequestState.APPROVED})
    with broker.store.transaction() as uow:
        # The request is STARTED now: a transition from APPROVED finds nothing to change.
        assert not uow.requests.transition(
            request_id, from_states=approved, to=RequestState.EXPIRED, at=desk.clock()
        )
        stored = uow.requests.get(request_id)
        assert stored is not None
        assert stored.state is RequestState.STARTED


def test_a_handoff_code_redeems_once_and_only_where_it_is_bound(broker: Broker, desk: Desk) -> None:
    started = _session(desk)
    now = desk.clock()
    code = new_token(HANDOFF_PREFIX)
    with broker.store.transaction() as uow:
        uow.handoffs.add(
            code_hash=token_hash(code),
            session_id=started.session.id,
            application_id="notes",
            handoff_url=HANDOFF,
            issued_at=now,
            expires_at=now + timedelta(seconds=60),
        )
    with broker.store.transaction() as uow:

        def redeem(application_id: str, handoff_url: str) -> str | None:
            return uow.handoffs.redeem(
                code_hash=token_hash(code),
                application_id=application_id,
                handoff_url=handoff_url,
                at=now,
            )

        assert redeem("other", HANDOFF) is None
        assert redeem("notes", HANDOFF + "x") is None
        assert redeem("notes", HANDOFF) == started.session.id
        assert redeem("notes", HANDOFF) is None


def test_a_session_ends_once_and_a_refresh_handle_is_set_once(broker: Broker, desk: Desk) -> None:
    started = _session(desk)
    now = desk.clock()
    with broker.store.transaction() as uow:
        assert uow.sessions.set_refresh(started.session.id, refresh_hash="h1", at=now)
        assert not uow.sessions.set_refresh(started.session.id, refresh_hash="h2", at=now)
        assert not uow.sessions.touch(started.session.id, refresh_hash="h2", at=now)
        assert uow.sessions.touch(started.session.id, refresh_hash="h1", at=now)
        assert uow.sessions.end(started.session.id, at=now, reason=EndReason.REVOKED)
        assert not uow.sessions.end(started.session.id, at=now, reason=EndReason.EXPIRED)
        assert not uow.sessions.touch(started.session.id, refresh_hash="h1", at=now)


def test_totp_steps_only_move_forward(broker: Broker, desk: Desk) -> None:
    with broker.store.transaction() as uow:
        assert uow.staff.claim_totp_step(desk.alice.id, 10**9)
        assert not uow.staff.claim_totp_step(desk.alice.id, 10**9)
        assert not uow.staff.claim_totp_step(desk.alice.id, 10**9 - 1)
        assert uow.staff.claim_totp_step(desk.alice.id, 10**9 + 1)


def test_ingested_ids_are_claimed_once(broker: Broker, desk: Desk) -> None:
    started = _session(desk)
    with broker.store.transaction() as uow:
        first = uow.ingested.claim(["e-1", "e-2"], session_id=started.session.id, at=desk.clock())
        again = uow.ingested.claim(["e-2", "e-3"], session_id=started.session.id, at=desk.clock())
    assert first == {"e-1", "e-2"}
    assert again == {"e-3"}


def test_revocations_count_up_and_filter_by_application(broker: Broker, desk: Desk) -> None:
    started = _session(desk)
    with broker.store.read() as uow:
        assert uow.revocations.latest_seq() == 0
    sessions.revoke_session(
        desk.ctx,
        staff=desk.staff(desk.lucy),
        session_id=started.session.id,
        reason="test",
        by=desk.actor(desk.lucy),
    )
    with broker.store.read() as uow:
        latest = uow.revocations.latest_seq()
        assert latest >= 1
        now = desk.clock()
        assert [r.session_id for r in uow.revocations.current(now=now)] == [started.session.id]
        assert uow.revocations.current(now=now, application_id="other") == []
        assert uow.revocations.current(now=now, after_seq=latest) == []


def test_subject_search_takes_wildcards_literally(broker: Broker, desk: Desk) -> None:
    with broker.store.read() as uow:
        assert [s.id for s, _ in uow.subjects.search("jane@", limit=5)] == ["u-1"]
        assert uow.subjects.search("%", limit=5) == []
        assert uow.subjects.search("_", limit=5) == []
