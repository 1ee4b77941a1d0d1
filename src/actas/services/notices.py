"""What the customer is told about access to their account, whatever staff would prefer.

Every notice is an email rendered from the mailer's templates and queued in the outbox inside
the transaction of the change it reports: a session that starts has its notice queued, a
session that rolls back sends nothing. Which notices go out is the policy's
(``Policy.customer_notices``; the default tells everything), and break-glass is always told.
Staff have no switch for any of them.

The session-started notice carries the kill switch: a one-time link to the broker's own page
that ends the session (``/customer/end/<token>``). Only its hash is stored; the token exists
in clear in the outbox row until the worker settles it, as for links and codes.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from actas.domain.access import AccessRequest, AccessSession, Case, EndReason
from actas.domain.audit import Actor, AuditEvent, AuditQuery
from actas.domain.customer import (
    CONFIRM_TTL,
    ActionKind,
    CustomerAction,
    Notice,
    describe_duration,
    kill_switch_ttl,
    mandatory,
    new_action_token,
)
from actas.domain.links import NoVerifiedEmail
from actas.domain.ports import UnitOfWork
from actas.domain.tokens import token_hash
from actas.services import trail
from actas.services.context import ServiceContext
from actas.services.links import EMAIL_CHANNEL, verified_email, when

log = logging.getLogger("actas.notices")

#: Outbox event types of the notices.
NOTICE_EMAIL = "email.notice"


def required(ctx: ServiceContext, notice: Notice) -> bool:
    return notice in mandatory(ctx.policy.customer_notices)


def asked_for(uow: UnitOfWork, session: AccessSession) -> bool:
    """The account's admins asked to be told of every session (the customer page's "notify me
    of every session"): a session's notices go out even where the policy file leaves them out."""
    own = uow.customer_policies.get(session.application_id, session.account_id)
    return own is not None and own.notify_every_session


def _notice_event(
    uow: UnitOfWork,
    type_: str,
    about: AccessSession | Case,
    by: Actor,
    notice: Notice,
    **data: str,
) -> AuditEvent:
    """A notice is recorded on the case (the session named in its data): the session's own
    trail stays the staff member's actions."""
    case = about if isinstance(about, Case) else uow.cases.get(about.case_id)
    extra = {"session": about.id} if isinstance(about, AccessSession) else {}
    return trail.event(type_, by, case=case, data={"notice": notice.value, **extra, **data})


def _recipient(
    uow: UnitOfWork, about: AccessSession | Case, notice: Notice, by: Actor
) -> tuple[str, str, str] | None:
    """(address, display name, application name), or None after auditing that the notice
    could not be sent (a subject without a verified email)."""
    subject = uow.subjects.get(about.application_id, about.subject_id)
    app = uow.applications.by_id(about.application_id)
    try:
        if subject is None:
            raise NoVerifiedEmail("the subject is gone")
        address = verified_email(subject)
    except NoVerifiedEmail:
        uow.audit.record(
            _notice_event(uow, "notice.undeliverable", about, by, notice, why="no verified email")
        )
        return None
    return address, subject.display_name, app.name if app else about.application_id


def _queue(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    notice: Notice,
    template: str,
    address: str,
    values: dict[str, Any],
    about: AccessSession | Case,
    by: Actor,
) -> str:
    assert ctx.mail is not None
    now = ctx.clock()
    payload = ctx.mail.compose(template, values, at=now)
    outbox_id = uow.outbox.add(
        channel=EMAIL_CHANNEL,
        target=address,
        event_type=NOTICE_EMAIL,
        payload={**payload, "notice": notice.value},
        at=now,
    )
    uow.audit.record(_notice_event(uow, "notice.queued", about, by, notice, email=outbox_id))
    return outbox_id


def _may(session: AccessSession) -> tuple[list[str], list[str]]:
    """What the staff member may and may not do, in the customer's words."""
    scopes = sorted(session.scopes)
    writes = any(s == "write" or s.startswith("write") for s in scopes)
    if session.kind == "assist":
        admin = [s.split(":", 1)[1].replace("_", " ") for s in scopes if s.startswith("admin:")]
        may = [f"use these support actions on your account: {', '.join(admin) or 'none'}"]
        may_not = ["see your account as you see it", "change anything else"]
    else:
        may = ["see your account as you see it"]
        may = [*may, "make changes in your account"] if writes else may
        may_not = [] if writes else ["change anything in your account"]
    may_not += ["see or change your password", "sign in as you anywhere else"]
    return may, may_not


