"""The sweeper: ends sessions past their hard expiry or idle limit and expires unanswered
requests, so that every end is logged and revoked even if nobody asks for the session again;
and alerts again on break-glass uses still unreviewed."""

from __future__ import annotations

from dataclasses import dataclass

from actas.domain.lifecycle import OPEN_STATES
from actas.services import break_glass, requests, sessions
from actas.services.context import ServiceContext
from actas.services.trail import SYSTEM


@dataclass(frozen=True)
class Swept:
    sessions_ended: int
    requests_expired: int
    alerts_raised: int = 0


def sweep(ctx: ServiceContext) -> Swept:
    ended = expired = 0
    now = ctx.clock()
    with ctx.read() as uow:
        lapsed = [s for s in uow.sessions.open_sessions() if s.lapse_reason(now)]
        due = [r for r in uow.requests.in_states(OPEN_STATES) if r.expires_at <= now]
    for session in lapsed:
        with ctx.uow() as uow:
            reason = session.lapse_reason(ctx.clock())
            if reason is not None and sessions.end(ctx, uow, session, reason, SYSTEM):
                ended += 1
    for request in due:
        with ctx.uow() as uow:
            current = uow.requests.get(request.id)
            if current is not None and requests.expire_if_due(ctx, uow, current):
                expired += 1
    return Swept(
        sessions_ended=ended,
        requests_expired=expired,
        alerts_raised=break_glass.alert_overdue(ctx),
    )
