"""Passkeys (WebAuthn): registering them, signing in with one, and the passkey half of a
step-up.

Every ceremony answers a challenge the broker issued for one purpose (and, but for sign-in,
one staff member), stored only as a hash and taken once: a response replayed, answering a
challenge of another purpose or another person, or made for another origin or relying party
(checked by ``ctx.webauthn``) is refused. Sign-in and step-up require user verification: the
authenticator checked the person (PIN or biometric), so the passkey is both factors.
"""

from __future__ import annotations

import secrets
import uuid

from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import AuthenticationFailed, InvalidInput, NotFound
from actas.domain.identity import (
    CHALLENGE_TTL,
    MAX_PASSKEYS,
    PASSKEY_NAME_MAX,
    ChallengePurpose,
    Passkey,
)
from actas.domain.identity_ports import WebAuthn
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.domain.tokens import token_hash
from actas.services import sign_in
from actas.services.context import ServiceContext
from actas.services.sign_in import SignedIn

REFUSED = "the passkey was not accepted"


class PasskeyRefused(AuthenticationFailed):
    """A ceremony refused, with a short reason for the audit log."""

    def __init__(self, reason: str) -> None:
        super().__init__(REFUSED)
        self.reason = reason


def _webauthn(ctx: ServiceContext) -> WebAuthn:
    if ctx.webauthn is None:
        raise InvalidInput("passkeys are not enabled on this broker")
    return ctx.webauthn


def _challenge(
    ctx: ServiceContext, uow: UnitOfWork, purpose: ChallengePurpose, staff_id: str | None
) -> bytes:
    challenge = secrets.token_bytes(32)
    uow.identity.add_challenge(
        token_hash(challenge.hex()),
        staff_id=staff_id,
        purpose=purpose.value,
        expires_at=ctx.clock() + CHALLENGE_TTL,
    )
    return challenge


def _take(
    ctx: ServiceContext,
    uow: UnitOfWork,
    response: str,
    purpose: ChallengePurpose,
    staff_id: str | None,
) -> None:
    """Take the challenge this response answers: issued by this broker, for this purpose (and
    person), unexpired and not used before. Raises :class:`PasskeyRefused` otherwise."""
    try:
        challenge = _webauthn(ctx).challenge_of(response)
    except (InvalidInput, ValueError):
        raise PasskeyRefused("malformed") from None
    taken = uow.identity.take_challenge(
        token_hash(challenge.hex()), purpose=purpose.value, now=ctx.clock()
    )
    if taken is None:
        raise PasskeyRefused("challenge_unknown")
    if staff_id is not None and taken[0] != staff_id:
        raise PasskeyRefused("challenge_other_staff")


def list_passkeys(ctx: ServiceContext, staff_id: str) -> list[Passkey]:
    with ctx.read() as uow:
        return uow.identity.passkeys_of(staff_id)


# --- registration ------------------------------------------------------------------------


def registration_options(ctx: ServiceContext, staff: Staff) -> str:
    """Creation options for a new passkey of ``staff`` (their others excluded)."""
    webauthn = _webauthn(ctx)
    with ctx.uow() as uow:
        existing = uow.identity.passkeys_of(staff.id)
        if len(existing) >= MAX_PASSKEYS:
            raise InvalidInput(f"you have {MAX_PASSKEYS} passkeys already; remove one first")
        challenge = _challenge(ctx, uow, ChallengePurpose.REGISTER, staff.id)
    return webauthn.registration_options(
        user_id=staff.id,
        user_name=staff.email,
        display_name=staff.display_name,
        challenge=challenge,
        exclude=[p.credential_id for p in existing],
    )


def register(ctx: ServiceContext, *, staff: Staff, response: str, name: str, by: Actor) -> Passkey:
    """Verify an attestation answering this member's registration challenge and keep the key.
    A refusal is audited (the taken challenge stays taken)."""
    _webauthn(ctx)
    try:
        with ctx.uow() as uow:  # taken in a transaction of its own: it stays taken
            _take(ctx, uow, response, ChallengePurpose.REGISTER, staff.id)
        with ctx.uow() as uow:
            current = uow.staff.by_id(staff.id)
            if current is None or not current.active:
                raise PasskeyRefused("disabled")
            passkey = add_verified(ctx, uow, current, response=response, name=name, by=by)
    except PasskeyRefused as exc:
        sign_in.refused(
            ctx, type_="staff.passkey_refused", staff_id=staff.id, reason=exc.reason, by=by
        )
        raise
    return passkey


def take_registration(ctx: ServiceContext, *, staff: Staff, response: str, by: Actor) -> None:
    """Take the registration challenge this response answers, in a transaction of its own (it
    stays taken whatever follows); a refusal is audited."""
    try:
        with ctx.uow() as uow:
            _take(ctx, uow, response, ChallengePurpose.REGISTER, staff.id)
    except PasskeyRefused as exc:
        sign_in.refused(
            ctx, type_="staff.passkey_refused", staff_id=staff.id, reason=exc.reason, by=by
        )
        raise


