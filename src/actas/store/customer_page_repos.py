"""The customer page's sign-ins. A code is redeemed with one conditional ``UPDATE`` (PostgreSQL
re-checks the WHERE clause after taking the row lock; SQLite runs one writer at a time), so of
any number of concurrent redemptions of one code exactly one gets a cookie."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row

from actas.domain.customer_page import CustomerPageSession
from actas.store.customer_page_tables import customer_page_sessions as t
from actas.store.rows import from_row, to_row

_COLUMNS = [c for c in t.c if c.name not in {"code_hash", "cookie_hash"}]


def _visit(row: Row[Any]) -> CustomerPageSession:
    return from_row(CustomerPageSession, row)


class SqlCustomerPageRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, visit: CustomerPageSession, *, code_hash: str) -> None:
        self.conn.execute(insert(t).values(**to_row(visit), code_hash=code_hash))

    def redeem(
        self, *, code_hash: str, cookie_hash: str, at: datetime, expires_at: datetime
    ) -> CustomerPageSession | None:
        row = self.conn.execute(
            update(t)
            .where(t.c.code_hash == code_hash, t.c.redeemed_at.is_(None), t.c.code_expires_at > at)
            .values(redeemed_at=at, expires_at=expires_at, cookie_hash=cookie_hash)
            .returning(*_COLUMNS)
        ).first()
        return _visit(row) if row is not None else None

    def by_cookie_hash(self, cookie_hash: str) -> CustomerPageSession | None:
        row = self.conn.execute(select(*_COLUMNS).where(t.c.cookie_hash == cookie_hash)).first()
        return _visit(row) if row is not None else None

    def end(self, visit_id: str, *, at: datetime) -> bool:
        result = self.conn.execute(
            update(t).where(t.c.id == visit_id, t.c.ended_at.is_(None)).values(ended_at=at)
        )
        return result.rowcount == 1
