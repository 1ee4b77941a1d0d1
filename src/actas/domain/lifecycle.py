"""The state machines of an access request and of a session, as explicit transition tables.

Services ask these tables which states an event may leave from (for the compare-and-set in the
store) and which state it leads to; they never restate a rule. A pair missing from a table is
an event that state refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from actas.domain.access import AccessSession, EndReason, RequestState
from actas.domain.errors import Conflict
from actas.domain.policy_rules import Outcome

S = RequestState


class RequestEvent(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    EXPIRE = "expire"
    START = "start"
    CANCEL = "cancel"
    #: The customer's consent arrived and the policy now allows the request outright.
    CONSENT = "consent"
    #: The customer's consent arrived and the request now waits for approval.
    CONSENT_THEN_APPROVAL = "consent_then_approval"


REQUEST_TRANSITIONS: Mapping[tuple[RequestState, RequestEvent], RequestState] = {
    (S.PENDING_APPROVAL, RequestEvent.APPROVE): S.APPROVED,
    (S.PENDING_APPROVAL, RequestEvent.DENY): S.DENIED,
    (S.PENDING_APPROVAL, RequestEvent.EXPIRE): S.EXPIRED,
    (S.PENDING_CONSENT, RequestEvent.EXPIRE): S.EXPIRED,
    (S.PENDING_CONSENT, RequestEvent.CONSENT): S.APPROVED,
    (S.PENDING_CONSENT, RequestEvent.CONSENT_THEN_APPROVAL): S.PENDING_APPROVAL,
    (S.APPROVED, RequestEvent.EXPIRE): S.EXPIRED,
    (S.APPROVED, RequestEvent.START): S.STARTED,
    (S.PENDING_APPROVAL, RequestEvent.CANCEL): S.CANCELLED,
    (S.PENDING_CONSENT, RequestEvent.CANCEL): S.CANCELLED,
    (S.APPROVED, RequestEvent.CANCEL): S.CANCELLED,
}

#: The state a new request takes from the policy's decision.
INITIAL_STATE: Mapping[Outcome, RequestState] = {
    Outcome.ALLOW: S.APPROVED,
    Outcome.NEEDS_APPROVAL: S.PENDING_APPROVAL,
    Outcome.NEEDS_CONSENT: S.PENDING_CONSENT,
    Outcome.DENY: S.DENIED,
}

#: States in which a request still waits for something (and can expire or be cancelled).
OPEN_STATES = frozenset(
    state for state, event in REQUEST_TRANSITIONS if event is RequestEvent.EXPIRE
)


def sources(event: RequestEvent) -> frozenset[RequestState]:
    """The states ``event`` may leave from."""
    return frozenset(state for state, on in REQUEST_TRANSITIONS if on is event)


def target(state: RequestState, event: RequestEvent) -> RequestState:
    """The state ``event`` leads to from ``state``; a refused pair is a :class:`Conflict`."""
    to = REQUEST_TRANSITIONS.get((state, event))
    if to is None:
        raise Conflict(f"the request is {state.value}; it cannot {event.value}")
    return to


def approval_event(approvals: int, *, required: int) -> RequestEvent | None:
    """The event that ``approvals`` distinct approvals make: APPROVE once there are enough,
    otherwise none (the request keeps waiting for the next approver)."""
    return RequestEvent.APPROVE if approvals >= required else None


def consent_event(outcome: Outcome) -> RequestEvent | None:
    """The event a request waiting for consent takes when the policy, asked again after the
    customer's consent arrived, says ``outcome``; None: it keeps waiting (or expires)."""
    return {
        Outcome.ALLOW: RequestEvent.CONSENT,
        Outcome.NEEDS_APPROVAL: RequestEvent.CONSENT_THEN_APPROVAL,
    }.get(outcome)


class SessionState(StrEnum):
    LIVE = "live"
    #: Past its hard expiry or idle limit, but its end not recorded yet.
    LAPSED = "lapsed"
    ENDED = "ended"


class SessionEvent(StrEnum):
    HANDOFF = "handoff"
    REFRESH = "refresh"
    EXTEND = "extend"
    END = "end"


SESSION_TRANSITIONS: Mapping[tuple[SessionState, SessionEvent], SessionState] = {
    (SessionState.LIVE, SessionEvent.HANDOFF): SessionState.LIVE,
    (SessionState.LIVE, SessionEvent.REFRESH): SessionState.LIVE,
    (SessionState.LIVE, SessionEvent.EXTEND): SessionState.LIVE,
    (SessionState.LIVE, SessionEvent.END): SessionState.ENDED,
    # A lapsed session is over; recording its end (with the lapse or a revocation) is allowed.
    (SessionState.LAPSED, SessionEvent.END): SessionState.ENDED,
}


def session_state(session: AccessSession, now: datetime) -> SessionState:
    if session.ended_at is not None:
        return SessionState.ENDED
    if session.lapse_reason(now) is not None:
        return SessionState.LAPSED
    return SessionState.LIVE


def session_allows(session: AccessSession, event: SessionEvent, now: datetime) -> bool:
    return (session_state(session, now), event) in SESSION_TRANSITIONS


def why_over(session: AccessSession, now: datetime) -> EndReason | None:
    """Why a session is over at ``now``: its recorded end reason, or its lapse."""
    if session.ended_at is not None:
        return session.end_reason
    return session.lapse_reason(now)
