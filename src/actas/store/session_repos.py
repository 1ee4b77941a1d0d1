"""Repositories for sessions, handoff codes, revocations (and their fan-out), ingested app
events and the outbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Row

from actas.domain.access import (
    AccessSession,
    EndReason,
    Revocation,
)
from actas.domain.ports import RevocationPublisher
from actas.store.rows import enum_value, from_row, joined, split, to_row
from actas.store.tables import (
    access_sessions,
    handoff_codes,
    ingested_events,
    outbox,
    revocations,
)

#: PostgreSQL channel on which every replica hears of revocations.
REVOCATION_CHANNEL = "actas_revocations"
#: PostgreSQL advisory lock key held by the one process sweeping (``"actas:sweep"``).
SWEEP_LOCK = 0x6163746173_7377


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _session(row: Row[Any]) -> AccessSession:
    return from_row(AccessSession, row, scopes=split, end_reason=EndReason)


class SqlAccessSessionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, session: AccessSession) -> None:
        values = to_row(session, scopes=joined, end_reason=enum_value)
        if session.ended_at is None:
            values["idle_due"] = _epoch(session.last_active_at) + session.idle_seconds
        self.conn.execute(insert(access_sessions).values(**values))

    def get(self, session_id: str) -> AccessSession | None:
        row = self.conn.execute(
            select(access_sessions).where(access_sessions.c.id == session_id)
        ).first()
        return _session(row) if row else None

    def _where(self, *clauses: Any) -> list[AccessSession]:
        rows = self.conn.execute(
            select(access_sessions).where(*clauses).order_by(access_sessions.c.started_at)
        )
        return [_session(r) for r in rows]

    def open_sessions(self) -> list[AccessSession]:
        return self._where(access_sessions.c.ended_at.is_(None))

    def for_case(self, case_id: str) -> list[AccessSession]:
        return self._where(access_sessions.c.case_id == case_id)

    def for_staff(self, staff_id: str) -> list[AccessSession]:
        return self._where(access_sessions.c.staff_id == staff_id)

    def for_account(self, application_id: str, account_id: str) -> list[AccessSession]:
        t = access_sessions
        return self._where(t.c.application_id == application_id, t.c.account_id == account_id)

    def end(
        self, session_id: str, *, at: datetime, reason: EndReason, note: str | None = None
    ) -> bool:
        result = self.conn.execute(
            update(access_sessions)
            .where(access_sessions.c.id == session_id, access_sessions.c.ended_at.is_(None))
            .values(
                ended_at=at,
                end_reason=reason.value,
                end_note=note,
                refresh_hash=None,
                idle_due=None,
            )
        )
        return result.rowcount == 1

    def set_refresh(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        t = access_sessions
        result = self.conn.execute(
            update(t)
            .where(t.c.id == session_id, t.c.ended_at.is_(None), t.c.refresh_hash.is_(None))
            .values(
                refresh_hash=refresh_hash,
                last_active_at=at,
                idle_due=_epoch(at) + t.c.idle_seconds,
            )
        )
        return result.rowcount == 1

    def clear_refresh(self, session_id: str) -> bool:
        t = access_sessions
        result = self.conn.execute(
            update(t).where(t.c.id == session_id, t.c.ended_at.is_(None)).values(refresh_hash=None)
        )
        return result.rowcount == 1

    def touch(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        t = access_sessions
        result = self.conn.execute(
            update(t)
            .where(t.c.id == session_id, t.c.ended_at.is_(None), t.c.refresh_hash == refresh_hash)
            .values(last_active_at=at, idle_due=_epoch(at) + t.c.idle_seconds)
        )
        return result.rowcount == 1

    def extend(self, session_id: str, *, expires_at: datetime) -> bool:
        result = self.conn.execute(
            update(access_sessions)
            .where(access_sessions.c.id == session_id, access_sessions.c.ended_at.is_(None))
            .values(expires_at=expires_at)
        )
        return result.rowcount == 1

    def lapsed(self, now: datetime, *, limit: int) -> list[AccessSession]:
        # Two range scans on the partial indexes (expiry, idle deadline), not every open row.
        t = access_sessions
        rows = self.conn.execute(
            select(t)
            .where(
                t.c.ended_at.is_(None),
                or_(t.c.expires_at <= now, t.c.idle_due <= _epoch(now)),
            )
            .limit(limit)
        )
        return [_session(r) for r in rows]

    def claim_sweep(self) -> bool:
        # A transaction-scoped advisory lock: released at commit or rollback, or when the
        # process dies with its connection, so a crashed sweeper never blocks the others.
        # SQLite serves one host, and its writes are serialised anyway.
        if self.conn.dialect.name != "postgresql":
            return True
        claimed = self.conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK}
        ).scalar()
        return bool(claimed)


class SqlHandoffRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        code_hash: str,
        session_id: str,
        application_id: str,
        handoff_url: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.conn.execute(
            insert(handoff_codes).values(
                code_hash=code_hash,
                session_id=session_id,
                application_id=application_id,
                handoff_url=handoff_url,
                issued_at=issued_at,
                expires_at=expires_at,
            )
        )

    def redeem(
        self, *, code_hash: str, application_id: str, handoff_url: str, at: datetime
    ) -> str | None:
        """One conditional UPDATE ... RETURNING: of any number of concurrent redemptions of one
        code, exactly one gets a row back (PostgreSQL re-checks the WHERE after the row lock;
        SQLite runs one writer at a time)."""
        t = handoff_codes
        row = self.conn.execute(
            update(t)
            .where(
                t.c.code_hash == code_hash,
                t.c.used_at.is_(None),
                t.c.expires_at > at,
                t.c.application_id == application_id,
                t.c.handoff_url == handoff_url,
            )
            .values(used_at=at)
            .returning(t.c.session_id)
        ).first()
        return str(row.session_id) if row else None


class SqlRevocationRepo:
    def __init__(
        self,
        conn: Connection,
        after_commit: list[Callable[[], None]],
        publisher: RevocationPublisher | None,
    ) -> None:
        self.conn = conn
        self.after_commit = after_commit
        self.publisher = publisher

    def add(
        self,
        *,
        session_id: str,
        application_id: str,
        reason: str,
        at: datetime,
        session_expires_at: datetime,
    ) -> None:
        seq = self.conn.execute(
            insert(revocations)
            .values(
                session_id=session_id,
                application_id=application_id,
                reason=reason,
                at=at,
                session_expires_at=session_expires_at,
            )
            .returning(revocations.c.seq)
        ).scalar_one()
        revocation = Revocation(
            seq=int(seq),
            session_id=session_id,
            application_id=application_id,
            reason=reason,
            at=at,
            session_expires_at=session_expires_at,
        )
        if self.conn.dialect.name == "postgresql":
            # NOTIFY is transactional: every replica hears it when, and only if, this commits.
            self.conn.execute(select(_pg_notify(REVOCATION_CHANNEL, revocation.payload())))
        publisher = self.publisher
        if publisher is not None:
            self.after_commit.append(lambda: publisher.publish(revocation))

    def current(
        self, *, now: datetime, after_seq: int = 0, application_id: str | None = None
    ) -> list[Revocation]:
        t = revocations
        query = select(t).where(t.c.seq > after_seq, t.c.session_expires_at > now)
        if application_id is not None:
            query = query.where(t.c.application_id == application_id)
        rows = self.conn.execute(query.order_by(t.c.seq))
        return [from_row(Revocation, r, seq=int) for r in rows]

    def latest_seq(self) -> int:
        value = self.conn.execute(select(func.max(revocations.c.seq))).scalar()
        return int(value) if value is not None else 0


def _pg_notify(channel: str, payload: str) -> Any:
    return func.pg_notify(channel, payload)


class SqlIngestRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(self, ids: list[str], *, session_id: str, at: datetime) -> set[str]:
        if not ids:
            return set()
        seen = {
            str(r.id)
            for r in self.conn.execute(
                select(ingested_events.c.id).where(ingested_events.c.id.in_(ids))
            )
        }
        fresh = [i for i in dict.fromkeys(ids) if i not in seen]
        if fresh:
            self.conn.execute(
                insert(ingested_events),
                [{"id": i, "session_id": session_id, "received_at": at} for i in fresh],
            )
        return set(fresh)


class SqlOutboxRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, *, channel: str, target: str, event_type: str, payload: dict[str, Any], at: datetime
    ) -> str:
        row_id = str(uuid.uuid4())
        self.conn.execute(
            insert(outbox).values(
                id=row_id,
                channel=channel,
                target=target,
                event_type=event_type,
                payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                created_at=at,
                attempts=0,
                next_attempt_at=at,
            )
        )
        return row_id
