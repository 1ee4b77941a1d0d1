"""Repositories for one-time links and verification codes.

Both are closed by the database, not by luck: a link is redeemed with one conditional
``UPDATE ... RETURNING`` and a code's attempts are counted with a compare-and-set, so of any
number of concurrent tries exactly the allowed ones succeed. PostgreSQL re-checks the WHERE
clause after taking the row lock; SQLite runs one writer at a time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from actas.domain.links import Link, LinkPurpose, Verification, VerificationStatus
from actas.store.rows import enum_value, from_row, to_row
from actas.store.tables import links, outbox, verifications


def _link(row: Row[Any]) -> Link:
    return from_row(Link, row, purpose=LinkPurpose)


class SqlLinkRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, link: Link, *, token_hash: str) -> None:
        values = to_row(link, purpose=enum_value)
        self.conn.execute(insert(links).values(**values, token_hash=token_hash))

    def supersede(
        self, *, application_id: str, subject_id: str, purpose: LinkPurpose, at: datetime
    ) -> int:
        t = links
        result = self.conn.execute(
            update(t)
            .where(
                t.c.application_id == application_id,
                t.c.subject_id == subject_id,
                t.c.purpose == purpose.value,
                t.c.used_at.is_(None),
                t.c.superseded_at.is_(None),
                t.c.expires_at > at,
            )
            .values(superseded_at=at)
        )
        return int(result.rowcount)

    def redeem(
        self, *, token_hash: str, application_id: str, purpose: LinkPurpose, at: datetime
    ) -> Link | None:
        t = links
        row = self.conn.execute(
            update(t)
            .where(
                t.c.token_hash == token_hash,
                t.c.application_id == application_id,
                t.c.purpose == purpose.value,
                t.c.used_at.is_(None),
                t.c.superseded_at.is_(None),
                t.c.expires_at > at,
            )
            .values(used_at=at)
            .returning(*[c for c in t.c if c.name != "token_hash"])
        ).first()
        return _link(row) if row is not None else None

    def by_token_hash(self, token_hash: str) -> Link | None:
        row = self.conn.execute(select(links).where(links.c.token_hash == token_hash)).first()
        return _link(row) if row is not None else None


_VERIFICATION_COLUMNS = [c for c in verifications.c if c.name != "code_hash"]


class SqlVerificationRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _select(self) -> Any:
        # The delivery state comes from the outbox row that carries the code.
        return select(
            *_VERIFICATION_COLUMNS,
            outbox.c.delivered_at.label("sent_at"),
            outbox.c.dead_at.label("send_failed_at"),
        ).outerjoin(outbox, outbox.c.id == verifications.c.outbox_id)

    def add(self, verification: Verification, *, code_hash: str) -> None:
        values = to_row(verification, status=enum_value, skip=("sent_at", "send_failed_at"))
        self.conn.execute(insert(verifications).values(**values, code_hash=code_hash))

    def get(self, verification_id: str) -> Verification | None:
        row = self.conn.execute(self._select().where(verifications.c.id == verification_id)).first()
        return from_row(Verification, row, status=VerificationStatus) if row else None

    def for_case(self, case_id: str) -> list[Verification]:
        rows = self.conn.execute(
            self._select()
            .where(verifications.c.case_id == case_id)
            .order_by(verifications.c.issued_at, verifications.c.id)
        )
        return [from_row(Verification, r, status=VerificationStatus) for r in rows]

    def sent_since(self, case_id: str, since: datetime) -> int:
        t = verifications
        count = self.conn.execute(
            select(func.count()).where(t.c.case_id == case_id, t.c.issued_at > since)
        ).scalar_one()
        return int(count)

    def supersede_pending(self, case_id: str, *, at: datetime) -> int:
        t = verifications
        result = self.conn.execute(
            update(t)
            .where(t.c.case_id == case_id, t.c.status == VerificationStatus.PENDING.value)
            .values(status=VerificationStatus.SUPERSEDED.value, decided_at=at)
        )
        return int(result.rowcount)

    def count_attempt(
        self, verification_id: str, *, at: datetime, limit: int
    ) -> tuple[int, str] | None:
        t = verifications
        row = self.conn.execute(
            update(t)
            .where(
                t.c.id == verification_id,
                t.c.status == VerificationStatus.PENDING.value,
                t.c.attempts < limit,
                t.c.expires_at > at,
            )
            .values(attempts=t.c.attempts + 1)
            .returning(t.c.attempts, t.c.code_hash)
        ).first()
        return (int(row.attempts), str(row.code_hash)) if row is not None else None

    def decide(
        self, verification_id: str, *, status: VerificationStatus, at: datetime, by: str
    ) -> bool:
        t = verifications
        result = self.conn.execute(
            update(t)
            .where(t.c.id == verification_id, t.c.status == VerificationStatus.PENDING.value)
            .values(status=status.value, decided_at=at, decided_by=by)
        )
        return result.rowcount == 1
