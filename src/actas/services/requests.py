"""Access requests: asking (the policy decides and says why), approving and denying, and
expiry. The states and what moves between them are the domain's
(:mod:`actas.domain.lifecycle`); this module records each move and its audit event."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from actas.domain.access import (
    AccessRequest,
    Approval,
    Case,
    CaseStatus,
    RequestState,
    bounded_text,
)
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, StepUpRequired
from actas.domain.identity import StepUpAction
from actas.domain.lifecycle import (
    INITIAL_STATE,
    OPEN_STATES,
    REQUEST_TRANSITIONS,
    RequestEvent,
    approval_event,
    sources,
)
from actas.domain.policy import StaffView, can_approve
from actas.domain.policy_rules import Outcome
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services import decisions, throttle, trail
from actas.services.context import ServiceContext
from actas.services.trail import SYSTEM

#: The channels an answer may come through.
ANSWER_CHANNELS = frozenset({"api", "console", "slack"})


def request_access(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    by: Actor,
    break_glass: bool = False,
    extends_session_id: str | None = None,
    extension_reason: str | None = None,
) -> AccessRequest:
    """Ask for access; the policy decides and says why. Denied requests are kept too."""
    if extends_session_id is not None:
        extension_reason = bounded_text("extension_reason", extension_reason or "")
    with ctx.uow() as uow:
        case = trail.load_case(uow, case_id)
        if case.status is not CaseStatus.OPEN:
            raise Conflict("the case is closed; open a new case")
        if case.staff_id != staff.id:
            raise Forbidden("only the staff member who opened the case may ask for access")
        if extends_session_id is not None:
            session = uow.sessions.get(extends_session_id)
            if session is None or session.case_id != case.id or session.staff_id != staff.id:
                raise NotFound(f"no session {extends_session_id[:40]} of yours in this case")
            if not session.live_at(ctx.clock()):
                raise Conflict("the session has ended; it cannot be extended")
            kind, scopes = session.kind, frozenset(session.scopes)
        decision = decisions.decide_now(
            ctx,
            uow,
            staff=staff,
            case=case,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=break_glass,
        )
        now = ctx.clock()
        request = AccessRequest(
            id=str(uuid.uuid4()),
            case_id=case.id,
            staff_id=staff.id,
            application_id=case.application_id,
            subject_id=case.subject_id,
            account_id=case.account_id,
            kind=kind,
            scopes=tuple(sorted(decision.scopes)),
            minutes=minutes,
            break_glass=break_glass,
            state=INITIAL_STATE[decision.outcome],
            outcome=decision.outcome.value,
            reasons=decision.reasons,
            approvals_required=decision.approvals_required,
            approver_roles=tuple(sorted(r.value for r in decision.approver_roles)),
            high_risk=decision.high_risk,
            review_required=decision.review_required,
            created_at=now,
            expires_at=now + timedelta(minutes=ctx.policy.request_ttl_minutes),
            decided_at=now if decision.outcome in (Outcome.ALLOW, Outcome.DENY) else None,
            extends_session_id=extends_session_id,
            extension_reason=extension_reason,
        )
        uow.requests.add(request)
        data: dict[str, Any] = {
            "kind": kind,
            "scopes": list(request.scopes),
            "minutes": minutes,
            "outcome": decision.outcome.value,
            "reasons": list(decision.reasons),
        }
        if extends_session_id:
            data["extends_session"] = extends_session_id
        uow.audit.record(
            trail.event(
                "access.requested",
                by,
                case=case,
                request=request,
                data=data,
                reason=extension_reason or case.reason_text,
            )
        )
        details: dict[str, Any] = {
            "staff_email": staff.email,
            "scopes": list(request.scopes),
            "minutes": minutes,
            "reasons": list(decision.reasons),
            "outcome": decision.outcome.value,
            "high_risk": decision.high_risk,
        }
        trail.announce_change(ctx, uow, "access.requested", request, **details)
        if break_glass and decision.outcome is Outcome.ALLOW:
            uow.audit.record(trail.event("access.break_glass", by, case=case, request=request))
            trail.announce_change(ctx, uow, "access.break_glass", request, **details)
    return request


def expire_if_due(ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest) -> bool:
    """Expire a request whose time is up; True when it was due (even if another transaction
    recorded the expiry first)."""
    if request.expires_at > ctx.clock() or request.state not in OPEN_STATES:
        return False
    if uow.requests.transition(
        request.id,
        from_states=sources(RequestEvent.EXPIRE),
        to=RequestState.EXPIRED,
        at=ctx.clock(),
    ):
        uow.audit.record(trail.event("access.expired", SYSTEM, request=request))
    return True


def _answer(
    ctx: ServiceContext,
    *,
    approver: Staff,
    request_id: str,
    comment: str,
    via: str,
    approve: bool,
    code: str | None,
    by: Actor,
    assertion: str | None = None,
) -> AccessRequest:
    comment = bounded_text("comment", comment, required=not approve)
    if via not in ANSWER_CHANNELS:
        raise InvalidInput(f"via {via[:20]!r} is not api, console or slack")
    step_up_failed: StepUpRequired | None = None
    with ctx.uow() as uow:
        request = trail.load_request(uow, request_id)
        if expire_if_due(ctx, uow, request):
            raise_after: Exception = Conflict("the request expired before anyone answered")
        elif request.state is not RequestState.PENDING_APPROVAL:
            raise_after = Conflict(f"the request is {request.state.value}, not pending approval")
        else:
            allowed, why = can_approve(
                policy=ctx.policy,
                approver=StaffView(id=approver.id, roles=approver.roles),
                requester_id=request.staff_id,
                decision_high_risk=request.high_risk and approve,
                via_slack=via == "slack",
            )
            if not allowed:
                raise Forbidden(why)
            if request.high_risk and approve:
                try:
                    throttle.verify_step_up(
                        ctx,
                        uow,
                        approver,
                        code,
                        action=StepUpAction.APPROVE_HIGH_RISK,
                        assertion=assertion,
                    )
                except StepUpRequired as exc:
                    step_up_failed = exc
            if step_up_failed is None:
                return _record_answer(ctx, uow, request, approver, comment, via, approve, by)
            raise_after = step_up_failed
    raise raise_after


def _record_answer(
    ctx: ServiceContext,
    uow: UnitOfWork,
    request: AccessRequest,
    approver: Staff,
    comment: str,
    via: str,
    approve: bool,
    by: Actor,
) -> AccessRequest:
    now = ctx.clock()
    fresh = uow.requests.add_approval(
        Approval(
            request_id=request.id,
            approver_id=approver.id,
            decision="approve" if approve else "deny",
            comment=comment,
            via=via,
            at=now,
        )
    )
    if not fresh:
        # A repeated delivery (Slack retries, a double click) changes nothing twice.
        return request
    move: RequestEvent | None = RequestEvent.DENY
    if approve:
        approved = [a for a in uow.requests.approvals(request.id) if a.decision == "approve"]
        move = approval_event(len(approved), required=request.approvals_required)
    if move is not None:
        target = REQUEST_TRANSITIONS[(RequestState.PENDING_APPROVAL, move)]
        # Another approver's answer may have moved the request since it was read (issue 16's
        # race: two answers, two events, one state change). Only the answer that moves it
        # wins; the loser's approval row rolls back with this error.
        if not uow.requests.transition(request.id, from_states=sources(move), to=target, at=now):
            raise Conflict("the request was answered by someone else just now")
    event = "access.approved" if approve else "access.denied"
    uow.audit.record(
        trail.event(
            event if move is not None else "access.approval_recorded",
            by,
            request=request,
            data={"via": via, "approver": approver.id, "comment": comment},
        )
    )
    if move is not None:
        trail.announce_change(
            ctx, uow, event, request, minutes=request.minutes, outcome=target.value
        )
    updated = uow.requests.get(request.id)
    assert updated is not None
    return updated


def approve_request(
    ctx: ServiceContext,
    *,
    approver: Staff,
    request_id: str,
    comment: str,
    via: str,
    code: str | None,
    by: Actor,
    assertion: str | None = None,
) -> AccessRequest:
    """Approve: never one's own request, only by a role the policy names; high-risk requests
    need the approver's step-up (TOTP code or passkey) and cannot be approved from Slack."""
    return _answer(
        ctx,
        approver=approver,
        request_id=request_id,
        comment=comment,
        via=via,
        approve=True,
        code=code,
        by=by,
        assertion=assertion,
    )


def deny_request(
    ctx: ServiceContext, *, approver: Staff, request_id: str, comment: str, via: str, by: Actor
) -> AccessRequest:
    return _answer(
        ctx,
        approver=approver,
        request_id=request_id,
        comment=comment,
        via=via,
        approve=False,
        code=None,
        by=by,
    )


def requests_in(ctx: ServiceContext, states: frozenset[RequestState]) -> list[AccessRequest]:
    with ctx.read() as uow:
        return uow.requests.in_states(states)


def get_request(ctx: ServiceContext, request_id: str) -> tuple[AccessRequest, list[Approval]]:
    with ctx.read() as uow:
        request = trail.load_request(uow, request_id)
        return request, uow.requests.approvals(request.id)


def cancel_waiting(
    ctx: ServiceContext, uow: UnitOfWork, case: Case, request: AccessRequest, by: Actor
) -> None:
    """Cancel a request of ``case`` that still waits (the case is closing)."""
    if uow.requests.transition(
        request.id,
        from_states=sources(RequestEvent.CANCEL),
        to=RequestState.CANCELLED,
        at=ctx.clock(),
    ):
        uow.audit.record(trail.event("access.cancelled", by, case=case, request=request))
