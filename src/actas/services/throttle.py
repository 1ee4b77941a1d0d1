"""Counting failed sign-ins and step-ups, slowing their source, and clearing the count.

The rules are in ``actas.domain.throttle``; this module applies them to the buckets in the
database. Every counted failure, every attempt refused for waiting and every clearing writes
its audit event in the transaction that changes the buckets.
"""

from __future__ import annotations

from datetime import datetime

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import Forbidden, InvalidInput, NotFound, StepUpRequired, Throttled
from actas.domain.identity import StepUpAction
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff, is_totp_code, normalise_email
from actas.domain.throttle import (
    Bucket,
    ThrottleState,
    address_key,
    email_key,
    pair_key,
    step_up_key,
)
from actas.services import passkeys
from actas.services.context import ServiceContext

STEP_UP_WRONG = "the authenticator code is wrong or was already used"
STEP_UP_PASSKEY_WRONG = "the passkey was not accepted; try again"
CODE_NEEDED = "this needs a fresh code from your authenticator app"
PASSKEY_NEEDED = "this needs your passkey: a code from an authenticator app is not accepted here"


def key_email(email: str) -> str:
    """The email a sign-in is counted under: its normal form, or (for text that is no address
    at all) the trimmed, case-folded text, so that malformed emails are slowed like others."""
    try:
        return normalise_email(email)
    except InvalidInput:
        return email.strip().casefold()[:320]


def _wait_message(seconds: int) -> str:
    return f"too many failed sign-ins from here; try again in {seconds} seconds"


def refuse_if_slowed(ctx: ServiceContext, *, email: str, by: Actor) -> None:
    """Raise :class:`Throttled` when this email from this address, or this address, must wait.

    Checked before the account is looked up or the password hashed: the answer and its cost
    are the same for every email, and a waiting source costs the broker no argon2 time.
    """
    now = ctx.clock()
    buckets = (
        (Bucket.PAIR, pair_key(email, by.ip), ctx.throttle.sign_in),
        (Bucket.ADDRESS, address_key(by.ip), ctx.throttle.address),
    )
    with ctx.read() as uow:
        waits = [
            (rule.retry_after(uow.throttle.get(key), now), bucket) for bucket, key, rule in buckets
        ]
    slowed = [(wait, bucket) for wait, bucket in waits if wait is not None]
    if not slowed:
        return
    wait, bucket = max(slowed)
    with ctx.uow() as uow:
        member = uow.staff.by_email(email)
        uow.audit.record(
            AuditEvent(
                type="staff.login_throttled",
                actor=member.id if member else None,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"bucket": bucket.value, "retry_after": wait},
            )
        )
    raise Throttled(_wait_message(wait), retry_after=wait)


def count_sign_in_failure(
    ctx: ServiceContext, *, email: str, staff: Staff | None, reason: str, by: Actor
) -> None:
    """Count a failed sign-in against its (email, address) and address buckets and audit it,
    in one transaction of its own (the sign-in itself changes nothing)."""
    now = ctx.clock()
    with ctx.uow() as uow:
        pair = _count(ctx, uow, pair_key(email, by.ip), Bucket.PAIR, email_key(email), now)
        _count(ctx, uow, address_key(by.ip), Bucket.ADDRESS, None, now)
        data: dict[str, str | int] = {"reason": reason, "failures": pair.failures}
        wait = ctx.throttle.sign_in.retry_after(pair, now)
        if wait is not None:
            data["wait_seconds"] = wait
        uow.audit.record(
            AuditEvent(
                type="staff.login_failed",
                actor=staff.id if staff else None,
                ip=by.ip,
                user_agent=by.user_agent,
                data=data,
            )
        )


def _count(
    ctx: ServiceContext,
    uow: UnitOfWork,
    key: str,
    bucket: Bucket,
    email_digest: str | None,
    now: datetime,
) -> ThrottleState:
    rule = {
        Bucket.PAIR: ctx.throttle.sign_in,
        Bucket.ADDRESS: ctx.throttle.address,
        Bucket.STEP_UP: ctx.throttle.step_up,
    }[bucket]
    current = uow.throttle.locked(key, bucket=bucket.value, email_key=email_digest, now=now)
    state = rule.after_failure(current if current.failures else None, now)
    uow.throttle.save(key, state)
    return state


def signed_in(ctx: ServiceContext, uow: UnitOfWork, *, email: str, by: Actor) -> None:
    """A success clears its own (email, address) bucket; not the address bucket, which a
    source holding one valid account could otherwise reset between guesses at others."""
    uow.throttle.clear(pair_key(email, by.ip))
    uow.throttle.purge(ctx.clock() - ctx.throttle.sign_in.max_delay * 2)


