"""Consent grants: the customer's say-so, made and revoked only through the application.

A grant moves every request of the account that waited for consent on by itself (the policy is
asked again, in the same transaction). Revoking a grant, or any other change that takes away
what a live session relied on (the customer's policy set to never, ``no_access``), ends those
sessions at once through :func:`actas.services.sessions.end`, which revokes them on every SDK.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from actas.domain.access import EndReason, RequestState
from actas.domain.audit import Actor, AuditEvent, format_time
from actas.domain.consent import (
    Grant,
    GrantClosed,
    GrantSource,
    check_grant_minutes,
    grant_scopes,
)
from actas.domain.errors import NotFound
from actas.domain.lifecycle import REQUEST_TRANSITIONS, consent_event, sources
from actas.domain.policy_rules import AccessKind, Outcome
from actas.domain.ports import UnitOfWork
from actas.domain.subjects import Application, Subject
from actas.services import consent_notices, decisions, sessions, trail
from actas.services.context import ServiceContext


def load_subject(uow: UnitOfWork, app: Application, subject_id: str) -> Subject:
    subject = uow.subjects.get(app.id, subject_id[:128])
    if subject is None:
        raise NotFound(f"no subject {subject_id[:128]} in application {app.id}")
    return subject


def grant_event(type_: str, grant: Grant, by: Actor, **data: Any) -> AuditEvent:
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=grant.granted_by,
        account=grant.account_id,
        case=grant.case_id,
        ip=by.ip,
        user_agent=by.user_agent,
        data={
            "application": grant.application_id,
            "grant": grant.id,
            "source": grant.source.value,
            "read_only": grant.read_only,
            "expires_at": format_time(grant.expires_at),
            **({"staff": grant.staff_id} if grant.staff_id else {}),
            **data,
        },
    )


def record_grant(ctx: ServiceContext, uow: UnitOfWork, grant: Grant, by: Actor) -> int:
    """Store a new grant, audit it, and move the account's waiting requests on."""
    uow.grants.add(grant)
    uow.audit.record(grant_event("consent.granted", grant, by))
    consent_notices.grant_changed(ctx, uow, grant, given=True, by=by)
    return advance_waiting(ctx, uow, grant.application_id, grant.account_id, by)


def grant_access(
    ctx: ServiceContext,
    *,
    app: Application,
    subject_id: str,
    minutes: int,
    read_only: bool,
    case_id: str | None = None,
    by: Actor,
) -> Grant:
    """The customer grants support access to their account for ``minutes`` (one of
    the policy's ``grant_minutes``), optionally read-only, optionally for one case."""
    check_grant_minutes(minutes, ctx.policy.grant_minutes)
    with ctx.uow() as uow:
        subject = load_subject(uow, app, subject_id)
        if case_id is not None:
            case = uow.cases.get(case_id[:36])
            if case is None or (case.application_id, case.account_id) != (
                app.id,
                subject.account_id,
            ):
                raise NotFound(f"no case {case_id[:36]} on this account")
        now = ctx.clock()
        grant = Grant(
            id=str(uuid.uuid4()),
            application_id=app.id,
            account_id=subject.account_id,
            granted_by=subject.id,
            source=GrantSource.CUSTOMER,
            kinds=frozenset(AccessKind),
            scopes=grant_scopes(read_only),
            read_only=read_only,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
            case_id=case_id,
        )
        record_grant(ctx, uow, grant, by)
    return grant


def revoke_grant(
    ctx: ServiceContext, *, app: Application, subject_id: str, grant_id: str, by: Actor
) -> Grant:
    """The customer revokes a grant of their account; sessions that relied on it end now."""
    with ctx.uow() as uow:
        subject = load_subject(uow, app, subject_id)
        grant = uow.grants.get(grant_id[:36])
        if grant is None or (grant.application_id, grant.account_id) != (
            app.id,
            subject.account_id,
        ):
            raise NotFound(f"no grant {grant_id[:36]} on this account")
        if not uow.grants.revoke(grant.id, at=ctx.clock(), by=subject.id):
            raise GrantClosed("the grant has already ended or been revoked")
        ended = end_unsupported(
            ctx, uow, app.id, subject.account_id, by, note="the customer revoked consent"
        )
        uow.audit.record(grant_event("consent.revoked", grant, by, sessions_ended=ended))
        consent_notices.grant_changed(ctx, uow, grant, given=False, by=by)
        revoked = uow.grants.get(grant.id)
    assert revoked is not None
    return revoked


def grants_of(ctx: ServiceContext, *, app: Application, subject_id: str) -> list[Grant]:
    """Every grant of the subject's account, newest first."""
    with ctx.read() as uow:
        subject = load_subject(uow, app, subject_id)
        return uow.grants.for_account(app.id, subject.account_id)


def advance_waiting(
    ctx: ServiceContext, uow: UnitOfWork, application_id: str, account_id: str, by: Actor
) -> int:
    """Ask the policy again for every request of the account waiting for consent, and move
    those it now allows (or sends to approval) on. Returns how many moved."""
    moved = 0
    waiting = [
        r
        for r in uow.requests.in_states(frozenset({RequestState.PENDING_CONSENT}))
        if (r.application_id, r.account_id) == (application_id, account_id)
    ]
    now = ctx.clock()
    for request in waiting:
        staff = uow.staff.by_id(request.staff_id)
        case = uow.cases.get(request.case_id)
        if staff is None or case is None or request.expires_at <= now:
            continue
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
        event = consent_event(decision.outcome)
        if event is None:
            continue
        to = REQUEST_TRANSITIONS[(RequestState.PENDING_CONSENT, event)]
        if uow.requests.transition(request.id, from_states=sources(event), to=to, at=now):
            moved += 1
            uow.audit.record(
                trail.event(
                    "access.consent_received",
                    by,
                    case=case,
                    request=request,
                    data={"outcome": to.value, "reasons": list(decision.reasons)},
                )
            )
    return moved


def end_unsupported(
    ctx: ServiceContext,
    uow: UnitOfWork,
    application_id: str,
    account_id: str,
    by: Actor,
    *,
    note: str,
) -> int:
    """End every live session of the account that the policy, asked again now, no longer
    allows (it would deny, or it would need consent that is gone). Returns how many ended."""
    now = ctx.clock()
    ended = 0
    for session in uow.sessions.for_account(application_id, account_id):
        if not session.live_at(now):
            continue
        staff = uow.staff.by_id(session.staff_id)
        case = uow.cases.get(session.case_id)
        request = uow.requests.get(session.request_id)
        if staff is None or case is None or request is None:
            continue
        decision = decisions.decide_now(
            ctx,
            uow,
            staff=staff,
            case=case,
            kind=session.kind,
            scopes=frozenset(session.scopes),
            minutes=request.minutes,
            break_glass=request.break_glass,
        )
        if decision.outcome in (Outcome.DENY, Outcome.NEEDS_CONSENT):
            ended += sessions.end(ctx, uow, session, EndReason.REVOKED, by, note=note)
    return ended
