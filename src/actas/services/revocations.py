"""The revocation feed's reads: the backlog a stream or a replica catches up from, and the
highest ``seq`` known (an event id above it is not this broker's)."""

from __future__ import annotations

from actas.domain.access import Revocation
from actas.domain.ports import RevocationSubscription
from actas.services.context import ServiceContext


def backlog(
    ctx: ServiceContext, *, after_seq: int = 0, application_id: str | None = None
) -> list[Revocation]:
    """Committed revocations after ``after_seq`` whose sessions would still be alive, oldest
    first; only ``application_id``'s when given."""
    with ctx.read() as uow:
        return uow.revocations.current(
            now=ctx.clock(), after_seq=after_seq, application_id=application_id
        )


def latest_seq(ctx: ServiceContext) -> int:
    with ctx.read() as uow:
        return uow.revocations.latest_seq()


def subscribe(ctx: ServiceContext, application_id: str) -> RevocationSubscription:
    """Revocations of ``application_id`` as they commit on any replica, from now on. Subscribe
    before reading the backlog, so nothing committed in between is missed."""
    return ctx.feed.subscribe(application_id)
