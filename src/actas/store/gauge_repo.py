"""Counts for the metrics gauges, read at scrape time: each is one indexed COUNT, so a scrape
every 15 s costs the database little."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from actas.domain.access import RequestState
from actas.store.tables import access_requests, access_sessions, outbox, revocations


class SqlGaugeRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def counts(self, now: datetime) -> dict[str, int]:
        s, r, o = access_sessions, access_requests, outbox

        def count(query: object) -> int:
            return int(self.conn.execute(query).scalar_one())  # type: ignore[call-overload]

        return {
            "sessions_active": count(
                select(func.count()).where(s.c.ended_at.is_(None), s.c.expires_at > now)
            ),
            "approvals_pending": count(
                select(func.count()).where(
                    r.c.state == RequestState.PENDING_APPROVAL.value, r.c.expires_at > now
                )
            ),
            "outbox_pending": count(
                select(func.count()).where(o.c.delivered_at.is_(None), o.c.dead_at.is_(None))
            ),
            "outbox_dead": count(select(func.count()).where(o.c.dead_at.is_not(None))),
            "revocation_seq": int(
                self.conn.execute(select(func.max(revocations.c.seq))).scalar() or 0
            ),
        }