def add_verified(
    ctx: ServiceContext, uow: UnitOfWork, staff: Staff, *, response: str, name: str, by: Actor
) -> Passkey:
    """Verify the attestation (this origin and relying party, user verified) and keep the
    key, in the caller's transaction. Its challenge must have been taken already."""
    webauthn = _webauthn(ctx)
    name = " ".join(name.split())[:PASSKEY_NAME_MAX] or "Passkey"
    try:
        challenge = webauthn.challenge_of(response)
        new = webauthn.verify_registration(response, challenge=challenge)
    except (AuthenticationFailed, InvalidInput):
        raise PasskeyRefused("attestation") from None
    if uow.identity.passkey_by_credential(new.credential_id) is not None:
        raise PasskeyRefused("credential_taken")
    if len(uow.identity.passkeys_of(staff.id)) >= MAX_PASSKEYS:
        raise PasskeyRefused("too_many")
    passkey = Passkey(
        id=str(uuid.uuid4()),
        staff_id=staff.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        name=name,
        created_at=ctx.clock(),
        last_used_at=None,
    )
    uow.identity.add_passkey(passkey)
    uow.audit.record(_event("staff.passkey_added", staff.id, by, passkey))
    return passkey


def remove(ctx: ServiceContext, *, staff: Staff, passkey_id: str, by: Actor) -> None:
    with ctx.uow() as uow:
        mine = {p.id: p for p in uow.identity.passkeys_of(staff.id)}
        if passkey_id not in mine or not uow.identity.remove_passkey(staff.id, passkey_id):
            raise NotFound("no such passkey of yours")
        uow.audit.record(_event("staff.passkey_removed", staff.id, by, mine[passkey_id]))


def _event(type_: str, staff_id: str, by: Actor, passkey: Passkey) -> AuditEvent:
    return AuditEvent(
        type=type_,
        actor=by.id or staff_id,
        ip=by.ip,
        user_agent=by.user_agent,
        data={"staff": staff_id, "passkey": passkey.id, "name": passkey.name},
    )


# --- sign-in -----------------------------------------------------------------------------


def sign_in_options(ctx: ServiceContext) -> str:
    """Request options for "Sign in with a passkey": discoverable credentials, so the browser
    offers the person's passkeys for this site without the broker naming anyone."""
    webauthn = _webauthn(ctx)
    with ctx.uow() as uow:
        challenge = _challenge(ctx, uow, ChallengePurpose.SIGN_IN, None)
    return webauthn.authentication_options(challenge=challenge, allow=[], user_verification=True)


def sign_in_with(ctx: ServiceContext, *, response: str, by: Actor) -> SignedIn:
    """Open a staff session for the owner of the passkey that signed this challenge. A passkey
    with user verification is a sign-in of its own (both factors), as SSO is; a refusal is
    audited as ``staff.login_failed``."""
    staff_id: str | None = None
    try:
        with ctx.uow() as uow:
            _take(ctx, uow, response, ChallengePurpose.SIGN_IN, None)
        with ctx.uow() as uow:
            passkey = _owned(ctx, uow, response, None)
            staff_id = passkey.staff_id
            member = uow.staff.by_id(passkey.staff_id)
            if member is None or not member.active:
                raise PasskeyRefused("disabled")
            _verify(ctx, uow, response, passkey)
            token, session = sign_in.open_staff_session(ctx, uow, member, method="passkey", by=by)
    except PasskeyRefused as exc:
        sign_in.refused(
            ctx, type_="staff.login_failed", staff_id=staff_id, reason=exc.reason, by=by
        )
        raise
    return SignedIn(token=token, session=session, staff=member)


# --- step-up -----------------------------------------------------------------------------


def step_up_options(ctx: ServiceContext, staff: Staff) -> str:
    """Request options for a step-up of ``staff``: only their passkeys, user verification
    required."""
    webauthn = _webauthn(ctx)
    with ctx.uow() as uow:
        allow = [p.credential_id for p in uow.identity.passkeys_of(staff.id)]
        if not allow:
            raise InvalidInput("you have no passkey; register one on your page first")
        challenge = _challenge(ctx, uow, ChallengePurpose.STEP_UP, staff.id)
    return webauthn.authentication_options(challenge=challenge, allow=allow, user_verification=True)


def check_step_up(ctx: ServiceContext, uow: UnitOfWork, staff: Staff, response: str) -> None:
    """The passkey half of ``throttle.verify_step_up``, in the caller's transaction: the
    assertion answers a step-up challenge issued to ``staff``, is signed by one of their
    passkeys for this origin, with user verification. Raises :class:`PasskeyRefused`."""
    _take(ctx, uow, response, ChallengePurpose.STEP_UP, staff.id)
    passkey = _owned(ctx, uow, response, staff.id)
    _verify(ctx, uow, response, passkey)


def _owned(ctx: ServiceContext, uow: UnitOfWork, response: str, staff_id: str | None) -> Passkey:
    try:
        credential_id = _webauthn(ctx).credential_id_of(response)
    except InvalidInput:
        raise PasskeyRefused("malformed") from None
    passkey = uow.identity.passkey_by_credential(credential_id)
    if passkey is None:
        raise PasskeyRefused("unknown_credential")
    if staff_id is not None and passkey.staff_id != staff_id:
        raise PasskeyRefused("other_staff_credential")
    return passkey


def _verify(ctx: ServiceContext, uow: UnitOfWork, response: str, passkey: Passkey) -> None:
    webauthn = _webauthn(ctx)
    try:
        challenge = webauthn.challenge_of(response)
        count = webauthn.verify_authentication(
            response,
            challenge=challenge,
            public_key=passkey.public_key,
            sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (AuthenticationFailed, InvalidInput):
        raise PasskeyRefused("assertion") from None
    if not uow.identity.use_passkey(
        passkey.id, old_count=passkey.sign_count, new_count=count, at=ctx.clock()
    ):
        raise PasskeyRefused("counter_raced")
