"""Sessions, the application side: the one-time handoff code exchanged for an actor token
and a refresh handle, refreshes until the hard expiry, and the banner's End."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from actas.domain.access import AccessSession, EndReason, MintedToken
from actas.domain.audit import Actor
from actas.domain.errors import InvalidGrant
from actas.domain.lifecycle import SessionEvent, SessionState, session_allows, session_state
from actas.domain.ports import UnitOfWork
from actas.domain.subjects import Application
from actas.domain.tokens import REFRESH_PREFIX, new_token, token_hash
from actas.services import sessions, trail
from actas.services.context import ServiceContext
from actas.services.trail import SYSTEM

#: The longest handoff code and handoff URL worth looking up.
MAX_CODE = 200
MAX_URL = 2000


@dataclass(frozen=True)
class Redeemed:
    token: MintedToken
    session: AccessSession
    #: Returned at handoff only; the SDK keeps it to refresh the token.
    refresh_handle: str | None
    #: The staff member's display name, for the banner. Never in the token (DESIGN.md).
    actor_name: str | None = None
    #: The customer's display name, for the banner (the token carries only the id).
    subject_name: str | None = None


def _mint(ctx: ServiceContext, session: AccessSession, now: datetime) -> MintedToken:
    return ctx.minter.mint(
        audience=session.application_id,
        subject=session.subject_id,
        actor=session.staff_id,
        session_id=session.id,
        scopes=session.scopes,
        account=session.account_id,
        kind=session.kind,
        now=now,
        not_after=session.expires_at,
    )


def redeem_handoff(
    ctx: ServiceContext, *, app: Application, code: str, handoff_url: str, by: Actor
) -> Redeemed:
    """Exchange a one-time handoff code for an actor token and a refresh handle."""
    if len(code) > MAX_CODE or len(handoff_url) > MAX_URL:
        raise InvalidGrant("the handoff code is not valid")
    failure: Exception | None = None
    redeemed: Redeemed | None = None
    with ctx.uow() as uow:
        now = ctx.clock()
        session_id = uow.handoffs.redeem(
            code_hash=token_hash(code), application_id=app.id, handoff_url=handoff_url, at=now
        )
        session = uow.sessions.get(session_id) if session_id else None
        if session is None:
            failure = InvalidGrant("the handoff code is unknown, used, expired or not yours")
        elif not session_allows(session, SessionEvent.HANDOFF, now):
            failure = InvalidGrant("the session has ended")
        else:
            handle = new_token(REFRESH_PREFIX)
            if not uow.sessions.set_refresh(session.id, refresh_hash=token_hash(handle), at=now):
                raise InvalidGrant("the session was already handed off")
            token = _mint(ctx, session, now)
            uow.audit.record(
                trail.event(
                    "session.handoff_redeemed",
                    by,
                    session=session,
                    data={"jti": token.jti, "token_expires_at": token.expires_at.isoformat()},
                )
            )
            staff = uow.staff.by_id(session.staff_id)
            redeemed = Redeemed(
                token=token,
                session=session,
                refresh_handle=handle,
                actor_name=staff.display_name if staff else None,
                subject_name=_subject_name(uow, session),
            )
    if failure is not None:
        raise failure
    assert redeemed is not None
    return redeemed


def refresh_session(
    ctx: ServiceContext, *, app: Application, session_id: str, refresh_handle: str, by: Actor
) -> Redeemed:
    """A new actor token while the session is live and not idle; a lapsed session is ended."""
    failure: Exception | None = None
    redeemed: Redeemed | None = None
    with ctx.uow() as uow:
        now = ctx.clock()
        session = uow.sessions.get(session_id)
        if session is None or session.application_id != app.id:
            raise InvalidGrant("the session or refresh handle is not valid")
        lapse = session.lapse_reason(now)
        if lapse is not None:
            sessions.end(ctx, uow, session, lapse, SYSTEM)
            failure = InvalidGrant(f"the session has ended ({lapse.value})")
        elif session_state(session, now) is SessionState.ENDED:
            failure = InvalidGrant(f"the session has ended ({session.end_reason})")
        elif not uow.sessions.touch(session.id, refresh_hash=token_hash(refresh_handle), at=now):
            failure = InvalidGrant("the session or refresh handle is not valid")
        else:
            token = _mint(ctx, session, now)
            uow.audit.record(
                trail.event("session.refreshed", by, session=session, data={"jti": token.jti})
            )
            redeemed = Redeemed(
                token=token,
                session=session,
                refresh_handle=None,
                subject_name=_subject_name(uow, session),
            )
    if failure is not None:
        raise failure
    assert redeemed is not None
    return redeemed


def end_by_app(
    ctx: ServiceContext, *, app: Application, session_id: str, refresh_handle: str, by: Actor
) -> AccessSession:
    """The banner's End button: the host app proves it holds the session's refresh handle."""
    with ctx.uow() as uow:
        session = uow.sessions.get(session_id)
        if session is None or session.application_id != app.id:
            raise InvalidGrant("the session or refresh handle is not valid")
        if not uow.sessions.touch(
            session.id, refresh_hash=token_hash(refresh_handle), at=ctx.clock()
        ):
            raise InvalidGrant("the session or refresh handle is not valid")
        sessions.end(
            ctx,
            uow,
            session,
            EndReason.ENDED_BY_STAFF,
            Actor(session.staff_id, by.ip, by.user_agent),
        )
        ended = uow.sessions.get(session.id)
    assert ended is not None
    return ended


def _subject_name(uow: UnitOfWork, session: AccessSession) -> str | None:
    subject = uow.subjects.get(session.application_id, session.subject_id)
    return subject.display_name if subject is not None and subject.display_name else None
