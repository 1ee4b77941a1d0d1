"""What every change leaves behind: its audit event, stamped from the case, request or
session it is about, and its announcement (Slack, webhooks) through the outbox. Also the
lookups that turn an unknown id into a clear 404."""

from __future__ import annotations

from typing import Any

from actas.domain.access import AccessRequest, AccessSession, Case
from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import NotFound
from actas.domain.ports import UnitOfWork
from actas.services.announce import announce
from actas.services.context import ServiceContext

#: Who the log names for what the broker does by itself (expiry, idle timeout, sweeps).
SYSTEM = Actor(id="system")


def event(
    type_: str,
    by: Actor,
    *,
    case: Case | None = None,
    request: AccessRequest | None = None,
    session: AccessSession | None = None,
    data: dict[str, Any] | None = None,
    reason: str | None = None,
) -> AuditEvent:
    """An audit event stamped with whatever the case, request or session says."""
    owner: Case | AccessRequest | AccessSession | None = session or request or case
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=owner.subject_id if owner else None,
        account=owner.account_id if owner else None,
        case=case.id if case else getattr(owner, "case_id", None),
        session=session.id if session else None,
        reason=reason if reason is not None else (case.reason_text if case else None),
        ticket=case.ticket if case else None,
        ip=by.ip,
        user_agent=by.user_agent,
        data={
            **({"request": request.id} if request else {}),
            **({"application": owner.application_id} if owner else {}),
            **(data or {}),
        },
    )


def load_case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id[:40]}")
    return case


def load_request(uow: UnitOfWork, request_id: str) -> AccessRequest:
    request = uow.requests.get(request_id)
    if request is None:
        raise NotFound(f"no access request {request_id[:40]}")
    return request


def load_session(uow: UnitOfWork, session_id: str) -> AccessSession:
    session = uow.sessions.get(session_id)
    if session is None:
        raise NotFound(f"no session {session_id[:40]}")
    return session


def _announcement(
    ctx: ServiceContext, about: AccessRequest | AccessSession, **fields: Any
) -> dict[str, Any]:
    """What Slack and webhooks are told: who, for whom, where, and a link into the console."""
    kind = "session" if isinstance(about, AccessSession) else "request"
    payload: dict[str, Any] = {
        kind: about.id,
        "case": about.case_id,
        "staff": about.staff_id,
        "application": about.application_id,
        "subject": about.subject_id,
        "account": about.account_id,
        "kind": about.kind,
        "console_url": f"{ctx.public_url}/console/{kind}s/{about.id}",
    }
    payload.update({k: v for k, v in fields.items() if v is not None})
    return payload


def announce_change(
    ctx: ServiceContext,
    uow: UnitOfWork,
    event: str,
    about: AccessRequest | AccessSession,
    **fields: Any,
) -> None:
    announce(uow, ctx.channels, event, _announcement(ctx, about, **fields), at=ctx.clock())