def verify_step_up(
    ctx: ServiceContext,
    uow: UnitOfWork,
    staff: Staff,
    code: str | None,
    *,
    action: StepUpAction,
    assertion: str | None = None,
) -> None:
    """The one step-up: a WebAuthn assertion (``assertion``) or a fresh TOTP code, never one
    used before (it moves the staff member's last step).

    Where the policy requires a passkey for this staff member's roles or for ``action``
    (``[passkeys]`` in the settings), a code is refused whatever its value. A wrong code or a
    refused assertion is audited and counted in the staff member's step-up bucket, in the
    caller's transaction (the callers commit it before raising); past the free failures the
    step-up waits, so a stolen staff session cannot try every code.
    """
    rules = ctx.identity.passkeys
    if not code and not assertion:
        needed = rules.passkey_required(roles=staff.roles, action=action)
        raise StepUpRequired(PASSKEY_NEEDED if needed else CODE_NEEDED)
    current = uow.staff.by_id(staff.id)
    if current is None or not current.active:
        raise Forbidden("the staff account is disabled")
    # The roles as stored now, not as the caller's session loaded them.
    required = rules.passkey_required(roles=current.roles, action=action)
    now = ctx.clock()
    key = step_up_key(staff.id)
    wait = ctx.throttle.step_up.retry_after(uow.throttle.get(key), now)
    if wait is not None:
        _step_up_event(uow, staff, "staff.step_up_throttled", {"retry_after": wait})
        raise StepUpRequired(f"too many wrong codes; try again in {wait} seconds")
    if assertion:
        try:
            passkeys.check_step_up(ctx, uow, current, assertion)
        except passkeys.PasskeyRefused as exc:
            _step_up_failed(ctx, uow, staff, key, f"passkey_{exc.reason}"[:60], now)
            raise StepUpRequired(STEP_UP_PASSKEY_WRONG) from None
        uow.throttle.clear(key)
        _step_up_event(uow, staff, "staff.step_up", {"method": "passkey", "action": action.value})
        return
    if required:
        # Not counted (it is no guess), but audited: someone tried a code where the policy
        # wants a phishing-resistant proof.
        data: dict[str, str | int] = {"reason": "passkey_required", "action": action.value}
        _step_up_event(uow, staff, "staff.step_up_failed", data)
        raise StepUpRequired(PASSKEY_NEEDED)
    code = (code or "").strip()
    step = ctx.totp.matching_step(current.totp_secret, code, now) if is_totp_code(code) else None
    if step is not None and uow.staff.claim_totp_step(staff.id, step):
        uow.throttle.clear(key)
        return
    _step_up_failed(ctx, uow, staff, key, "totp" if step is None else "totp_replayed", now)
    raise StepUpRequired(STEP_UP_WRONG)


def _step_up_failed(
    ctx: ServiceContext, uow: UnitOfWork, staff: Staff, key: str, reason: str, now: datetime
) -> None:
    state = _count(ctx, uow, key, Bucket.STEP_UP, None, now)
    data: dict[str, str | int] = {"reason": reason, "failures": state.failures}
    _step_up_event(uow, staff, "staff.step_up_failed", data)


def _step_up_event(uow: UnitOfWork, staff: Staff, type_: str, data: dict[str, str | int]) -> None:
    uow.audit.record(AuditEvent(type=type_, actor=staff.id, data=data))


def unthrottle(ctx: ServiceContext, *, email: str, by: Actor) -> int:
    """Clear a staff member's sign-in and step-up waits (an admin's act). Returns how many
    buckets were cleared; audited when any was."""
    email = normalise_email(email)
    with ctx.uow() as uow:
        member = uow.staff.by_email(email)
        if member is None:
            raise NotFound(f"no staff member with email {email}")
        cleared = uow.throttle.clear_email(email_key(email))
        cleared += int(uow.throttle.clear(step_up_key(member.id)))
        if cleared:
            uow.audit.record(
                AuditEvent(
                    type="staff.unthrottled",
                    actor=by.id,
                    ip=by.ip,
                    user_agent=by.user_agent,
                    data={"staff": member.id, "cleared": cleared},
                )
            )
    return cleared


def unthrottle_address(ctx: ServiceContext, *, address: str, by: Actor) -> bool:
    """Clear the wait of one client address (an office behind one address, say)."""
    with ctx.uow() as uow:
        cleared = uow.throttle.clear(address_key(address))
        if cleared:
            uow.audit.record(
                AuditEvent(
                    type="staff.unthrottled",
                    actor=by.id,
                    ip=by.ip,
                    user_agent=by.user_agent,
                    data={"address": address[:64], "cleared": 1},
                )
            )
    return cleared


def slowed_staff(ctx: ServiceContext) -> dict[str, datetime]:
    """Staff whose sign-in is slowed from some address right now, and until when."""
    now = ctx.clock()
    with ctx.read() as uow:
        blocked = uow.throttle.blocked_emails(now)
        members = uow.staff.all() if blocked else []
    return {m.id: blocked[email_key(m.email)] for m in members if email_key(m.email) in blocked}
