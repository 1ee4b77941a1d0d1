"""Sessions, the staff side: start (step-up, then a one-time handoff code), extension, and
every way a session ends. Each end is recorded once, revoked on every SDK through the feed,
logged and announced."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from actas.domain.access import (
    HANDOFF_TTL,
    MAX_REASON,
    AccessRequest,
    AccessSession,
    EndReason,
    RequestState,
    bounded_text,
    may_act_on,
)
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, StepUpRequired
from actas.domain.identity import StepUpAction
from actas.domain.lifecycle import RequestEvent, SessionEvent, session_allows, sources
from actas.domain.policy_rules import Outcome
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.domain.tokens import HANDOFF_PREFIX, new_token, token_hash
from actas.services import applications, decisions, notices, requests, throttle, trail
from actas.services.context import ServiceContext


@dataclass(frozen=True)
class Started:
    session: AccessSession
    #: The one-time code and where to take the browser; None for an extension.
    handoff_code: str | None
    redirect_url: str | None


def start_session(
    ctx: ServiceContext,
    *,
    staff: Staff,
    request_id: str,
    code: str | None,
    by: Actor,
    assertion: str | None = None,
) -> Started:
    """Step up (a fresh TOTP code or a passkey assertion) and open the session (or apply an
    extension). A break-glass start is the ``break_glass`` step-up action."""
    failure: Exception | None = None
    started: Started | None = None
    with ctx.uow() as uow:
        request = trail.load_request(uow, request_id)
        if request.staff_id != staff.id:
            raise Forbidden("only the requester may start the session")
        if requests.expire_if_due(ctx, uow, request):
            failure = Conflict("the approval expired before the session started")
        elif request.state is not RequestState.APPROVED:
            failure = Conflict(f"the request is {request.state.value}, not approved")
        else:
            try:
                action = StepUpAction.BREAK_GLASS if request.break_glass else StepUpAction.START
                throttle.verify_step_up(ctx, uow, staff, code, action=action, assertion=assertion)
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
    case = trail.load_case(uow, request.case_id)
    decision = decisions.decide_now(
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
        request.id, from_states=sources(RequestEvent.START), to=RequestState.STARTED, at=now
    ):
        raise Conflict("the request was started already")
    if request.extends_session_id is not None:
        return _extend(ctx, uow, request, by)
    app = uow.applications.by_id(request.application_id)
    account = uow.accounts.get(request.application_id, request.account_id)
    if app is None or app.disabled_at is not None or account is None:
        raise Conflict("the application is gone or disabled")
    # An account's own URL only while its host is on the application's allow-list (finding 9).
    handoff_url = applications.handoff_base(app, account)
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
    code, redirect = _handoff(uow, session, now)
    uow.audit.record(
        trail.event(
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
    trail.announce_change(
        ctx,
        uow,
        "session.started",
        session,
        staff_email=staff.email,
        scopes=list(session.scopes),
        expires_at=session.expires_at.isoformat(),
    )
    # The customer hears of it in the same transaction: no session without its notice.
    notices.session_started(ctx, uow, session=session, case=case, request=request, by=by)
    return Started(session=session, handoff_code=code, redirect_url=redirect)


def _handoff(uow: UnitOfWork, session: AccessSession, now: datetime) -> tuple[str, str]:
    """A new one-time handoff code for ``session`` (stored hashed, bound to the session, the
    application and the exact handoff URL) and the address that carries it."""
    code = new_token(HANDOFF_PREFIX)
    uow.handoffs.add(
        code_hash=token_hash(code),
        session_id=session.id,
        application_id=session.application_id,
        handoff_url=session.handoff_url,
        issued_at=now,
        expires_at=now + HANDOFF_TTL,
    )
    return code, f"{session.handoff_url}?{urlencode({'code': code})}"


def reopen(
    ctx: ServiceContext,
    *,
    staff: Staff,
    session_id: str,
    code: str | None,
    by: Actor,
    assertion: str | None = None,
) -> Started:
    """Open a live session again in the browser: a missed or expired handoff link is not a
    dead end. Only the staff member in the session, only while it is live, and only after a
    fresh TOTP code (the same step-up as Start), since the new code carries the session's
    whole access. Each reopening is audited (``session.reopened``)."""
    failure: Exception | None = None
    started: Started | None = None
    with ctx.uow() as uow:
        session = trail.load_session(uow, session_id)
        now = ctx.clock()
        if session.staff_id != staff.id:
            raise Forbidden("only the staff member in the session may open it again")
        if not session_allows(session, SessionEvent.HANDOFF, now):
            raise Conflict("the session has ended; ask for access again from the case")
        try:
            # The same step-up as Start: the new code carries the session's whole access.
            throttle.verify_step_up(
                ctx, uow, staff, code, action=StepUpAction.START, assertion=assertion
            )
        except StepUpRequired as exc:
            failure = exc
        else:
            # The session moves to the new link: a browser that had it can no longer refresh
            # (its token lapses within minutes), and the new code can be redeemed once.
            uow.sessions.clear_refresh(session.id)
            handoff_code, redirect = _handoff(uow, session, now)
            uow.audit.record(
                trail.event(
                    "session.reopened",
                    by,
                    session=session,
                    data={
                        "handoff_url": session.handoff_url,
                        "handoff_expires_at": (now + HANDOFF_TTL).isoformat(),
                    },
                )
            )
            started = Started(session=session, handoff_code=handoff_code, redirect_url=redirect)
    if failure is not None:
        raise failure
    assert started is not None
    return started


def _extend(ctx: ServiceContext, uow: UnitOfWork, request: AccessRequest, by: Actor) -> Started:
    assert request.extends_session_id is not None
    session = uow.sessions.get(request.extends_session_id)
    now = ctx.clock()
    if session is None or not session_allows(session, SessionEvent.EXTEND, now):
        raise Conflict("the session has ended; it cannot be extended")
    new_expiry = max(session.expires_at, now + timedelta(minutes=request.minutes))
    uow.sessions.extend(session.id, expires_at=new_expiry)
    uow.audit.record(
        trail.event(
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
    trail.announce_change(ctx, uow, "session.extended", session, expires_at=new_expiry.isoformat())
    extended = uow.sessions.get(session.id)
    assert extended is not None
    return Started(session=extended, handoff_code=None, redirect_url=None)


def end(
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
    if not uow.sessions.end(session.id, at=now, reason=reason, note=note):
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
        trail.event(event, by, session=session, reason=note, data={"end_reason": reason.value})
    )
    trail.announce_change(ctx, uow, event, session, end_reason=reason.value)
    notices.session_ended(ctx, uow, session=session, reason=reason, by=by)
    return True


def end_session(ctx: ServiceContext, *, staff: Staff, session_id: str, by: Actor) -> AccessSession:
    """The staff member ends their own session."""
    with ctx.uow() as uow:
        session = trail.load_session(uow, session_id)
        if session.staff_id != staff.id:
            raise Forbidden("only the staff member in the session may end it; others revoke it")
        if not end(ctx, uow, session, EndReason.ENDED_BY_STAFF, by):
            raise Conflict("the session has already ended")
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended


def revoke_session(
    ctx: ServiceContext, *, staff: Staff, session_id: str, reason: str, by: Actor
) -> AccessSession:
    """Revoke a session: by the staff member in it, a lead, security or an admin. The reason is
    required (finding 12): it goes into the audit event and is shown to the session's owner."""
    reason = bounded_text("reason", reason, limit=MAX_REASON)
    with ctx.uow() as uow:
        session = trail.load_session(uow, session_id)
        if not may_act_on(staff_id=staff.id, roles=staff.roles, owner_id=session.staff_id):
            raise Forbidden("only the staff member in the session, a lead, security or an admin")
        if not end(ctx, uow, session, EndReason.REVOKED, by, note=reason):
            raise Conflict("the session has already ended")
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended


def end_sessions_of(ctx: ServiceContext, uow: UnitOfWork, staff_id: str, by: Actor) -> int:
    """Used when a staff member is disabled: every session of theirs ends at once."""
    return sum(
        end(ctx, uow, s, EndReason.STAFF_DISABLED, by)
        for s in uow.sessions.for_staff(staff_id)
        if s.ended_at is None
    )


def live_sessions(ctx: ServiceContext) -> list[AccessSession]:
    now = ctx.clock()
    with ctx.read() as uow:
        return [s for s in uow.sessions.open_sessions() if s.live_at(now)]


def get_session(ctx: ServiceContext, session_id: str) -> AccessSession:
    with ctx.read() as uow:
        return trail.load_session(uow, session_id)
