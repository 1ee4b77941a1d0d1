"""Cases, access requests, approvals and sessions (staff), handoff and refresh (application)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from actas.api.deps import ServicesDep, StaffDep
from actas.api.responses.access import (
    CaseDetailOut,
    CaseOut,
    DecisionOut,
    NoteOut,
    RequestDetailOut,
    RequestOut,
    SessionOut,
    StartedOut,
    case_out,
    decision_out,
    request_out,
    session_out,
)
from actas.api.routes.links import verification_out
from actas.api.schemas import Strict
from actas.domain.access import (
    MAX_REASON,
    NoteKind,
    RequestState,
)
from actas.domain.policy_rules import AccessKind
from actas.services import cases as cases_service
from actas.services import decisions as decisions_service
from actas.services import requests as requests_service
from actas.services import sessions as sessions_service
from actas.services import verification as verification_service

router = APIRouter(prefix="/v1", tags=["access"])

Scope = Annotated[str, Field(min_length=1, max_length=80)]


def one_of(values: tuple[str, ...]) -> str:
    """A pattern that accepts exactly ``values`` (the domain's own list, never restated)."""
    return "^(" + "|".join(values) + ")$"


class CaseIn(Strict):
    application: str = Field(min_length=1, max_length=63)
    subject: str = Field(min_length=1, max_length=128)
    ticket: str = Field(min_length=1, max_length=200)
    reason_code: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=2000)


class NoteIn(Strict):
    kind: NoteKind = NoteKind.NOTE
    text: str | None = Field(default=None, max_length=2000)
    device: str | None = Field(default=None, max_length=2000)
    browser: str | None = Field(default=None, max_length=2000)
    steps: str | None = Field(default=None, max_length=2000)
    error_text: str | None = Field(default=None, max_length=2000)
    time: str | None = Field(default=None, max_length=200)
    repeatable: bool | None = None


class CloseIn(Strict):
    changes: str = Field(min_length=1, max_length=2000, description="What changed")
    verify: str = Field(
        min_length=1, max_length=2000, description="How the customer can verify or undo it"
    )


class RequestIn(Strict):
    case: str = Field(min_length=1, max_length=36)
    kind: str = Field(pattern=one_of(tuple(k.value for k in AccessKind)))
    scopes: list[Scope] = Field(default_factory=list, max_length=20)
    minutes: int = Field(ge=1, le=24 * 60)
    break_glass: bool = False
    extends_session: str | None = Field(default=None, max_length=36)
    extension_reason: str | None = Field(default=None, max_length=2000)


class AnswerIn(Strict):
    comment: str = Field(default="", max_length=2000)
    code: str | None = Field(default=None, min_length=6, max_length=8)
    #: A WebAuthn assertion (JSON) answering a step-up challenge, instead of ``code``.
    assertion: str | None = Field(default=None, min_length=2, max_length=65536)


class StartIn(Strict):
    code: str | None = Field(default=None, min_length=6, max_length=8)
    assertion: str | None = Field(default=None, min_length=2, max_length=65536)


class RevokeIn(Strict):
    reason: str = Field(
        min_length=1,
        max_length=MAX_REASON,
        description="Why: required, recorded in the audit log and shown to the session's owner",
    )


# --- cases -----------------------------------------------------------------------------------


