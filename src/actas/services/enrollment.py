"""Enrollment links: a new staff member (or one who lost their authenticator) sets their own
password and enrols TOTP or a passkey, so no admin ever sees their secret.

A link is single-use, lives :data:`ENROLLMENT_TTL` (24 h), is stored only as a hash, and is
shown once to the admin who issued it or emailed to the member through the outbox. Issuing a
new one supersedes the member's earlier links. The TOTP seed offered on the link's page is
generated (sealed) at the first view and kept with the link; it becomes the member's seed only
when they prove they scanned it with a code, in the transaction that uses the link up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import Conflict, InvalidGrant, InvalidInput, NotFound, Unavailable
from actas.domain.identity import ENROLLMENT_PREFIX, ENROLLMENT_TTL, NO_PASSWORD, Enrollment
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff, check_password_strength, is_totp_code, normalise_email
from actas.domain.tokens import new_token, token_hash
from actas.services import passkeys
from actas.services.context import ServiceContext

#: Where an enrollment link opens, under the broker's public URL.
ENROLL_PATH = "/console/enroll/"
STAFF_ENROLLMENT_EMAIL = "staff.enrollment_email"
UNUSABLE = "this enrollment link was used already, has expired or was replaced by a newer one"


@dataclass(frozen=True)
class IssuedEnrollment:
    enrollment: Enrollment
    staff: Staff
    #: The link: shown once to the admin, or None when it was emailed.
    url: str | None


@dataclass(frozen=True)
class EnrollmentPage:
    staff: Staff
    #: The seed offered for an authenticator app (an otpauth URI for the QR code).
    otpauth_uri: str
    expires_at: datetime
    password_needed: bool


def _url(ctx: ServiceContext, token: str) -> str:
    return ctx.public_url.rstrip("/") + ENROLL_PATH + token


def add_member(
    ctx: ServiceContext,
    *,
    email: str,
    display_name: str,
    roles: frozenset[Role],
    send_email: bool,
    by: Actor,
) -> IssuedEnrollment:
    """A new staff member with no password and a seed nobody saw, and their enrollment link
    (one transaction)."""
    email = normalise_email(email)
    if not roles:
        raise Conflict("a staff member needs at least one role")
    with ctx.uow() as uow:
        if uow.staff.by_email(email) is not None:
            raise Conflict(f"a staff member with email {email} already exists")
        member = Staff(
            id=str(uuid.uuid4()),
            email=email,
            display_name=display_name.strip()[:200] or email,
            roles=roles,
            password_hash=NO_PASSWORD,
            totp_secret=ctx.totp.new_secret(),
            totp_last_step=None,
            disabled_at=None,
            created_at=ctx.clock(),
        )
        uow.staff.add(member)
        uow.audit.record(
            AuditEvent(
                type="staff.added",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "staff": member.id,
                    "roles": sorted(r.value for r in roles),
                    "via": "enrollment_link",
                },
            )
        )
        return _issue(ctx, uow, member, send_email=send_email, by=by)


def member_by_email(ctx: ServiceContext, email: str) -> Staff:
    email = normalise_email(email)
    with ctx.read() as uow:
        member = uow.staff.by_email(email)
    if member is None:
        raise NotFound(f"no staff member with email {email}")
    return member


def issue(ctx: ServiceContext, *, staff_id: str, send_email: bool, by: Actor) -> IssuedEnrollment:
    """A new link for an existing member (earlier links stop working)."""
    with ctx.uow() as uow:
        member = uow.staff.by_id(staff_id)
        if member is None:
            raise NotFound(f"no staff member with id {staff_id[:40]}")
        if not member.active:
            raise Conflict("the staff member is disabled; enable them first")
        return _issue(ctx, uow, member, send_email=send_email, by=by)


def _issue(
    ctx: ServiceContext, uow: UnitOfWork, member: Staff, *, send_email: bool, by: Actor
) -> IssuedEnrollment:
    if send_email and ctx.mail is None:
        raise Unavailable("email is not configured on this broker; show the link instead")
    now = ctx.clock()
    token = new_token(ENROLLMENT_PREFIX)
    superseded = uow.identity.supersede_enrollments(member.id, now=now)
    enrollment = Enrollment(
        id=str(uuid.uuid4()),
        staff_id=member.id,
        issued_at=now,
        expires_at=now + ENROLLMENT_TTL,
        issued_by=(by.id or "system")[:128],
        used_at=None,
    )
    uow.identity.add_enrollment(enrollment, token_hash=token_hash(token))
    if send_email:
        assert ctx.mail is not None
        payload = ctx.mail.compose(
            "staff_enrollment",
            {
                "name": member.display_name,
                "url": _url(ctx, token),
                "hours": int(ENROLLMENT_TTL.total_seconds() // 3600),
                "expires_at": enrollment.expires_at.strftime("%Y-%m-%d %H:%M UTC"),
            },
            at=now,
        )
        uow.outbox.add(
            channel="email",
            target=member.email,
            event_type=STAFF_ENROLLMENT_EMAIL,
            payload={**payload, "enrollment": enrollment.id},
            at=now,
        )
    uow.audit.record(
        AuditEvent(
            type="staff.enrollment_issued",
            actor=by.id,
            ip=by.ip,
            user_agent=by.user_agent,
            data={
                "staff": member.id,
                "enrollment": enrollment.id,
                "emailed": send_email,
                "superseded": superseded,
            },
        )
    )
    return IssuedEnrollment(
        enrollment=enrollment, staff=member, url=None if send_email else _url(ctx, token)
    )


def _usable(ctx: ServiceContext, uow: UnitOfWork, token: str) -> tuple[Enrollment, Staff]:
    if not token.startswith(ENROLLMENT_PREFIX) or len(token) > 200:
        raise InvalidGrant(UNUSABLE)
    enrollment = uow.identity.enrollment_by_token_hash(token_hash(token))
    if enrollment is None or not enrollment.usable_at(ctx.clock()):
        raise InvalidGrant(UNUSABLE)
    member = uow.staff.by_id(enrollment.staff_id)
    if member is None or not member.active:
        raise InvalidGrant(UNUSABLE)
    return enrollment, member


def open_link(ctx: ServiceContext, token: str) -> EnrollmentPage:
    """What the link's page shows: whose it is and the seed to scan (the same seed on every
    view of this link, generated at the first)."""
    with ctx.uow() as uow:
        enrollment, member = _usable(ctx, uow, token)
        if enrollment.pending_totp_secret is None:
            uow.identity.offer_totp(enrollment.id, ctx.totp.new_secret())
            enrollment, member = _usable(ctx, uow, token)
        seed = enrollment.pending_totp_secret
        assert seed is not None
    return EnrollmentPage(
        staff=member,
        otpauth_uri=ctx.totp.provisioning_uri(seed, account_name=member.email, issuer=ctx.issuer),
        expires_at=enrollment.expires_at,
        password_needed=ctx.identity.password_sign_in,
    )


def passkey_options(ctx: ServiceContext, token: str) -> str:
    """Registration options for the link's member (the link is not used up by asking)."""
    with ctx.read() as uow:
        _, member = _usable(ctx, uow, token)
    return passkeys.registration_options(ctx, member)


