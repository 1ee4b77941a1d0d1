"""Cases, requests, decisions, sessions, handoffs, links and verifications, as answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actas.api.responses import Out
from actas.domain.access import AccessRequest, AccessSession, Case
from actas.domain.policy import Decision


class SummaryOut(Out):
    changes: str | None
    verify: str | None


class CaseOut(Out):
    id: str
    application: str
    subject: str
    account: str
    staff: str
    ticket: str
    reason_code: str
    reason: str
    status: str
    opened_at: datetime
    closed_at: datetime | None
    summary: SummaryOut | None


class NoteOut(Out):
    """A note as recorded: only the fields it was given are present."""

    id: str
    staff: str | None = None
    at: datetime
    kind: str
    text: str | None = None
    device: str | None = None
    browser: str | None = None
    steps: str | None = None
    error_text: str | None = None
    time: str | None = None
    repeatable: bool | None = None
    rung: str | None = None
    why: str | None = None
    follow_up: str | None = None


class RequestDecisionOut(Out):
    outcome: str
    reasons: list[str]
    approvals_required: int
    approver_roles: list[str]
    high_risk: bool
    review_required: bool


class RequestOut(Out):
    id: str
    case: str
    staff: str
    application: str
    subject: str
    account: str
    kind: str
    scopes: list[str]
    minutes: int
    break_glass: bool
    state: str
    decision: RequestDecisionOut
    created_at: datetime
    expires_at: datetime
    extends_session: str | None


class AnswerOut(Out):
    approver: str
    decision: str
    comment: str
    via: str
    at: datetime


class RequestDetailOut(RequestOut):
    answers: list[AnswerOut]


class DecisionOut(Out):
    outcome: str
    reasons: list[str]
    approvals_required: int
    approver_roles: list[str]
    high_risk: bool
    consent_required: bool
    approval_required: bool
    max_minutes: int


class SessionOut(Out):
    id: str
    case: str
    request: str
    staff: str
    application: str
    subject: str
    account: str
    kind: str
    scopes: list[str]
    started_at: datetime
    expires_at: datetime
    idle_timeout_seconds: int
    last_active_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    end_note: str | None
    review_required: bool


class StartedOut(Out):
    """A started (or reopened) session and its one-time handoff; an extension of a live
    session has no new handoff (both ``null``)."""

    session: SessionOut
    handoff_code: str | None
    redirect_url: str | None


class IssuedLinkOut(Out):
    id: str
    purpose: str
    subject: str
    expires_at: datetime
    status: str


class RedeemedLinkOut(Out):
    id: str
    subject: str
    account: str
    purpose: str
    issued_at: datetime
    redeemed_at: datetime


class VerificationOut(Out):
    id: str
    case: str
    method: str
    status: str
    requested_by: str
    issued_at: datetime
    expires_at: datetime
    attempts: int
    decided_at: datetime | None
    decided_by: str | None
    email: str


class CaseDetailOut(CaseOut):
    notes: list[NoteOut]
    requests: list[RequestOut]
    sessions: list[SessionOut]
    verifications: list[VerificationOut]


class StepOut(Out):
    name: str
    done: bool
    detail: str


class FlowOut(Out):
    steps: list[StepOut]
    close_out_email: str | None
    customer_confirmed: str | None


# --- shaping: the one place each domain record becomes its body ----------------------------


def case_out(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "application": case.application_id,
        "subject": case.subject_id,
        "account": case.account_id,
        "staff": case.staff_id,
        "ticket": case.ticket,
        "reason_code": case.reason_code,
        "reason": case.reason_text,
        "status": case.status.value,
        "opened_at": case.opened_at,
        "closed_at": case.closed_at,
        "summary": (
            {"changes": case.summary_changes, "verify": case.summary_verify}
            if case.closed_at
            else None
        ),
    }


def request_out(request: AccessRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "case": request.case_id,
        "staff": request.staff_id,
        "application": request.application_id,
        "subject": request.subject_id,
        "account": request.account_id,
        "kind": request.kind,
        "scopes": list(request.scopes),
        "minutes": request.minutes,
        "break_glass": request.break_glass,
        "state": request.state.value,
        "decision": {
            "outcome": request.outcome,
            "reasons": list(request.reasons),
            "approvals_required": request.approvals_required,
            "approver_roles": list(request.approver_roles),
            "high_risk": request.high_risk,
            "review_required": request.review_required,
        },
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "extends_session": request.extends_session_id,
    }


def decision_out(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": decision.outcome.value,
        "reasons": list(decision.reasons),
        "approvals_required": decision.approvals_required,
        "approver_roles": sorted(r.value for r in decision.approver_roles),
        "high_risk": decision.high_risk,
        "consent_required": decision.consent_required,
        "approval_required": decision.approval_required,
        "max_minutes": decision.max_minutes,
    }


def session_out(session: AccessSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "case": session.case_id,
        "request": session.request_id,
        "staff": session.staff_id,
        "application": session.application_id,
        "subject": session.subject_id,
        "account": session.account_id,
        "kind": session.kind,
        "scopes": list(session.scopes),
        "started_at": session.started_at,
        "expires_at": session.expires_at,
        "idle_timeout_seconds": session.idle_seconds,
        "last_active_at": session.last_active_at,
        "ended_at": session.ended_at,
        "end_reason": session.end_reason.value if session.end_reason else None,
        "end_note": session.end_note,
        "review_required": session.review_required,
    }
