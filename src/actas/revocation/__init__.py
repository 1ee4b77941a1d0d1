"""The revocation feed: how every SDK hears, within a second, that a session has ended.

- :mod:`actas.revocation.bus`: this process's fan-out, from committed revocations to SSE clients;
- :mod:`actas.revocation.pg_listener`: on PostgreSQL, the LISTEN thread through which every
  replica hears every other replica's revocations (imported only on PostgreSQL);
- the two reads below, shared by the SSE endpoint and the listener's catch-up.
"""

from __future__ import annotations

from sqlalchemy import func, select

from actas.domain.access import Revocation
from actas.domain.clock import Clock
from actas.revocation.bus import RevocationBus, Subscription
from actas.store.tables import revocations
from actas.store.uow import Store

__all__ = ["RevocationBus", "Subscription", "backlog", "latest_seq"]


def backlog(
    store: Store, clock: Clock, *, after_seq: int = 0, application_id: str | None = None
) -> list[Revocation]:
    """Committed revocations after ``after_seq`` whose sessions would still be alive, oldest
    first; only ``application_id``'s when given."""
    with store.read() as uow:
        return uow.revocations.current(
            now=clock(), after_seq=after_seq, application_id=application_id
        )


def latest_seq(store: Store) -> int:
    """The highest ``seq`` ever committed (0 for none): an event id above it is not ours."""
    with store.read() as uow:
        value = uow.conn.execute(select(func.max(revocations.c.seq))).scalar()
    return int(value) if value is not None else 0