def session_started(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    session: AccessSession,
    case: Case,
    request: AccessRequest,
    by: Actor,
) -> str | None:
    """Queue the session-started notice (with its kill switch) and, for break-glass, the
    emergency wording: sent whatever the policy says. Returns the outbox id, if any."""
    notice = Notice.BREAK_GLASS if request.break_glass else Notice.SESSION_STARTED
    if ctx.mail is None or not (
        required(ctx, notice) or request.break_glass or asked_for(uow, session)
    ):
        return None
    recipient = _recipient(uow, session, notice, by)
    if recipient is None:
        return None
    address, name, app_name = recipient
    staff = uow.staff.by_id(session.staff_id)
    now = ctx.clock()
    token = new_action_token(ActionKind.END_SESSION)
    action = CustomerAction(
        id=str(uuid.uuid4()),
        kind=ActionKind.END_SESSION,
        application_id=session.application_id,
        subject_id=session.subject_id,
        account_id=session.account_id,
        case_id=case.id,
        session_id=session.id,
        issued_at=now,
        expires_at=kill_switch_ttl(now, session.expires_at),
    )
    may, may_not = _may(session)
    outbox_id = _queue(
        ctx,
        uow,
        notice=notice,
        template="session_started",
        address=address,
        about=session,
        by=by,
        values={
            "name": name,
            "app_name": app_name,
            "staff_name": staff.display_name if staff else "A support agent",
            "break_glass": request.break_glass,
            "ticket": case.ticket,
            "reason_code": case.reason_code.replace("_", " "),
            "reason": case.reason_text,
            "minutes": request.minutes,
            "expires_at": when(session.expires_at),
            "may": may,
            "may_not": may_not,
            "end_url": f"{ctx.public_url}/customer/end/{token}",
        },
    )
    uow.customer_actions.add(
        dataclasses.replace(action, outbox_id=outbox_id), token_hash=token_hash(token)
    )
    return outbox_id


def _digest(uow: UnitOfWork, session: AccessSession) -> tuple[list[str], list[str]]:
    """The pages viewed and the changes made, from the events the app's SDK reported."""
    events = uow.audit.query(
        AuditQuery(subject=session.subject_id, since=session.started_at, limit=1000)
    )
    viewed: list[str] = []
    changed: list[str] = []
    for event in events:
        if event.get("session") != session.id or event.get("type") != "app.request":
            continue
        data = event.get("data") or {}
        route = str(data.get("route") or data.get("resource") or "a page")
        method = str(data.get("method") or "GET")
        if method in {"GET", "HEAD"}:
            if route not in viewed:
                viewed.append(route)
        else:
            changed.append(f"{method} {route}")
    return viewed, changed


def session_ended(
    ctx: ServiceContext, uow: UnitOfWork, *, session: AccessSession, reason: EndReason, by: Actor
) -> str | None:
    """Queue the session-ended digest: how long, what was seen and changed, who approved."""
    if ctx.mail is None or not (required(ctx, Notice.SESSION_ENDED) or asked_for(uow, session)):
        return None
    recipient = _recipient(uow, session, Notice.SESSION_ENDED, by)
    if recipient is None:
        return None
    address, name, app_name = recipient
    now = ctx.clock()
    staff = uow.staff.by_id(session.staff_id)
    approvers = []
    for approval in uow.requests.approvals(session.request_id):
        if approval.decision == "approve":
            person = uow.staff.by_id(approval.approver_id)
            approvers.append(person.display_name if person else approval.approver_id)
    viewed, changed = _digest(uow, session)
    return _queue(
        ctx,
        uow,
        notice=Notice.SESSION_ENDED,
        template="session_ended",
        address=address,
        about=session,
        by=by,
        values={
            "name": name,
            "app_name": app_name,
            "staff_name": staff.display_name if staff else "A support agent",
            "lasted": describe_duration(int((now - session.started_at).total_seconds())),
            "ended_at": when(now),
            "by_customer": reason is EndReason.ENDED_BY_CUSTOMER,
            "end_reason": reason.value.replace("_", " "),
            "viewed": viewed,
            "changed": changed,
            "approvers": approvers,
        },
    )


def close_out(
    ctx: ServiceContext, uow: UnitOfWork, *, case: Case, changes: str, verify: str, by: Actor
) -> str | None:
    """Queue the close-out summary with its yes/no answer link. Returns the outbox id; the
    console shows "sent" only once that row is delivered."""
    if ctx.mail is None or not required(ctx, Notice.CLOSE_OUT):
        return None
    recipient = _recipient(uow, case, Notice.CLOSE_OUT, by)
    if recipient is None:
        return None
    address, name, app_name = recipient
    now = ctx.clock()
    token = new_action_token(ActionKind.CONFIRM_FIX)
    action = CustomerAction(
        id=str(uuid.uuid4()),
        kind=ActionKind.CONFIRM_FIX,
        application_id=case.application_id,
        subject_id=case.subject_id,
        account_id=case.account_id,
        case_id=case.id,
        issued_at=now,
        expires_at=now + CONFIRM_TTL,
    )
    base = f"{ctx.public_url}/customer/answer/{token}"
    outbox_id = _queue(
        ctx,
        uow,
        notice=Notice.CLOSE_OUT,
        template="close_out",
        address=address,
        about=case,
        by=by,
        values={
            "name": name,
            "app_name": app_name,
            "ticket": case.ticket,
            "changes": changes,
            "verify": verify,
            "yes_url": f"{base}?answer=yes",
            "no_url": f"{base}?answer=no",
        },
    )
    uow.customer_actions.add(
        dataclasses.replace(action, outbox_id=outbox_id), token_hash=token_hash(token)
    )
    return outbox_id
