"""What the customer does from an email, with nothing but the one-time token it carried: end a
session (the kill switch) and answer "did the fix work?" (the close-out email).

Reading a token's page changes nothing (a mail scanner's prefetch must end nothing); acting
uses the token up in one conditional UPDATE, inside the transaction that ends the session or
records the answer and writes its audit event. The token is the capability: the customer has
no account with the broker.
"""

from __future__ import annotations

from dataclasses import dataclass

from actas.domain.access import AccessSession, Case, EndReason
from actas.domain.audit import Actor
from actas.domain.customer import (
    ActionExpired,
    ActionKind,
    ActionUnknown,
    ActionUsed,
    CustomerAction,
    FixAnswer,
    answer_of,
    check_action_token,
)
from actas.domain.errors import ActasError
from actas.domain.ports import UnitOfWork
from actas.domain.tokens import token_hash
from actas.services import sessions, trail
from actas.services.context import ServiceContext


@dataclass(frozen=True)
class Pending:
    """What the confirmation page shows before anything is done."""

    action: CustomerAction
    application_name: str
    #: The session the kill switch ends (None for an answer link).
    session: AccessSession | None
    #: Whether the session is still live (False: it already ended by itself).
    live: bool


def _refusal(action: CustomerAction | None) -> ActasError:
    if action is None:
        return ActionUnknown("this link is unknown")
    if action.used_at is not None:
        return ActionUsed("this link was already used")
    return ActionExpired("this link has expired")


def _load(uow: UnitOfWork, token: str, kind: ActionKind) -> CustomerAction | None:
    found = uow.customer_actions.by_token_hash(token_hash(check_action_token(token, kind)))
    return found if found is not None and found.kind is kind else None


def look(ctx: ServiceContext, token: str, kind: ActionKind) -> Pending:
    """The confirmation page's content. Writes nothing.

    :raises MalformedActionToken: not a token of ``kind``.
    :raises ActionError: unknown, used or expired.
    """
    with ctx.read() as uow:
        action = _load(uow, token, kind)
        now = ctx.clock()
        if action is None or action.used_at is not None or action.expires_at <= now:
            raise _refusal(action)
        app = uow.applications.by_id(action.application_id)
        session = uow.sessions.get(action.session_id) if action.session_id else None
    return Pending(
        action=action,
        application_name=app.name if app else action.application_id,
        session=session,
        live=session is not None and session.live_at(now),
    )


def end_session(ctx: ServiceContext, *, token: str, by: Actor) -> AccessSession:
    """The kill switch: use the token up and end its session at once, audited as ended by the
    customer and revoked on every SDK through the feed. A session that already ended stays
    as it ended; the token is used up either way."""
    hashed = token_hash(check_action_token(token, ActionKind.END_SESSION))
    with ctx.uow() as uow:
        now = ctx.clock()
        action = uow.customer_actions.use(token_hash=hashed, kind=ActionKind.END_SESSION, at=now)
        if action is None or action.session_id is None:
            raise _refusal(uow.customer_actions.by_token_hash(hashed))
        session = trail.load_session(uow, action.session_id)
        customer = Actor(id=f"customer:{action.subject_id}", ip=by.ip, user_agent=by.user_agent)
        # A session past its expiry is ended for that reason, not credited to the customer.
        ended = sessions.end(
            ctx,
            uow,
            session,
            session.lapse_reason(now) or EndReason.ENDED_BY_CUSTOMER,
            customer,
            note="ended by the customer from the session-started email",
        )
        uow.audit.record(
            trail.event(
                "customer.kill_switch",
                customer,
                session=session,
                data={"action": action.id, "ended": ended},
            )
        )
        result = uow.sessions.get(session.id)
    assert result is not None
    return result


def answer(ctx: ServiceContext, *, token: str, answer: str, by: Actor) -> Case:
    """Record the customer's yes or no on the case, once."""
    said = answer_of(answer)
    hashed = token_hash(check_action_token(token, ActionKind.CONFIRM_FIX))
    with ctx.uow() as uow:
        now = ctx.clock()
        action = uow.customer_actions.use(
            token_hash=hashed, kind=ActionKind.CONFIRM_FIX, at=now, answer=said.value
        )
        if action is None:
            raise _refusal(uow.customer_actions.by_token_hash(hashed))
        case = trail.load_case(uow, action.case_id)
        customer = Actor(id=f"customer:{action.subject_id}", ip=by.ip, user_agent=by.user_agent)
        uow.audit.record(
            trail.event(
                "case.customer_confirmed",
                customer,
                case=case,
                data={"action": action.id, "fixed": said is FixAnswer.YES},
            )
        )
    return case
