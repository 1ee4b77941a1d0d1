"""The sweeper: ends sessions past their hard expiry or idle limit and expires unanswered
requests, so that every end is logged and revoked even if nobody asks for the session again;
and alerts again on break-glass uses still unreviewed.

It reads only what is due, through indexes on the expiry and the idle deadline (loading every
open session every 5 s cost 0.6-0.9 s of CPU per process at 30,000 open sessions), and only
one process sweeps at a time: the others find the claim taken and return at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from actas.domain.lifecycle import OPEN_STATES
from actas.services import break_glass, requests, sessions
from actas.services.context import ServiceContext
from actas.services.trail import SYSTEM

#: Rows read per pass; a sweep makes passes while they come back full and it makes progress.
BATCH = 500
MAX_PASSES = 20


@dataclass(frozen=True)
class Swept:
    sessions_ended: int
    requests_expired: int
    alerts_raised: int = 0
    #: False when another process held the sweep claim, so this one did nothing.
    claimed: bool = True


def sweep(ctx: ServiceContext) -> Swept:
    ended = expired = 0
    with ctx.read() as claim:
        # The claim lasts as long as this transaction: the work below runs inside it.
        if not claim.sessions.claim_sweep():
            return Swept(0, 0, claimed=False)
        for _ in range(MAX_PASSES):
            now = ctx.clock()
            with ctx.read() as uow:
                lapsed = uow.sessions.lapsed(now, limit=BATCH)
            done = 0
            for session in lapsed:
                with ctx.uow() as uow:
                    reason = session.lapse_reason(ctx.clock())
                    if reason is not None and sessions.end(ctx, uow, session, reason, SYSTEM):
                        done += 1
            ended += done
            if len(lapsed) < BATCH or done == 0:
                break
        for _ in range(MAX_PASSES):
            with ctx.read() as uow:
                due = uow.requests.due(OPEN_STATES, ctx.clock(), limit=BATCH)
            done = 0
            for request in due:
                with ctx.uow() as uow:
                    current = uow.requests.get(request.id)
                    if current is not None and requests.expire_if_due(ctx, uow, current):
                        done += 1
            expired += done
            if len(due) < BATCH or done == 0:
                break
        raised = break_glass.alert_overdue(ctx)
    return Swept(sessions_ended=ended, requests_expired=expired, alerts_raised=raised)
