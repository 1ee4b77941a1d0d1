"""The customer's emails about consent: support asks for access from a case ("please grant
access"), and the customer is told whenever a grant of their account is given or revoked.

Each email is composed by the mailer and queued in the outbox inside the transaction of the
change it reports (or of the ask itself), so it goes out exactly when that commits. The grant
notices are always sent: a grant opens the account to support, and a customer who did not make
it (someone else on a shared device, a compromised application session) must hear of it. They
are not among the policy's ``customer_notices`` for that reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from actas.domain.access import CaseStatus, may_act_on
from actas.domain.audit import Actor, AuditEvent, AuditQuery
from actas.domain.consent import Grant
from actas.domain.errors import Conflict, Forbidden
from actas.domain.links import NoVerifiedEmail
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services import trail
from actas.services.context import ServiceContext
from actas.services.links import EMAIL_CHANNEL, verified_email, when

#: The outbox event type of these emails.
CONSENT_EMAIL = "email.consent"
#: Support may ask the customer this many times a case a day: an ask is a nudge, not spam.
ASKS_PER_DAY = 3
#: The customer page's address on the broker; it opens from the application.
PAGE_PATH = "/customer/page"


def _queue(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    template: str,
    address: str,
    values: dict[str, Any],
) -> str:
    assert ctx.mail is not None
    now = ctx.clock()
    payload = ctx.mail.compose(template, values, at=now)
    return uow.outbox.add(
        channel=EMAIL_CHANNEL, target=address, event_type=CONSENT_EMAIL, payload=payload, at=now
    )


def ask_for_consent(ctx: ServiceContext, *, staff: Staff, case_id: str, by: Actor) -> str:
    """Email the case's customer asking them to grant access from the customer page.
    Returns the outbox id. The case's owner (or a lead, security, an admin) only; an open case;
    at most :data:`ASKS_PER_DAY` a case a day.

    :raises NoVerifiedEmail: the subject has no verified email (nothing is written).
    """
    if ctx.mail is None:
        raise Conflict("this broker sends no email")
    with ctx.uow() as uow:
        case = trail.load_case(uow, case_id)
        if not may_act_on(staff_id=staff.id, roles=staff.roles, owner_id=case.staff_id):
            raise Forbidden("only the case's owner, a lead, security or an admin may ask")
        if case.status is not CaseStatus.OPEN:
            raise Conflict("the case is closed")
        since = ctx.clock() - timedelta(days=1)
        asked = [
            e
            for e in uow.audit.query(
                AuditQuery(account=case.account_id, type="consent.asked", since=since, limit=1000)
            )
            if e.get("case") == case.id
        ]
        if len(asked) >= ASKS_PER_DAY:
            raise Conflict(f"the customer was asked {ASKS_PER_DAY} times today on this case")
        subject = uow.subjects.get(case.application_id, case.subject_id)
        if subject is None:
            raise NoVerifiedEmail("the subject is gone")
        address = verified_email(subject)
        app = uow.applications.by_id(case.application_id)
        outbox_id = _queue(
            ctx,
            uow,
            template="consent_request",
            address=address,
            values={
                "name": subject.display_name,
                "app_name": app.name if app else case.application_id,
                "staff_name": staff.display_name,
                "ticket": case.ticket,
                "reason_code": case.reason_code.replace("_", " "),
                "reason": case.reason_text,
                "url": f"{ctx.public_url.rstrip('/')}{PAGE_PATH}",
            },
        )
        uow.audit.record(trail.event("consent.asked", by, case=case, data={"email": outbox_id}))
    return outbox_id


def grant_changed(
    ctx: ServiceContext, uow: UnitOfWork, grant: Grant, *, given: bool, by: Actor
) -> str | None:
    """Tell the customer who made the grant that it was given or revoked (in the grant's
    transaction). None, audited, when there is no mailer or no verified email."""
    if ctx.mail is None:
        return None
    subject = uow.subjects.get(grant.application_id, grant.granted_by)
    try:
        if subject is None:
            raise NoVerifiedEmail("the subject is gone")
        address = verified_email(subject)
    except NoVerifiedEmail:
        uow.audit.record(_event("notice.undeliverable", grant, by, given, why="no verified email"))
        return None
    app = uow.applications.by_id(grant.application_id)
    staff = uow.staff.by_id(grant.staff_id) if grant.staff_id else None
    outbox_id = _queue(
        ctx,
        uow,
        template="grant_notice",
        address=address,
        values={
            "name": subject.display_name,
            "app_name": app.name if app else grant.application_id,
            "given": given,
            "read_only": grant.read_only,
            "expires_at": when(grant.expires_at),
            "staff_name": staff.display_name if staff else None,
            "url": f"{ctx.public_url.rstrip('/')}{PAGE_PATH}",
        },
    )
    uow.audit.record(_event("notice.queued", grant, by, given, email=outbox_id))
    return outbox_id


def _event(type_: str, grant: Grant, by: Actor, given: bool, **data: str) -> AuditEvent:
    notice = "grant_given" if given else "grant_revoked"
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=grant.granted_by,
        account=grant.account_id,
        case=grant.case_id,
        ip=by.ip,
        user_agent=by.user_agent,
        data={"application": grant.application_id, "grant": grant.id, "notice": notice, **data},
    )
