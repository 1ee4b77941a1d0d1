"""Staff accounts and their sign-in: argon2id password, TOTP never accepted twice, a throttle
that slows the source of failures (``services.throttle``), and the rule that the broker always
keeps an active admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import (
    Staff,
    StaffSession,
    check_admin_change,
    check_password_strength,
    is_totp_code,
    normalise_email,
)
from actas.domain.tokens import STAFF_SESSION_PREFIX, looks_like, new_token, token_hash
from actas.services import sessions, throttle
from actas.services.context import ServiceContext
from actas.services.sign_in import SignedIn

#: Touch a session's last-seen time at most this often: one write a minute, not one a request.
TOUCH_EVERY = timedelta(seconds=60)
WRONG_CREDENTIALS = "email, password or code is wrong"


@dataclass(frozen=True)
class Enrollment:
    staff: Staff
    otpauth_uri: str


def add_staff(
    ctx: ServiceContext,
    *,
    email: str,
    display_name: str,
    roles: frozenset[Role],
    password: str,
    by: Actor,
) -> Enrollment:
    email = normalise_email(email)
    check_password_strength(password)
    if not roles:
        raise Conflict("a staff member needs at least one role")
    secret = ctx.totp.new_secret()
    password_hash = ctx.passwords.hash(password)
    with ctx.uow() as uow:
        if uow.staff.by_email(email) is not None:
            raise Conflict(f"a staff member with email {email} already exists")
        member = Staff(
            id=str(uuid.uuid4()),
            email=email,
            display_name=display_name.strip() or email,
            roles=roles,
            password_hash=password_hash,
            totp_secret=secret,
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
                data={"staff": member.id, "roles": sorted(r.value for r in roles)},
            )
        )
    uri = ctx.totp.provisioning_uri(secret, account_name=email, issuer=ctx.issuer)
    return Enrollment(staff=member, otpauth_uri=uri)


def login(ctx: ServiceContext, *, email: str, password: str, code: str, by: Actor) -> SignedIn:
    """Check password and a fresh TOTP code; open a staff session.

    Every failure answers the same 401, is audited and counted against its source; a source
    that failed too often gets 429 with Retry-After before anything is checked, known email or
    not. The slow password check runs outside any write transaction (it would hold SQLite's
    write lock for 130 ms); the state is read again inside the transaction that opens the
    session.
    """
    if not ctx.identity.password_sign_in:
        raise Forbidden("password sign-in is turned off; sign in through single sign-on")
    counted = throttle.key_email(email)
    throttle.refuse_if_slowed(ctx, email=counted, by=by)

    def fail(staff: Staff | None, reason: str) -> AuthenticationFailed:
        throttle.count_sign_in_failure(ctx, email=counted, staff=staff, reason=reason, by=by)
        return AuthenticationFailed(WRONG_CREDENTIALS)

    try:
        email = normalise_email(email)
    except InvalidInput:
        ctx.passwords.verify_dummy(password)
        raise fail(None, "unknown_account") from None
    with ctx.read() as uow:
        staff = uow.staff.by_email(email)
    if staff is None:
        ctx.passwords.verify_dummy(password)
        raise fail(None, "unknown_account")
    if not ctx.passwords.verify(staff.password_hash, password):
        raise fail(staff, "password")
    if not staff.active:
        raise fail(staff, "disabled")
    code = code.strip()
    # Six ASCII digits or it is simply wrong: a lookalike digit never reaches the comparison.
    step = None
    if is_totp_code(code):
        step = ctx.totp.matching_step(staff.totp_secret, code, ctx.clock())
    if step is None:
        raise fail(staff, "totp")

    token = new_token(STAFF_SESSION_PREFIX)
    session: StaffSession | None = None
    with ctx.uow() as uow:
        current = uow.staff.by_id(staff.id)
        now = ctx.clock()
        if current is None or not current.active:
            raise AuthenticationFailed(WRONG_CREDENTIALS)
        # The step check and the session are one transaction: a code is used exactly once.
        if uow.staff.claim_totp_step(staff.id, step):
            session = StaffSession(
                id=str(uuid.uuid4()),
                staff_id=staff.id,
                created_at=now,
                expires_at=now + ctx.session_ttl,
                last_seen_at=now,
                revoked_at=None,
            )
            throttle.signed_in(ctx, uow, email=email, by=by)
            _reseal(ctx, uow, current)
            uow.staff_sessions.add(session, token_hash=token_hash(token))
            uow.audit.record(
                AuditEvent(
                    type="staff.login",
                    actor=staff.id,
                    ip=by.ip,
                    user_agent=by.user_agent,
                    data={"staff_session": session.id},
                )
            )
    if session is None:
        raise fail(staff, "totp_replayed")
    return SignedIn(token=token, session=session, staff=current)


def _reseal(ctx: ServiceContext, uow: UnitOfWork, member: Staff) -> bool:
    """Seal a seed still stored plain (written before migration 0004) or under an older data
    key, with the newest one. Returns True when it changed."""
    fresh = ctx.totp.reseal(member.totp_secret)
    return fresh is not None and uow.staff.reseal_totp_secret(
        member.id, old=member.totp_secret, new=fresh
    )


def seal_seeds(ctx: ServiceContext, *, by: Actor) -> int:
    """Seal every seed not sealed with the newest data key (``actas init`` after migrating, and
    after a key rotation). One transaction and one audit event; returns how many changed."""
    with ctx.uow() as uow:
        changed = sum(_reseal(ctx, uow, member) for member in uow.staff.all())
        if changed:
            uow.audit.record(
                AuditEvent(type="staff.totp_sealed", actor=by.id, data={"seeds": changed})
            )
    return changed


def authenticate(ctx: ServiceContext, token: str) -> tuple[Staff, StaffSession]:
    """The staff member behind a session token, if the session is live and they are active."""
    if not looks_like(token, STAFF_SESSION_PREFIX):
        raise AuthenticationFailed("no valid staff session")
    now = ctx.clock()
    with ctx.read() as uow:
        session = uow.staff_sessions.by_token_hash(token_hash(token))
        staff = uow.staff.by_id(session.staff_id) if session else None
    if session is None or staff is None:
        raise AuthenticationFailed("no valid staff session")
    if not staff.active or not session.live_at(now, idle=ctx.session_idle):
        raise AuthenticationFailed("the staff session has ended; sign in again")
    if now - session.last_seen_at >= TOUCH_EVERY:
        with ctx.uow() as uow:
            uow.staff_sessions.touch(session.id, now)
    return staff, session


def logout(ctx: ServiceContext, *, staff: Staff, session: StaffSession, by: Actor) -> None:
    with ctx.uow() as uow:
        if uow.staff_sessions.revoke(session.id, ctx.clock()):
            uow.audit.record(
                AuditEvent(
                    type="staff.logout",
                    actor=staff.id,
                    ip=by.ip,
                    user_agent=by.user_agent,
                    data={"staff_session": session.id},
                )
            )


def _existing(uow_staff: Staff | None, email: str) -> Staff:
    if uow_staff is None:
        raise NotFound(f"no staff member with email {email}")
    return uow_staff


def _keep_an_admin(
    uow: UnitOfWork, member: Staff, by: Actor, *, roles_after: frozenset[Role], active_after: bool
) -> None:
    # The admins are read (and on PostgreSQL locked) only when the change touches one.
    admins = uow.staff.active_admin_ids() if member.is_active_admin else frozenset()
    check_admin_change(
        actor_id=by.id,
        member=member,
        roles_after=roles_after,
        active_after=active_after,
        active_admins=admins,
    )


def disable_staff(ctx: ServiceContext, *, email: str, by: Actor) -> int:
    """Disable a staff member and end every session of theirs at once. Returns sessions ended."""
    email = normalise_email(email)
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        if not member.active:
            return 0
        _keep_an_admin(uow, member, by, roles_after=member.roles, active_after=False)
        now = ctx.clock()
        uow.staff.set_disabled(member.id, now)
        ended = uow.staff_sessions.revoke_all_for(member.id, now)
        uow.audit.record(
            AuditEvent(
                type="staff.disabled",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"staff": member.id, "sessions_ended": ended},
            )
        )
        # Their access sessions end too, each with its own revocation and event.
        sessions.end_sessions_of(ctx, uow, member.id, by)
    return ended


def enable_staff(ctx: ServiceContext, *, email: str, by: Actor) -> None:
    email = normalise_email(email)
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        if member.active:
            return
        uow.staff.set_disabled(member.id, None)
        uow.audit.record(
            AuditEvent(
                type="staff.enabled",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"staff": member.id},
            )
        )


def set_roles(ctx: ServiceContext, *, email: str, roles: frozenset[Role], by: Actor) -> None:
    email = normalise_email(email)
    if not roles:
        raise Conflict("a staff member needs at least one role")
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        if member.roles == roles:
            return
        _keep_an_admin(uow, member, by, roles_after=roles, active_after=member.active)
        uow.staff.set_roles(member.id, roles)
        uow.audit.record(
            AuditEvent(
                type="staff.roles_changed",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "staff": member.id,
                    "from": sorted(r.value for r in member.roles),
                    "to": sorted(r.value for r in roles),
                },
            )
        )


def reset_totp(ctx: ServiceContext, *, email: str, by: Actor) -> str:
    """Give the staff member a new authenticator secret; ends their sessions. Returns the URI."""
    email = normalise_email(email)
    secret = ctx.totp.new_secret()
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        uow.staff.set_totp_secret(member.id, secret)
        ended = uow.staff_sessions.revoke_all_for(member.id, ctx.clock())
        uow.audit.record(
            AuditEvent(
                type="staff.totp_reset",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"staff": member.id, "sessions_ended": ended},
            )
        )
    return ctx.totp.provisioning_uri(secret, account_name=email, issuer=ctx.issuer)


def get_staff(ctx: ServiceContext, staff_id: str) -> Staff:
    with ctx.read() as uow:
        member = uow.staff.by_id(staff_id)
    if member is None:
        raise NotFound(f"no staff member with id {staff_id[:40]}")
    return member


def list_staff(ctx: ServiceContext) -> list[Staff]:
    with ctx.read() as uow:
        return uow.staff.all()


def assign(
    ctx: ServiceContext,
    *,
    email: str,
    application_id: str,
    account_id: str,
    remove: bool,
    by: Actor,
) -> bool:
    """Assign a staff member to an account, or remove the assignment. True if it changed."""
    email = normalise_email(email)
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        if uow.accounts.get(application_id, account_id) is None:
            raise NotFound(f"no account {account_id[:128]} in application {application_id[:63]}")
        if remove:
            changed = uow.assignments.remove(member.id, application_id, account_id)
        else:
            changed = uow.assignments.add(member.id, application_id, account_id)
        if changed:
            uow.audit.record(
                AuditEvent(
                    type="staff.unassigned" if remove else "staff.assigned",
                    actor=by.id,
                    account=account_id,
                    ip=by.ip,
                    user_agent=by.user_agent,
                    data={"staff": member.id, "application": application_id},
                )
            )
    return changed


def link_slack(ctx: ServiceContext, *, email: str, slack_user_id: str, by: Actor) -> None:
    """Map a Slack user to a staff member: approvals from Slack act as that person."""
    email = normalise_email(email)
    if not slack_user_id.isalnum() or len(slack_user_id) > 32:
        raise InvalidInput(f"Slack user id {slack_user_id[:40]!r} is not an id like U024BE7LH")
    with ctx.uow() as uow:
        member = _existing(uow.staff.by_email(email), email)
        uow.slack_links.link(slack_user_id, member.id)
        uow.audit.record(
            AuditEvent(
                type="staff.slack_linked",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"staff": member.id, "slack_user": slack_user_id},
            )
        )


def staff_for_slack(ctx: ServiceContext, slack_user_id: str) -> Staff | None:
    """The active staff member a Slack user is linked to, if any."""
    with ctx.read() as uow:
        staff_id = uow.slack_links.staff_for(slack_user_id)
        staff = uow.staff.by_id(staff_id) if staff_id else None
    return staff if staff is not None and staff.active else None
