"""What waits for one staff member: requests they may answer, their approved requests not yet
started, their live sessions and their open cases. The console's home and nav show it."""

from __future__ import annotations

from dataclasses import dataclass

from actas.domain.access import AccessRequest, AccessSession, Case, RequestState
from actas.domain.policy import StaffView, can_approve
from actas.domain.staff import Staff
from actas.services.context import ServiceContext

_WAITING = frozenset({RequestState.PENDING_APPROVAL, RequestState.APPROVED})


@dataclass(frozen=True)
class Inbox:
    #: Others' requests this staff member may approve (oldest first).
    to_approve: list[AccessRequest]
    #: Their own approved requests, waiting for them to step up and start.
    to_start: list[AccessRequest]
    #: Their own requests still waiting for someone else.
    waiting_on_others: list[AccessRequest]
    #: Their live sessions (soonest end first).
    live: list[AccessSession]
    #: Cases they opened that are still open (newest first).
    cases: list[Case]

    @property
    def count(self) -> int:
        """What needs this staff member's action now (reading the list is not an action)."""
        return len(self.to_approve) + len(self.to_start) + len(self.live)


def inbox(ctx: ServiceContext, staff: Staff) -> Inbox:
    now = ctx.clock()
    me = StaffView(id=staff.id, roles=staff.roles)
    with ctx.read() as uow:
        waiting = sorted(
            (r for r in uow.requests.in_states(_WAITING) if r.expires_at > now),
            key=lambda r: r.created_at,
        )
        live = [s for s in uow.sessions.for_staff(staff.id) if s.live_at(now)]
        cases = uow.cases.open_for_staff(staff.id)
    pending = [r for r in waiting if r.state is RequestState.PENDING_APPROVAL]
    return Inbox(
        to_approve=[
            r
            for r in pending
            if can_approve(
                policy=ctx.policy,
                approver=me,
                requester_id=r.staff_id,
                decision_high_risk=r.high_risk,
            )[0]
        ],
        to_start=[
            r for r in waiting if r.state is RequestState.APPROVED and r.staff_id == staff.id
        ],
        waiting_on_others=[r for r in pending if r.staff_id == staff.id],
        live=sorted(live, key=lambda s: s.expires_at),
        cases=cases,
    )