@router.post("/cases", status_code=201, summary="Open a case for a subject", response_model=CaseOut)
def open_case(body: CaseIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    case = cases_service.open_case(
        ctx,
        staff=caller.staff,
        application_id=body.application,
        subject_id=body.subject,
        ticket=body.ticket,
        reason_code=body.reason_code,
        reason_text=body.reason,
        by=caller.actor,
    )
    return case_out(case)


@router.get(
    "/cases/{case_id}",
    summary="A case with its notes, requests and sessions",
    response_model=CaseDetailOut,
    response_model_exclude_unset=True,
)
def get_case(case_id: str, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    detail = cases_service.case_detail(ctx, case_id, staff=caller.staff)
    return {
        **case_out(detail.case),
        "notes": [
            {"id": n.id, "staff": n.staff_id, "at": n.at, "kind": n.kind.value, **n.body}
            for n in detail.notes
        ],
        "requests": [request_out(r) for r in detail.requests],
        "sessions": [session_out(s) for s in detail.sessions],
        "verifications": [
            verification_out(v) for v in verification_service.verifications_for_case(ctx, case_id)
        ],
    }


@router.post(
    "/cases/{case_id}/notes",
    status_code=201,
    summary="Record a note or observation",
    response_model=NoteOut,
    response_model_exclude_unset=True,
)
def add_note(case_id: str, body: NoteIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    fields = body.model_dump(exclude={"kind"}, exclude_none=True)
    note = cases_service.add_note(
        ctx,
        staff=caller.staff,
        case_id=case_id,
        kind=body.kind,
        body=fields,
        by=caller.actor,
    )
    return {"id": note.id, "at": note.at, "kind": note.kind.value, **note.body}


@router.post(
    "/cases/{case_id}/close",
    summary="Close with the summary for the customer",
    response_model=CaseOut,
)
def close_case(case_id: str, body: CloseIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    case = cases_service.close_case(
        ctx,
        staff=caller.staff,
        case_id=case_id,
        changes=body.changes,
        verify=body.verify,
        by=caller.actor,
    )
    return case_out(case)


# --- requests and approvals ------------------------------------------------------------------


@router.post(
    "/access-requests/preview",
    summary="The decision a request would get, unrecorded",
    response_model=DecisionOut,
)
def preview(body: RequestIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    decision = decisions_service.preview(
        ctx,
        staff=caller.staff,
        case_id=body.case,
        kind=body.kind,
        scopes=frozenset(body.scopes),
        minutes=body.minutes,
        break_glass=body.break_glass,
    )
    return decision_out(decision)


@router.post(
    "/access-requests",
    status_code=201,
    summary="Ask for access; returns the decision",
    response_model=RequestOut,
)
def create_request(body: RequestIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    request = requests_service.request_access(
        ctx,
        staff=caller.staff,
        case_id=body.case,
        kind=body.kind,
        scopes=frozenset(body.scopes),
        minutes=body.minutes,
        break_glass=body.break_glass,
        extends_session_id=body.extends_session,
        extension_reason=body.extension_reason,
        by=caller.actor,
    )
    return request_out(request)


@router.get(
    "/access-requests",
    summary="Requests in a state (default: pending approval)",
    response_model=list[RequestOut],
)
def list_requests(
    _: StaffDep,
    ctx: ServicesDep,
    state: Annotated[list[RequestState] | None, Query()] = None,
) -> list[dict[str, Any]]:
    states = frozenset(state or [RequestState.PENDING_APPROVAL])
    return [request_out(r) for r in requests_service.requests_in(ctx, states)]


@router.get(
    "/access-requests/{request_id}",
    summary="A request and its answers",
    response_model=RequestDetailOut,
)
def get_request(request_id: str, _: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    request, answers = requests_service.get_request(ctx, request_id)
    return {
        **request_out(request),
        "answers": [
            {
                "approver": a.approver_id,
                "decision": a.decision,
                "comment": a.comment,
                "via": a.via,
                "at": a.at,
            }
            for a in answers
        ],
    }


@router.post(
    "/access-requests/{request_id}/approve",
    summary="Approve (never your own)",
    response_model=RequestOut,
)
def approve(request_id: str, body: AnswerIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    request = requests_service.approve_request(
        ctx,
        approver=caller.staff,
        request_id=request_id,
        comment=body.comment,
        via="api",
        code=body.code,
        by=caller.actor,
        assertion=body.assertion,
    )
    return request_out(request)


@router.post(
    "/access-requests/{request_id}/deny", summary="Deny, with a comment", response_model=RequestOut
)
def deny(request_id: str, body: AnswerIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    request = requests_service.deny_request(
        ctx,
        approver=caller.staff,
        request_id=request_id,
        comment=body.comment,
        via="api",
        by=caller.actor,
    )
    return request_out(request)


@router.post(
    "/access-requests/{request_id}/start",
    summary="Step up with a TOTP code and start; returns the one-time handoff",
    response_model=StartedOut,
)
def start(request_id: str, body: StartIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    started = sessions_service.start_session(
        ctx,
        staff=caller.staff,
        request_id=request_id,
        code=body.code,
        by=caller.actor,
        assertion=body.assertion,
    )
    return {
        "session": session_out(started.session),
        "handoff_code": started.handoff_code,
        "redirect_url": started.redirect_url,
    }


# --- sessions --------------------------------------------------------------------------------


@router.get("/sessions", summary="Live sessions", response_model=list[SessionOut])
def list_sessions(_: StaffDep, ctx: ServicesDep) -> list[dict[str, Any]]:
    return [session_out(s) for s in sessions_service.live_sessions(ctx)]


@router.get("/sessions/{session_id}", summary="One session", response_model=SessionOut)
def get_session(session_id: str, _: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    return session_out(sessions_service.get_session(ctx, session_id))


@router.post(
    "/sessions/{session_id}/end", summary="End your own session", response_model=SessionOut
)
def end(session_id: str, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    session = sessions_service.end_session(
        ctx, staff=caller.staff, session_id=session_id, by=caller.actor
    )
    return session_out(session)


@router.post(
    "/sessions/{session_id}/reopen",
    summary="Step up with a TOTP code and get a new one-time handoff for your live session",
    response_model=StartedOut,
)
def reopen(session_id: str, body: StartIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    started = sessions_service.reopen(
        ctx, staff=caller.staff, session_id=session_id, code=body.code, by=caller.actor
    )
    return {
        "session": session_out(started.session),
        "handoff_code": started.handoff_code,
        "redirect_url": started.redirect_url,
    }


@router.post(
    "/sessions/{session_id}/revoke",
    summary="Revoke (owner, lead, security, admin)",
    response_model=SessionOut,
)
def revoke(session_id: str, body: RevokeIn, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    session = sessions_service.revoke_session(
        ctx,
        staff=caller.staff,
        session_id=session_id,
        reason=body.reason,
        by=caller.actor,
    )
    return session_out(session)
