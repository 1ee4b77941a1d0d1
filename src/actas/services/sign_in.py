"""Opening a staff session once a sign-in method has proven who someone is (password + TOTP
in ``services.staff``; SSO in ``services.sso``; a passkey in ``services.passkeys``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from actas.domain.audit import Actor, AuditEvent
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff, StaffSession
from actas.domain.tokens import STAFF_SESSION_PREFIX, new_token, token_hash
from actas.services.context import ServiceContext


@dataclass(frozen=True)
class SignedIn:
    token: str
    session: StaffSession
    staff: Staff


def open_staff_session(
    ctx: ServiceContext, uow: UnitOfWork, staff: Staff, *, method: str, by: Actor
) -> tuple[str, StaffSession]:
    """A new session for ``staff`` and its ``staff.login`` event, in the caller's transaction.
    Returns the bearer token (shown once, stored as a hash) and the session."""
    now = ctx.clock()
    token = new_token(STAFF_SESSION_PREFIX)
    session = StaffSession(
        id=str(uuid.uuid4()),
        staff_id=staff.id,
        created_at=now,
        expires_at=now + ctx.session_ttl,
        last_seen_at=now,
        revoked_at=None,
    )
    uow.staff_sessions.add(session, token_hash=token_hash(token))
    uow.audit.record(
        AuditEvent(
            type="staff.login",
            actor=staff.id,
            ip=by.ip,
            user_agent=by.user_agent,
            data={"staff_session": session.id, "method": method},
        )
    )
    return token, session


def refused(
    ctx: ServiceContext, *, type_: str, staff_id: str | None, reason: str, by: Actor
) -> None:
    """Audit a refused sign-in in a transaction of its own (the sign-in changed nothing)."""
    with ctx.uow() as uow:
        uow.audit.record(
            AuditEvent(
                type=type_,
                actor=staff_id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"reason": reason[:60]},
            )
        )
