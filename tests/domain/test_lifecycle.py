"""The request and session state machines, as truth tables: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actas.domain.access import AccessSession, EndReason, RequestState
from actas.domain.errors import Conflict
from actas.domain.lifecycle import (
    INITIAL_STATE,
    OPEN_STATES,
    REQUEST_TRANSITIONS,
    RequestEvent,
    SessionEvent,
    SessionState,
    approval_event,
    consent_event,
    session_allows,
    session_state,
    sources,
    target,
    why_over,
)
from actas.domain.policy_rules import Outcome

S = RequestState
E = RequestEvent
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

#: Every (state, event) pair and what it must lead to; None is refused.
REQUEST_TABLE: list[tuple[RequestState, RequestEvent, RequestState | None]] = [
    (S.PENDING_APPROVAL, E.APPROVE, S.APPROVED),
    (S.PENDING_APPROVAL, E.DENY, S.DENIED),
    (S.PENDING_APPROVAL, E.EXPIRE, S.EXPIRED),
    (S.PENDING_APPROVAL, E.START, None),
    (S.PENDING_APPROVAL, E.CANCEL, S.CANCELLED),
    (S.PENDING_APPROVAL, E.CONSENT, None),
    (S.PENDING_APPROVAL, E.CONSENT_THEN_APPROVAL, None),
    (S.PENDING_CONSENT, E.APPROVE, None),
    (S.PENDING_CONSENT, E.DENY, None),
    (S.PENDING_CONSENT, E.EXPIRE, S.EXPIRED),
    (S.PENDING_CONSENT, E.START, None),
    (S.PENDING_CONSENT, E.CANCEL, S.CANCELLED),
    (S.PENDING_CONSENT, E.CONSENT, S.APPROVED),
    (S.PENDING_CONSENT, E.CONSENT_THEN_APPROVAL, S.PENDING_APPROVAL),
    (S.APPROVED, E.APPROVE, None),
    (S.APPROVED, E.DENY, None),
    (S.APPROVED, E.EXPIRE, S.EXPIRED),
    (S.APPROVED, E.START, S.STARTED),
    (S.APPROVED, E.CANCEL, S.CANCELLED),
    (S.APPROVED, E.CONSENT, None),
    (S.APPROVED, E.CONSENT_THEN_APPROVAL, None),
    *[
        (final, event, None)
        for final in (S.DENIED, S.EXPIRED, S.STARTED, S.CANCELLED)
        for event in RequestEvent
    ],
]


def test_the_table_covers_every_pair() -> None:
    assert {(s, e) for s, e, _ in REQUEST_TABLE} == {(s, e) for s in S for e in E}


@pytest.mark.parametrize(("state", "event", "expected"), REQUEST_TABLE)
def test_request_transitions(
    state: RequestState, event: RequestEvent, expected: RequestState | None
) -> None:
    assert REQUEST_TRANSITIONS.get((state, event)) == expected
    assert (state in sources(event)) == (expected is not None)
    if expected is None:
        with pytest.raises(Conflict, match=f"the request is {state.value}"):
            target(state, event)
    else:
        assert target(state, event) is expected


def test_final_states_never_move_and_open_states_can_expire() -> None:
    assert frozenset({S.PENDING_APPROVAL, S.PENDING_CONSENT, S.APPROVED}) == OPEN_STATES
    assert set(INITIAL_STATE) == set(Outcome)
    assert INITIAL_STATE[Outcome.DENY] is S.DENIED


@pytest.mark.parametrize(
    ("approvals", "required", "event"),
    [(0, 1, None), (1, 1, E.APPROVE), (1, 2, None), (2, 2, E.APPROVE), (3, 2, E.APPROVE)],
)
def test_enough_approvals_make_an_approval(
    approvals: int, required: int, event: RequestEvent | None
) -> None:
    assert approval_event(approvals, required=required) is event


def _session(**changes: object) -> AccessSession:
    base = AccessSession(
        id="s",
        request_id="r",
        case_id="c",
        staff_id="st",
        application_id="notes",
        subject_id="u",
        account_id="a",
        kind="impersonate",
        scopes=(),
        started_at=NOW,
        expires_at=NOW + timedelta(minutes=30),
        idle_seconds=600,
        last_active_at=NOW,
        handoff_url="https://notes.test/actas/handoff",
        review_required=False,
    )
    return AccessSession(**{**base.__dict__, **changes})


@pytest.mark.parametrize(
    ("session", "at", "state", "why"),
    [
        (_session(), NOW, SessionState.LIVE, None),
        (_session(), NOW + timedelta(minutes=30), SessionState.LAPSED, EndReason.EXPIRED),
        (_session(), NOW + timedelta(minutes=10), SessionState.LAPSED, EndReason.IDLE_TIMEOUT),
        (
            _session(ended_at=NOW, end_reason=EndReason.REVOKED),
            NOW,
            SessionState.ENDED,
            EndReason.REVOKED,
        ),
    ],
)
def test_session_states(
    session: AccessSession, at: datetime, state: SessionState, why: EndReason | None
) -> None:
    assert session_state(session, at) is state
    assert why_over(session, at) == why
    for event in SessionEvent:
        allowed = session_allows(session, event, at)
        if state is SessionState.LIVE:
            assert allowed
        elif state is SessionState.LAPSED:
            assert allowed == (event is SessionEvent.END)
        else:
            assert not allowed


@pytest.mark.parametrize(
    ("outcome", "event"),
    [
        (Outcome.ALLOW, E.CONSENT),
        (Outcome.NEEDS_APPROVAL, E.CONSENT_THEN_APPROVAL),
        (Outcome.NEEDS_CONSENT, None),
        (Outcome.DENY, None),
    ],
)
def test_consent_moves_a_waiting_request_on_by_the_new_decision(
    outcome: Outcome, event: RequestEvent | None
) -> None:
    assert consent_event(outcome) is event
    if event is not None:
        assert S.PENDING_CONSENT in sources(event)
