"""The sign-in throttle's buckets (``actas.domain.throttle``) in the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Connection

from actas.domain.throttle import ThrottleState
from actas.store.tables import login_throttle as t


def _state(row: Any) -> ThrottleState:
    return ThrottleState(
        failures=int(row.failures),
        blocked_until=row.blocked_until,
        last_failure_at=row.last_failure_at,
    )


class SqlThrottleRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, key: str) -> ThrottleState | None:
        row = self.conn.execute(select(t).where(t.c.key == key)).first()
        return _state(row) if row is not None else None

    def locked(
        self, key: str, *, bucket: str, email_key: str | None, now: datetime
    ) -> ThrottleState:
        """Create the bucket empty if need be, then read it with its row locked: concurrent
        failures on several replicas are counted one after the other, none lost."""
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        empty = {"failures": 0, "blocked_until": None, "last_failure_at": now}
        self.conn.execute(
            insert(t)
            .values(key=key, bucket=bucket, email_key=email_key, **empty)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        row = self.conn.execute(select(t).where(t.c.key == key).with_for_update()).one()
        return _state(row)

    def save(self, key: str, state: ThrottleState) -> None:
        self.conn.execute(
            update(t)
            .where(t.c.key == key)
            .values(
                failures=state.failures,
                blocked_until=state.blocked_until,
                last_failure_at=state.last_failure_at,
            )
        )

    def purge(self, before: datetime) -> int:
        quiet_since = func.coalesce(t.c.blocked_until, t.c.last_failure_at)
        stale = (t.c.last_failure_at < before) & (quiet_since < before)
        return int(self.conn.execute(delete(t).where(stale)).rowcount)

    def clear(self, key: str) -> bool:
        return self.conn.execute(delete(t).where(t.c.key == key)).rowcount > 0

    def clear_email(self, email_key: str) -> int:
        return int(self.conn.execute(delete(t).where(t.c.email_key == email_key)).rowcount)

    def blocked_emails(self, now: datetime) -> dict[str, datetime]:
        rows = self.conn.execute(
            select(t.c.email_key, func.max(t.c.blocked_until))
            .where(t.c.email_key.is_not(None), t.c.blocked_until > now)
            .group_by(t.c.email_key)
        )
        return {str(key): until for key, until in rows}