def complete(
    ctx: ServiceContext,
    *,
    token: str,
    password: str,
    code: str | None,
    passkey_response: str | None,
    passkey_name: str = "Passkey",
    by: Actor,
) -> Staff:
    """Use the link up: set the password (when passwords are on) and enrol the seed shown on
    the page (proven by a code from it) or a passkey. Ends the member's staff sessions (a
    re-enrollment replaces what they signed in with). Nothing changes when any part fails."""
    if bool(code) == bool(passkey_response):
        raise InvalidInput("enrol either the authenticator app (its code) or a passkey")
    password_hash: str | None = None
    if ctx.identity.password_sign_in:
        check_password_strength(password)
        password_hash = ctx.passwords.hash(password)
    with ctx.read() as uow:
        _, member = _usable(ctx, uow, token)
    if passkey_response:
        passkeys.take_registration(ctx, staff=member, response=passkey_response, by=by)
    with ctx.uow() as uow:
        enrollment, member = _usable(ctx, uow, token)
        now = ctx.clock()
        if passkey_response:
            passkeys.add_verified(
                ctx, uow, member, response=passkey_response, name=passkey_name, by=by
            )
            method = "passkey"
        else:
            _enrol_totp(ctx, uow, enrollment, member, (code or "").strip(), now)
            method = "totp"
        if password_hash is not None:
            uow.staff.set_password_hash(member.id, password_hash)
        if not uow.identity.redeem_enrollment(enrollment.id, now=now):
            raise InvalidGrant(UNUSABLE)  # used by a concurrent request: roll back
        ended = uow.staff_sessions.revoke_all_for(member.id, now)
        uow.audit.record(
            AuditEvent(
                type="staff.enrolled",
                actor=member.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "staff": member.id,
                    "enrollment": enrollment.id,
                    "method": method,
                    "password_set": password_hash is not None,
                    "sessions_ended": ended,
                },
            )
        )
    return member


def _enrol_totp(
    ctx: ServiceContext,
    uow: UnitOfWork,
    enrollment: Enrollment,
    member: Staff,
    code: str,
    now: datetime,
) -> None:
    seed = enrollment.pending_totp_secret
    step = ctx.totp.matching_step(seed, code, now) if seed and is_totp_code(code) else None
    if seed is None or step is None:
        raise InvalidInput("the code does not match the key shown on this page; try the next one")
    uow.staff.set_totp_secret(member.id, seed)
    uow.staff.claim_totp_step(member.id, step)
