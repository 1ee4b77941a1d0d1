"""One-time links: issued by the application for one of its subjects, sent only to that
subject's verified email, redeemed once by the application.

Nobody but the email ever holds the token: :func:`issue_link` returns what was issued (its id,
purpose and expiry), never the token or the URL; the token exists in clear only inside the
outbox row that carries the email to SMTP, which the worker empties once it is settled. The
link, its supersession of older links, the email and the audit event commit together or not at
all.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from actas.domain.access import Case
from actas.domain.audit import Actor, AuditEvent, format_time
from actas.domain.errors import Forbidden, NotFound, Unavailable
from actas.domain.links import (
    Link,
    LinkError,
    LinkExpired,
    LinkPurpose,
    LinkUnknown,
    LinkUsed,
    LinkWrongPurpose,
    NoVerifiedEmail,
    check_address,
    check_token,
    link_ttl,
    link_url,
    new_link_token,
    purpose_of,
    recipient_hash,
)
from actas.domain.ports import UnitOfWork
from actas.domain.subjects import Application, Subject, check_external_id
from actas.domain.tokens import token_hash
from actas.services import applications
from actas.services.context import ServiceContext

log = logging.getLogger("actas.links")

#: The outbox channel kind and event type of customer email.
EMAIL_CHANNEL = "email"
LINK_EMAIL = "email.link"


@dataclass(frozen=True)
class IssuedLink:
    """What the issuer learns: that a link went out, and until when it works. No token."""

    id: str
    purpose: LinkPurpose
    subject_id: str
    expires_at: datetime


@dataclass(frozen=True)
class RedeemedLink:
    """A link used up: the application now performs the action for ``subject_id``."""

    id: str
    purpose: LinkPurpose
    application_id: str
    subject_id: str
    account_id: str
    issued_at: datetime
    redeemed_at: datetime


def verified_email(subject: Subject) -> str:
    """The subject's verified address; :class:`NoVerifiedEmail` when there is none usable."""
    if not subject.email or not subject.email_verified:
        raise NoVerifiedEmail(f"subject {subject.id} has no verified email")
    try:
        return check_address(subject.email)
    except ValueError:
        raise NoVerifiedEmail(f"subject {subject.id} has no usable verified email") from None


