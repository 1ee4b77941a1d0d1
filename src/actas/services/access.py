"""Time-boxed access: cases, requests, approvals, step-up start, handoff, refresh and the ways
a session ends. Every change records its audit event in the same transaction, and every
change in a session's life is announced through the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from actas.domain.access import (
    HANDOFF_TTL,
    AccessRequest,
    AccessSession,
    AppEvent,
    Approval,
    Case,
    CaseNote,
    CaseStatus,
    EndReason,
    MintedToken,
    NoteKind,
    RequestState,
    bounded_text,
)
from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import (
    Conflict,
    Forbidden,
    InvalidGrant,
    InvalidInput,
    NotFound,
    StepUpRequired,
)
from actas.domain.policy import (
    AccessKind,
    AccessRequestSpec,
    AccountView,
    Decision,
    Outcome,
    StaffView,
    SubjectView,
    can_approve,
    decide,
)
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import Application
from actas.domain.tokens import new_token, token_hash
from actas.services import throttle
from actas.services.announce import announce
from actas.services.context import ServiceContext

HANDOFF_PREFIX = "actas_hc_"
REFRESH_PREFIX = "actas_rh_"
#: Who may revoke somebody else's session.
REVOKERS = frozenset({Role.LEAD, Role.SECURITY, Role.ADMIN})
PENDING = frozenset({RequestState.PENDING_APPROVAL, RequestState.PENDING_CONSENT})
SYSTEM = Actor(id="system")
NOTE_FIELDS = ("text", "device", "browser", "steps", "error_text", "time", "repeatable")


# --- cases -----------------------------------------------------------------------------------


def open_case(
    ctx: ServiceContext,
    *,
    staff: Staff,
    application_id: str,
    subject_id: str,
    ticket: str,
    reason_code: str,
    reason_text: str,
    by: Actor,
) -> Case:
    ticket = bounded_text("ticket", ticket, limit=200)
    reason_text = bounded_text("reason", reason_text)
    if reason_code not in ctx.policy.reason_codes:
        codes = ", ".join(ctx.policy.reason_codes)
        raise InvalidInput(f"reason code {reason_code[:64]!r} is not one of {codes}")
    with ctx.uow() as uow:
        subject = uow.subjects.get(application_id, subject_id)
        if subject is None:
            raise NotFound(f"no subject {subject_id[:128]} in application {application_id[:63]}")
        case = Case(
            id=str(uuid.uuid4()),
            application_id=application_id,
            subject_id=subject_id,
            account_id=subject.account_id,
            staff_id=staff.id,
            ticket=ticket,
            reason_code=reason_code,
            reason_text=reason_text,
            status=CaseStatus.OPEN,
            opened_at=ctx.clock(),
        )
        uow.cases.add(case)
        uow.audit.record(
            _event(
                "case.opened",
                by,
                case=case,
                data={"application": application_id, "reason_code": reason_code},
            )
        )
    return case


def _event(
    type_: str,
    by: Actor,
    *,
    case: Case | None = None,
    request: AccessRequest | None = None,
    session: AccessSession | None = None,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """An audit event stamped with whatever the case, request or session says."""
    owner: Case | AccessRequest | AccessSession | None = session or request or case
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=owner.subject_id if owner else None,
        account=owner.account_id if owner else None,
        case=case.id if case else getattr(owner, "case_id", None),
        session=session.id if session else None,
        reason=reason if reason is not None else (case.reason_text if case else None),
        ticket=case.ticket if case else None,
        ip=by.ip,
        user_agent=by.user_agent,
        data={
            **({"request": request.id} if request else {}),
            **({"application": owner.application_id} if owner else {}),
            **(data or {}),
        },
    )


def _case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id[:40]}")
    return case


def add_note(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    kind: NoteKind,
    body: dict[str, str | bool],
    by: Actor,
) -> CaseNote:
    """Record what support observed (device, browser, steps, error text, time, repeatable)."""
    unknown = sorted(set(body) - set(NOTE_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown note field {unknown[0]!r}; expected {', '.join(NOTE_FIELDS)}")
    if not any(v for v in body.values() if v is not False):
        raise InvalidInput("a note needs at least one field")
    for name, value in body.items():
        if isinstance(value, str):
            bounded_text(name, value, required=False)
    with ctx.uow() as uow:
        case = _case(uow, case_id)
        if case.status is not CaseStatus.OPEN:
            raise Conflict("the case is closed")
        note = CaseNote(
            id=str(uuid.uuid4()),
            case_id=case.id,
            staff_id=staff.id,
            at=ctx.clock(),
            kind=kind,
            body=dict(body),
        )
        uow.cases.add_note(note)
        # The note's text stays in the case; the log records that it was written.
        uow.audit.record(
            _event("case.note_added", by, case=case, data={"note": note.id, "kind": kind.value})
        )
    return note


def close_case(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    changes: str,
    verify: str,
    by: Actor,
) -> Case:
    """Close a case with its summary (what changed, how to check or undo it), ending every
    session and open request that belongs to it."""
    changes = bounded_text("changes", changes)
    verify = bounded_text("verify", verify)
    with ctx.uow() as uow:
        case = _case(uow, case_id)
        now = ctx.clock()
        if not uow.cases.close(case.id, at=now, by=staff.id, changes=changes, verify=verify):
            raise Conflict("the case is already closed")
        for session in uow.sessions.for_case(case.id):
            _end(ctx, uow, session, EndReason.CASE_CLOSED, by)
        for request in uow.requests.for_case(case.id):
            states = PENDING | {RequestState.APPROVED}
            if uow.requests.transition(
                request.id, from_states=states, to=RequestState.CANCELLED, at=now
            ):
                uow.audit.record(_event("access.cancelled", by, case=case, request=request))
        uow.audit.record(_event("case.closed", by, case=case, data={"closed_by": staff.id}))
        closed = uow.cases.get(case.id)
    assert closed is not None
    return closed


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    notes: list[CaseNote]
    requests: list[AccessRequest]
    sessions: list[AccessSession]


def case_detail(ctx: ServiceContext, case_id: str) -> CaseDetail:
    with ctx.read() as uow:
        case = _case(uow, case_id)
        return CaseDetail(
            case=case,
            notes=uow.cases.notes(case.id),
            requests=uow.requests.for_case(case.id),
            sessions=uow.sessions.for_case(case.id),
        )


# --- the policy's decision -------------------------------------------------------------------


def _decide(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    staff: Staff,
    case: Case,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    break_glass: bool,
) -> Decision:
    """Evaluate the policy on the current state. Run at request, approval and start time, so a
    subject or account that changed in between is judged as it is now (T12)."""
    try:
        access_kind = AccessKind(kind)
    except ValueError:
        raise InvalidInput(f"kind {kind[:20]!r} is not assist or impersonate") from None
    subject = uow.subjects.get(case.application_id, case.subject_id)
    account = uow.accounts.get(case.application_id, case.account_id)
    if subject is None or account is None:
        raise NotFound("the case's subject or account no longer exists")
    is_staff = subject.email is not None and uow.staff.by_email(subject.email.lower()) is not None
    return decide(
        policy=ctx.policy,
        staff=StaffView(
            id=staff.id, roles=staff.roles, assigned_accounts=uow.assignments.for_staff(staff.id)
        ),
        subject=SubjectView.of(subject, is_broker_staff=is_staff),
        account=AccountView.of(account),
        # Consent grants are the customer's rung (a later issue); until then none is on file.
        consent=None,
        request=AccessRequestSpec(
            kind=access_kind,
            scopes=scopes,
            minutes=minutes,
            reason_code=case.reason_code,
            now=ctx.clock(),
            break_glass=break_glass,
        ),
    )


def preview(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    break_glass: bool = False,
) -> Decision:
    """The decision a request would get now, without recording anything."""
    with ctx.read() as uow:
        case = _case(uow, case_id)
        return _decide(
            ctx,
            uow,
            staff=staff,
            case=case,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=break_glass,
        )


def explain(
    ctx: ServiceContext,
    *,
    staff_email: str,
    application_id: str,
    subject_id: str,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    reason_code: str | None = None,
    break_glass: bool = False,
) -> Decision:
    """The decision for a hypothetical request, for ``actas policy explain``."""
    with ctx.read() as uow:
        staff = uow.staff.by_email(staff_email.strip().lower())
        if staff is None:
            raise NotFound(f"no staff member with email {staff_email[:80]}")
        subject = uow.subjects.get(application_id, subject_id)
        if subject is None:
            raise NotFound(f"no subject {subject_id[:128]} in application {application_id[:63]}")
        hypothetical = Case(
            id="explain",
            application_id=application_id,
            subject_id=subject_id,
            account_id=subject.account_id,
            staff_id=staff.id,
            ticket="-",
            reason_code=reason_code or ctx.policy.reason_codes[0],
            reason_text="-",
            status=CaseStatus.OPEN,
            opened_at=ctx.clock(),
        )
        return _decide(
            ctx,
            uow,
            staff=staff,
            case=hypothetical,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=break_glass,
        )


_STATE_FOR = {
    Outcome.ALLOW: RequestState.APPROVED,
    Outcome.NEEDS_APPROVAL: RequestState.PENDING_APPROVAL,
    Outcome.NEEDS_CONSENT: RequestState.PENDING_CONSENT,
    Outcome.DENY: RequestState.DENIED,
}


def _announcement(
    ctx: ServiceContext, about: AccessRequest | AccessSession, **fields: Any
) -> dict[str, Any]:
    """What Slack and webhooks are told: who, for whom, where, and a link into the console."""
    kind = "session" if isinstance(about, AccessSession) else "request"
    payload: dict[str, Any] = {
        kind: about.id,
        "case": about.case_id,
        "staff": about.staff_id,
        "application": about.application_id,
        "subject": about.subject_id,
        "account": about.account_id,
        "kind": about.kind,
        "console_url": f"{ctx.public_url}/console/{kind}s/{about.id}",
    }
    payload.update({k: v for k, v in fields.items() if v is not None})
    return payload


def _announce(
    ctx: ServiceContext,
    uow: UnitOfWork,
    event: str,
    about: AccessRequest | AccessSession,
    **fields: Any,
) -> None:
    announce(uow, ctx.channels, event, _announcement(ctx, about, **fields), at=ctx.clock())


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
        case = _case(uow, case_id)
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
        decision = _decide(
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
            state=_STATE_FOR[decision.outcome],
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
            _event(
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
        _announce(ctx, uow, "access.requested", request, **details)
        if break_glass and decision.outcome is Outcome.ALLOW:
            uow.audit.record(_event("access.break_glass", by, case=case, request=request))
            _announce(ctx, uow, "access.break_glass", request, **details)
    return request


def _request(uow: UnitOfWork, request_id: str) -> AccessRequest:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no access request {request_id[:40]}")
    return request


def _expire_if_due(ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest) -> bool:
    if request.expires_at > ctx.clock() or request.state not in PENDING | {RequestState.APPROVED}:
        return False
    if uow.requests.transition(
        request.id,
        from_states=PENDING | {RequestState.APPROVED},
        to=RequestState.EXPIRED,
        at=ctx.clock(),
    ):
        uow.audit.record(_event("access.expired", SYSTEM, request=request))
    return True


def _step_up(ctx: ServiceContext, uow: UnitOfWork, staff: Staff, code: str | None) -> None:
    """A fresh TOTP code, never one used before; wrong ones audited and counted."""
    throttle.verify_step_up(ctx, uow, staff, code)


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
) -> AccessRequest:
    comment = bounded_text("comment", comment, required=not approve)
    if via not in {"api", "console", "slack"}:
        raise InvalidInput(f"via {via[:20]!r} is not api, console or slack")
    step_up_failed: StepUpRequired | None = None
    with ctx.uow() as uow:
        request = _request(uow, request_id)
        if _expire_if_due(ctx, uow, request):
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
                    _step_up(ctx, uow, approver, code)
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
    event = "access.approved" if approve else "access.denied"
    target = RequestState.DENIED
    if approve:
        approved = [a for a in uow.requests.approvals(request.id) if a.decision == "approve"]
        target = (
            RequestState.APPROVED
            if len(approved) >= request.approvals_required
            else RequestState.PENDING_APPROVAL
        )
    if target is not RequestState.PENDING_APPROVAL:
        uow.requests.transition(
            request.id, from_states=frozenset({RequestState.PENDING_APPROVAL}), to=target, at=now
        )
    uow.audit.record(
        _event(
            event if target is not RequestState.PENDING_APPROVAL else "access.approval_recorded",
            by,
            request=request,
            data={"via": via, "approver": approver.id, "comment": comment},
        )
    )
    if target is not RequestState.PENDING_APPROVAL:
        _announce(ctx, uow, event, request, minutes=request.minutes, outcome=target.value)
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
) -> AccessRequest:
    """Approve: never one's own request, only by a role the policy names; high-risk requests
    need the approver's TOTP code and cannot be approved from Slack."""
    return _answer(
        ctx,
        approver=approver,
        request_id=request_id,
        comment=comment,
        via=via,
        approve=True,
        code=code,
        by=by,
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
        request = _request(uow, request_id)
        return request, uow.requests.approvals(request.id)


# --- starting, handoff and refresh -----------------------------------------------------------


@dataclass(frozen=True)
class Started:
    session: AccessSession
    #: The one-time code and where to take the browser; None for an extension.
    handoff_code: str | None
    redirect_url: str | None


def start_session(
    ctx: ServiceContext, *, staff: Staff, request_id: str, code: str | None, by: Actor
) -> Started:
    """Step up with a fresh TOTP code and open the session (or apply an extension)."""
    failure: Exception | None = None
    started: Started | None = None
    with ctx.uow() as uow:
        request = _request(uow, request_id)
        if request.staff_id != staff.id:
            raise Forbidden("only the requester may start the session")
        if _expire_if_due(ctx, uow, request):
            failure = Conflict("the approval expired before the session started")
        elif request.state is not RequestState.APPROVED:
            failure = Conflict(f"the request is {request.state.value}, not approved")
        else:
            try:
                _step_up(ctx, uow, staff, code)
            except StepUpRequired as exc:
                failure = exc
        if failure is None:
            started = _open(ctx, uow, staff, request, by)
    if failure is not None:
        raise failure
    assert started is not None
    return started


def _open(
    ctx: ServiceContext, uow: UnitOfWork, staff: Staff, request: AccessRequest, by: Actor
) -> Started:
    case = _case(uow, request.case_id)
    decision = _decide(
        ctx,
        uow,
        staff=staff,
        case=case,
        kind=request.kind,
        scopes=frozenset(request.scopes),
        minutes=request.minutes,
        break_glass=request.break_glass,
    )
    if decision.outcome in (Outcome.DENY, Outcome.NEEDS_CONSENT):
        raise Forbidden("the policy no longer allows this: " + "; ".join(decision.reasons))
    now = ctx.clock()
    if not uow.requests.transition(
        request.id,
        from_states=frozenset({RequestState.APPROVED}),
        to=RequestState.STARTED,
        at=now,
    ):
        raise Conflict("the request was started already")
    if request.extends_session_id is not None:
        return _extend(ctx, uow, request, by)
    app = uow.applications.by_id(request.application_id)
    account = uow.accounts.get(request.application_id, request.account_id)
    if app is None or app.disabled_at is not None or account is None:
        raise Conflict("the application is gone or disabled")
    handoff_url = account.handoff_url or app.handoff_url
    session = AccessSession(
        id=str(uuid.uuid4()),
        request_id=request.id,
        case_id=request.case_id,
        staff_id=staff.id,
        application_id=request.application_id,
        subject_id=request.subject_id,
        account_id=request.account_id,
        kind=request.kind,
        scopes=request.scopes,
        started_at=now,
        expires_at=now + timedelta(minutes=request.minutes),
        idle_seconds=decision.idle_timeout_minutes * 60,
        last_active_at=now,
        handoff_url=handoff_url,
        review_required=request.review_required,
    )
    uow.sessions.add(session)
    code = new_token(HANDOFF_PREFIX)
    uow.handoffs.add(
        code_hash=token_hash(code),
        session_id=session.id,
        application_id=session.application_id,
        handoff_url=handoff_url,
        issued_at=now,
        expires_at=now + HANDOFF_TTL,
    )
    uow.audit.record(
        _event(
            "session.started",
            by,
            case=case,
            request=request,
            session=session,
            data={
                "kind": session.kind,
                "scopes": list(session.scopes),
                "expires_at": session.expires_at.isoformat(),
                "review_required": session.review_required,
                "handoff_url": handoff_url,
            },
        )
    )
    _announce(
        ctx,
        uow,
        "session.started",
        session,
        staff_email=staff.email,
        scopes=list(session.scopes),
        expires_at=session.expires_at.isoformat(),
    )
    redirect = f"{handoff_url}?{urlencode({'code': code})}"
    return Started(session=session, handoff_code=code, redirect_url=redirect)


def _extend(ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest, by: Actor) -> Started:
    assert request.extends_session_id is not None
    session = uow.sessions.get(request.extends_session_id)
    now = ctx.clock()
    if session is None or not session.live_at(now):
        raise Conflict("the session has ended; it cannot be extended")
    new_expiry = max(session.expires_at, now + timedelta(minutes=request.minutes))
    uow.sessions.extend(session.id, expires_at=new_expiry)
    uow.audit.record(
        _event(
            "session.extended",
            by,
            request=request,
            session=session,
            reason=request.extension_reason,
            data={
                "from": session.expires_at.isoformat(),
                "to": new_expiry.isoformat(),
            },
        )
    )
    _announce(ctx, uow, "session.extended", session, expires_at=new_expiry.isoformat())
    extended = uow.sessions.get(session.id)
    assert extended is not None
    return Started(session=extended, handoff_code=None, redirect_url=None)


@dataclass(frozen=True)
class Redeemed:
    token: MintedToken
    session: AccessSession
    #: Returned at handoff only; the SDK keeps it to refresh the token.
    refresh_handle: str | None
    #: The staff member's display name, for the banner. Never in the token (DESIGN.md).
    actor_name: str | None = None


def _mint(ctx: ServiceContext, session: AccessSession, now: datetime) -> MintedToken:
    return ctx.minter.mint(
        audience=session.application_id,
        subject=session.subject_id,
        actor=session.staff_id,
        session_id=session.id,
        scopes=session.scopes,
        account=session.account_id,
        now=now,
        not_after=session.expires_at,
    )


def redeem_handoff(
    ctx: ServiceContext, *, app: Application, code: str, handoff_url: str, by: Actor
) -> Redeemed:
    """Exchange a one-time handoff code for an actor token and a refresh handle."""
    if len(code) > 200 or len(handoff_url) > 2000:
        raise InvalidGrant("the handoff code is not valid")
    failure: Exception | None = None
    redeemed: Redeemed | None = None
    with ctx.uow() as uow:
        now = ctx.clock()
        session_id = uow.handoffs.redeem(
            code_hash=token_hash(code), application_id=app.id, handoff_url=handoff_url, at=now
        )
        session = uow.sessions.get(session_id) if session_id else None
        if session is None:
            failure = InvalidGrant("the handoff code is unknown, used, expired or not yours")
        elif not session.live_at(now):
            failure = InvalidGrant("the session has ended")
        else:
            handle = new_token(REFRESH_PREFIX)
            if not uow.sessions.set_refresh(session.id, refresh_hash=token_hash(handle), at=now):
                raise InvalidGrant("the session was already handed off")
            token = _mint(ctx, session, now)
            uow.audit.record(
                _event(
                    "session.handoff_redeemed",
                    by,
                    session=session,
                    data={"jti": token.jti, "token_expires_at": token.expires_at.isoformat()},
                )
            )
            staff = uow.staff.by_id(session.staff_id)
            redeemed = Redeemed(
                token=token,
                session=session,
                refresh_handle=handle,
                actor_name=staff.display_name if staff else None,
            )
    if failure is not None:
        raise failure
    assert redeemed is not None
    return redeemed


def refresh_session(
    ctx: ServiceContext, *, app: Application, session_id: str, refresh_handle: str, by: Actor
) -> Redeemed:
    """A new actor token while the session is live and not idle; a lapsed session is ended."""
    failure: Exception | None = None
    redeemed: Redeemed | None = None
    with ctx.uow() as uow:
        now = ctx.clock()
        session = uow.sessions.get(session_id)
        if session is None or session.application_id != app.id:
            raise InvalidGrant("the session or refresh handle is not valid")
        lapse = session.lapse_reason(now)
        if lapse is not None:
            _end(ctx, uow, session, lapse, SYSTEM)
            failure = InvalidGrant(f"the session has ended ({lapse.value})")
        elif session.ended_at is not None:
            failure = InvalidGrant(f"the session has ended ({session.end_reason})")
        elif not uow.sessions.touch(session.id, refresh_hash=token_hash(refresh_handle), at=now):
            failure = InvalidGrant("the session or refresh handle is not valid")
        else:
            token = _mint(ctx, session, now)
            uow.audit.record(
                _event("session.refreshed", by, session=session, data={"jti": token.jti})
            )
            redeemed = Redeemed(token=token, session=session, refresh_handle=None)
    if failure is not None:
        raise failure
    assert redeemed is not None
    return redeemed


# --- the ends of a session -------------------------------------------------------------------


def _end(
    ctx: ServiceContext,
    uow: UnitOfWork,
    session: AccessSession,
    reason: EndReason,
    by: Actor,
    *,
    note: str | None = None,
) -> bool:
    """End a session once: its revocation reaches every SDK, its end is logged and announced."""
    now = ctx.clock()
    if not uow.sessions.end(session.id, at=now, reason=reason):
        return False
    uow.revocations.add(
        session_id=session.id,
        application_id=session.application_id,
        reason=reason.value,
        at=now,
        session_expires_at=session.expires_at,
    )
    event = "session.revoked" if reason is EndReason.REVOKED else "session.ended"
    uow.audit.record(
        _event(event, by, session=session, reason=note, data={"end_reason": reason.value})
    )
    _announce(ctx, uow, event, session, end_reason=reason.value)
    return True


def _session(uow: UnitOfWork, session_id: str) -> AccessSession:
    session = uow.sessions.get(session_id)
    if session is None:
        raise NotFound(f"no session {session_id[:40]}")
    return session


def end_session(ctx: ServiceContext, *, staff: Staff, session_id: str, by: Actor) -> AccessSession:
    """The staff member ends their own session."""
    with ctx.uow() as uow:
        session = _session(uow, session_id)
        if session.staff_id != staff.id:
            raise Forbidden("only the staff member in the session may end it; others revoke it")
        if not _end(ctx, uow, session, EndReason.ENDED_BY_STAFF, by):
            raise Conflict("the session has already ended")
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended


def revoke_session(
    ctx: ServiceContext, *, staff: Staff, session_id: str, reason: str, by: Actor
) -> AccessSession:
    """Revoke a session: by the staff member in it, a lead, security or an admin."""
    reason = bounded_text("reason", reason, required=False) or "revoked"
    with ctx.uow() as uow:
        session = _session(uow, session_id)
        if session.staff_id != staff.id and not staff.roles & REVOKERS:
            raise Forbidden("only the staff member in the session, a lead, security or an admin")
        if not _end(ctx, uow, session, EndReason.REVOKED, by, note=reason):
            raise Conflict("the session has already ended")
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended


def end_sessions_of(ctx: ServiceContext, uow: UnitOfWork, staff_id: str, by: Actor) -> int:
    """Used when a staff member is disabled: every session of theirs ends at once."""
    return sum(
        _end(ctx, uow, s, EndReason.STAFF_DISABLED, by)
        for s in uow.sessions.for_staff(staff_id)
        if s.ended_at is None
    )


def live_sessions(ctx: ServiceContext) -> list[AccessSession]:
    now = ctx.clock()
    with ctx.read() as uow:
        return [s for s in uow.sessions.open_sessions() if s.live_at(now)]


def get_session(ctx: ServiceContext, session_id: str) -> AccessSession:
    with ctx.read() as uow:
        return _session(uow, session_id)


@dataclass(frozen=True)
class Swept:
    sessions_ended: int
    requests_expired: int


def sweep(ctx: ServiceContext) -> Swept:
    """End sessions past their hard expiry or idle limit and expire unanswered requests, so
    that every end is logged and revoked even if nobody asks for the session again."""
    ended = expired = 0
    now = ctx.clock()
    with ctx.read() as uow:
        lapsed = [s for s in uow.sessions.open_sessions() if s.lapse_reason(now)]
        due = [
            r
            for r in uow.requests.in_states(PENDING | {RequestState.APPROVED})
            if r.expires_at <= now
        ]
    for session in lapsed:
        with ctx.uow() as uow:
            reason = session.lapse_reason(ctx.clock())
            if reason is not None and _end(ctx, uow, session, reason, SYSTEM):
                ended += 1
    for request in due:
        with ctx.uow() as uow:
            current = uow.requests.get(request.id)
            if current is not None and _expire_if_due(ctx, uow, current):
                expired += 1
    return Swept(sessions_ended=ended, requests_expired=expired)


# --- what the host app reports ---------------------------------------------------------------

MAX_APP_EVENTS = 500


def ingest_app_events(
    ctx: ServiceContext, *, app: Application, events: list[AppEvent], by: Actor
) -> int:
    """Append the SDK's events to the log, attributed to the staff member acting for the
    subject. A batch sent twice (a retry after a crash) is appended once. Returns the number
    of events appended."""
    if len(events) > MAX_APP_EVENTS:
        raise InvalidInput(f"a batch holds at most {MAX_APP_EVENTS} events, got {len(events)}")
    appended = 0
    with ctx.uow() as uow:
        by_session: dict[str, list[AppEvent]] = {}
        for event in events:
            by_session.setdefault(event.session_id, []).append(event)
        for session_id, group in by_session.items():
            session = uow.sessions.get(session_id)
            if session is None or session.application_id != app.id:
                raise NotFound(f"no session {session_id[:40]} of application {app.id}")
            fresh = uow.ingested.claim([e.id for e in group], session_id=session_id, at=ctx.clock())
            for event in group:
                if event.id not in fresh:
                    continue
                fresh.discard(event.id)  # a duplicate inside one batch counts once too
                uow.audit.record(_app_event(session, event, by))
                appended += 1
    return appended


def _app_event(session: AccessSession, event: AppEvent, by: Actor) -> AuditEvent:
    data: dict[str, Any] = {
        "event": event.id,
        "application": session.application_id,
        "reported_at": event.at.isoformat(),
    }
    for name in ("method", "route", "status", "resource", "detail"):
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    if event.suppressed:
        data["suppressed"] = dict(event.suppressed)
    return AuditEvent(
        type=f"app.{event.kind}",
        actor=session.staff_id,
        subject=session.subject_id,
        account=session.account_id,
        case=session.case_id,
        session=session.id,
        ip=by.ip,
        user_agent=by.user_agent,
        data=data,
    )


def end_by_app(
    ctx: ServiceContext, *, app: Application, session_id: str, refresh_handle: str, by: Actor
) -> AccessSession:
    """The banner's End button: the host app proves it holds the session's refresh handle."""
    with ctx.uow() as uow:
        session = uow.sessions.get(session_id)
        if session is None or session.application_id != app.id:
            raise InvalidGrant("the session or refresh handle is not valid")
        if not uow.sessions.touch(
            session.id, refresh_hash=token_hash(refresh_handle), at=ctx.clock()
        ):
            raise InvalidGrant("the session or refresh handle is not valid")
        _end(
            ctx,
            uow,
            session,
            EndReason.ENDED_BY_STAFF,
            Actor(session.staff_id, by.ip, by.user_agent),
        )
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended
