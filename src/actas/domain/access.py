"""Cases, access requests and time-boxed sessions: the third rung of the access ladder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from actas.domain.errors import InvalidInput
from actas.domain.roles import Role

#: A handoff code lives this long: enough for one browser redirect.
HANDOFF_TTL = timedelta(seconds=60)
#: Actor tokens live at most this long (DESIGN.md); the SDK refreshes them.
TOKEN_TTL = timedelta(minutes=5)
MAX_TEXT = 2000
#: A revocation's reason: required, and short enough to show in a list and a Slack message.
MAX_REASON = 500
#: Who may act on somebody else's case or session (read, add notes, close, revoke): the owner
#: always may. See :func:`may_act_on`, the one place this rule is applied.
REVOKERS = frozenset({Role.LEAD, Role.SECURITY, Role.ADMIN})


def may_act_on(*, staff_id: str, roles: frozenset[Role], owner_id: str) -> bool:
    """Whether a staff member may act on a case or session that ``owner_id`` owns.

    One rule for revoking a session, ending someone else's session, closing a case (which ends
    its owner's sessions), adding notes to it and reading it: the owner, a lead, security or an
    admin. Keyword-only so that the owner and the actor can never be swapped by position.
    """
    return staff_id == owner_id or bool(roles & REVOKERS)


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class NoteKind(StrEnum):
    NOTE = "note"
    OBSERVATION = "observation"
    #: Which rung of the access ladder was used, and why (the safe support flow, step 3).
    RUNG = "rung"
    #: What will keep it from happening again, or the follow-up task (step 5).
    PREVENTION = "prevention"


class RequestState(StrEnum):
    PENDING_CONSENT = "pending_consent"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    STARTED = "started"
    CANCELLED = "cancelled"


class EndReason(StrEnum):
    ENDED_BY_STAFF = "ended_by_staff"
    EXPIRED = "expired"
    IDLE_TIMEOUT = "idle_timeout"
    REVOKED = "revoked"
    STAFF_DISABLED = "staff_disabled"
    CASE_CLOSED = "case_closed"
    #: The customer used the kill switch in the session-started email.
    ENDED_BY_CUSTOMER = "ended_by_customer"


def bounded_text(name: str, value: str, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{name} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{name} is {len(text)} characters; at most {limit}")
    return text


@dataclass(frozen=True)
class Case:
    id: str
    application_id: str
    subject_id: str
    account_id: str
    staff_id: str
    ticket: str
    reason_code: str
    reason_text: str
    status: CaseStatus
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    summary_changes: str | None = None
    summary_verify: str | None = None


@dataclass(frozen=True)
class CaseNote:
    id: str
    case_id: str
    staff_id: str
    at: datetime
    kind: NoteKind
    body: dict[str, str | bool]


@dataclass(frozen=True)
class AccessRequest:
    id: str
    case_id: str
    staff_id: str
    application_id: str
    subject_id: str
    account_id: str
    kind: str
    scopes: tuple[str, ...]
    minutes: int
    break_glass: bool
    state: RequestState
    outcome: str
    reasons: tuple[str, ...]
    approvals_required: int
    approver_roles: tuple[str, ...]
    high_risk: bool
    review_required: bool
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    extends_session_id: str | None = None
    extension_reason: str | None = None


@dataclass(frozen=True)
class Approval:
    request_id: str
    approver_id: str
    decision: str
    comment: str
    via: str
    at: datetime


@dataclass(frozen=True)
class AccessSession:
    id: str
    request_id: str
    case_id: str
    staff_id: str
    application_id: str
    subject_id: str
    account_id: str
    kind: str
    scopes: tuple[str, ...]
    started_at: datetime
    expires_at: datetime
    idle_seconds: int
    last_active_at: datetime
    handoff_url: str
    review_required: bool
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    #: The reason a person gave when revoking it: shown to the session's owner and in the log.
    end_note: str | None = None

    def live_at(self, now: datetime) -> bool:
        return self.ended_at is None and self.lapse_reason(now) is None

    def lapse_reason(self, now: datetime) -> EndReason | None:
        """Why a session that has not been ended is over anyway, if it is."""
        if self.ended_at is not None:
            return None
        if self.expires_at <= now:
            return EndReason.EXPIRED
        if self.last_active_at + timedelta(seconds=self.idle_seconds) <= now:
            return EndReason.IDLE_TIMEOUT
        return None


@dataclass(frozen=True)
class Revocation:
    seq: int
    session_id: str
    application_id: str
    reason: str
    at: datetime
    session_expires_at: datetime

    def payload(self) -> str:
        """The JSON a revocation travels as, between replicas and to SDKs."""
        return json.dumps(
            {
                "seq": self.seq,
                "session": self.session_id,
                "application": self.application_id,
                "reason": self.reason,
                "at": self.at.isoformat(),
                "session_expires_at": self.session_expires_at.isoformat(),
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True)
class MintedToken:
    token: str
    jti: str
    expires_at: datetime


#: Kinds of event a host app's SDK ships: a request seen during impersonation, a request it
#: refused (scope or protected action), a side effect it suppressed, a background job.
APP_EVENT_KINDS = ("request", "refused", "suppressed", "job")


@dataclass(frozen=True)
class AppEvent:
    """One event shipped by the SDK. Never bodies or query values: a route template and an
    id the application chose to name."""

    id: str
    session_id: str
    kind: str
    at: datetime
    method: str | None = None
    route: str | None = None
    status: int | None = None
    resource: str | None = None
    detail: str | None = None
    suppressed: tuple[tuple[str, int], ...] = ()