def when(at: datetime) -> str:
    """A time as the customer reads it in an email."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def issue_link(
    ctx: ServiceContext,
    *,
    application: Application,
    subject_id: str,
    purpose: str | LinkPurpose,
    by: Actor,
) -> IssuedLink:
    """Issue a link of ``purpose`` for ``subject_id`` and email it to the subject's verified
    address; older unused links of the same purpose for the subject stop working.

    :raises UnknownPurpose: ``purpose`` is not a :class:`LinkPurpose`.
    :raises NotFound: no such subject in ``application``.
    :raises NoVerifiedEmail: the subject has no verified email.
    """
    kind = purpose_of(purpose)
    check_external_id("subject", subject_id)
    if application.disabled_at is not None:
        raise Forbidden(f"application {application.id} is disabled")
    with ctx.uow() as uow:
        return issue_in(ctx, uow, application=application, subject_id=subject_id, kind=kind, by=by)


def issue_in(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    application: Application,
    subject_id: str,
    kind: LinkPurpose,
    by: Actor,
    case: Case | None = None,
) -> IssuedLink:
    """:func:`issue_link` inside the caller's transaction (a staff member's case link)."""
    if ctx.mail is None:
        raise Unavailable("customer email is not configured")
    token = new_link_token(kind)
    subject = uow.subjects.get(application.id, subject_id)
    if subject is None:
        raise NotFound(f"no subject {subject_id} in application {application.id}")
    address = verified_email(subject)
    account = uow.accounts.get(application.id, subject.account_id)
    base = applications.handoff_base(application, account)
    now = ctx.clock()
    ttl = link_ttl(kind)
    link = Link(
        id=str(uuid.uuid4()),
        application_id=application.id,
        subject_id=subject.id,
        account_id=subject.account_id,
        purpose=kind,
        issued_at=now,
        expires_at=now + ttl,
        issued_by=by.id or "unknown",
        recipient_hash=recipient_hash(address),
    )
    superseded = uow.links.supersede(
        application_id=application.id, subject_id=subject.id, purpose=kind, at=now
    )
    payload = ctx.mail.compose(
        "link",
        {
            "purpose": kind.value,
            "name": subject.display_name,
            "app_name": application.name,
            "url": link_url(base, token),
            "minutes": int(ttl.total_seconds() // 60),
            "expires_at": when(link.expires_at),
        },
        at=now,
    )
    outbox_id = uow.outbox.add(
        channel=EMAIL_CHANNEL,
        target=address,
        event_type=LINK_EMAIL,
        payload={**payload, "link": link.id},
        at=now,
    )
    uow.links.add(dataclasses.replace(link, outbox_id=outbox_id), token_hash=token_hash(token))
    uow.audit.record(
        AuditEvent(
            type="link.issued",
            actor=by.id,
            subject=subject.id,
            account=subject.account_id,
            case=case.id if case else None,
            ticket=case.ticket if case else None,
            ip=by.ip,
            user_agent=by.user_agent,
            data={
                "application": application.id,
                "link": link.id,
                "purpose": kind.value,
                "expires_at": format_time(link.expires_at),
                "superseded": superseded,
                "email": outbox_id,
            },
        )
    )
    return IssuedLink(id=link.id, purpose=kind, subject_id=subject.id, expires_at=link.expires_at)


def _refusal(
    uow: UnitOfWork, hashed: str, application: Application, wanted: LinkPurpose
) -> LinkError:
    """Why a redemption found no row. A link of another application is "unknown": an
    application learns nothing of links it did not issue."""
    found = uow.links.by_token_hash(hashed)
    if found is None or found.application_id != application.id:
        return LinkUnknown("the link is unknown")
    if found.purpose is not wanted:
        return LinkWrongPurpose(f"the link is for {found.purpose.value}, not {wanted.value}")
    if found.used_at is not None:
        return LinkUsed("the link was already used")
    if found.superseded_at is not None:
        return LinkExpired("the link was replaced by a newer one")
    return LinkExpired("the link has expired")


def redeem_link(
    ctx: ServiceContext,
    *,
    application: Application,
    token: str,
    purpose: str | LinkPurpose,
    by: Actor,
) -> RedeemedLink:
    """Use up a link of ``purpose`` issued by ``application``: of any number of concurrent
    redemptions exactly one succeeds. The subject's verified email must still be the address
    the link was sent to.

    :raises UnknownPurpose: ``purpose`` is not a :class:`LinkPurpose`.
    :raises MalformedToken: ``token`` is not a link token.
    :raises LinkError: unknown, used, expired (or superseded) or of another purpose.
    """
    wanted = purpose_of(purpose)
    carried = check_token(token)
    if application.disabled_at is not None:
        raise Forbidden(f"application {application.id} is disabled")
    hashed = token_hash(token)
    with ctx.uow() as uow:
        now = ctx.clock()
        # The prefix names the purpose it was issued for; the UPDATE checks it again.
        link = None
        if carried is wanted:
            link = uow.links.redeem(
                token_hash=hashed, application_id=application.id, purpose=wanted, at=now
            )
        if link is None:
            error = _refusal(uow, hashed, application, wanted)
            log.info("link redemption refused: %s (application %s)", error.code, application.id)
            raise error
        subject = uow.subjects.get(application.id, link.subject_id)
        try:
            current = verified_email(subject) if subject is not None else None
        except NoVerifiedEmail:
            current = None
        if current is None or recipient_hash(current) != link.recipient_hash:
            # Raising rolls the UPDATE back: the link stays unused, and keeps failing.
            log.info("link %s refused: the subject's verified email changed", link.id)
            raise LinkExpired("the customer's verified email changed since the link was sent")
        uow.audit.record(
            AuditEvent(
                type="link.redeemed",
                actor=by.id,
                subject=link.subject_id,
                account=link.account_id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"application": application.id, "link": link.id, "purpose": wanted.value},
            )
        )
    return RedeemedLink(
        id=link.id,
        purpose=wanted,
        application_id=link.application_id,
        subject_id=link.subject_id,
        account_id=link.account_id,
        issued_at=link.issued_at,
        redeemed_at=now,
    )
