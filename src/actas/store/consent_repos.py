"""Repositories for consent grants, support access codes and the customer's own policy.

A code is used with one conditional ``UPDATE ... RETURNING`` (PostgreSQL re-checks the WHERE
clause after taking the row lock; SQLite runs one writer at a time), so of any number of
concurrent entries of one code exactly one succeeds. A grant is revoked the same way.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Row

from actas.domain.consent import AccessCode, CustomerPolicy, CustomerRule, Grant, GrantSource
from actas.domain.policy_rules import AccessKind
from actas.store.consent_tables import (
    access_code_failures,
    access_codes,
    consent_grants,
    customer_policies,
)
from actas.store.rows import enum_value, from_row, to_row


def _joined(values: frozenset[Any]) -> str:
    return " ".join(sorted(str(v) for v in values))


def _grant(row: Row[Any]) -> Grant:
    return from_row(
        Grant,
        row,
        source=GrantSource,
        kinds=lambda text: frozenset(AccessKind(k) for k in text.split()),
        scopes=lambda text: frozenset(text.split()),
    )


class SqlGrantRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, grant: Grant) -> None:
        values = to_row(grant, source=enum_value, kinds=_joined, scopes=_joined)
        self.conn.execute(insert(consent_grants).values(**values))

    def get(self, grant_id: str) -> Grant | None:
        t = consent_grants
        row = self.conn.execute(select(t).where(t.c.id == grant_id)).first()
        return _grant(row) if row is not None else None

    def for_account(self, application_id: str, account_id: str) -> list[Grant]:
        t = consent_grants
        rows = self.conn.execute(
            select(t)
            .where(t.c.application_id == application_id, t.c.account_id == account_id)
            .order_by(t.c.created_at.desc(), t.c.id)
        )
        return [_grant(r) for r in rows]

    def revoke(self, grant_id: str, *, at: datetime, by: str) -> bool:
        t = consent_grants
        result = self.conn.execute(
            update(t)
            .where(t.c.id == grant_id, t.c.revoked_at.is_(None), t.c.expires_at > at)
            .values(revoked_at=at, revoked_by=by)
        )
        return result.rowcount == 1


_CODE_COLUMNS = [c for c in access_codes.c if c.name != "code_hash"]


class SqlAccessCodeRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, code: AccessCode, *, code_hash: str) -> None:
        self.conn.execute(insert(access_codes).values(**to_row(code), code_hash=code_hash))

    def issued_since(self, application_id: str, subject_id: str, since: datetime) -> int:
        t = access_codes
        count = self.conn.execute(
            select(func.count()).where(
                t.c.application_id == application_id,
                t.c.subject_id == subject_id,
                t.c.issued_at > since,
            )
        ).scalar_one()
        return int(count)

    def for_subject(self, application_id: str, subject_id: str) -> list[AccessCode]:
        t = access_codes
        rows = self.conn.execute(
            select(*_CODE_COLUMNS)
            .where(t.c.application_id == application_id, t.c.subject_id == subject_id)
            .order_by(t.c.issued_at.desc(), t.c.id)
        )
        return [from_row(AccessCode, r) for r in rows]

    def redeem(
        self,
        *,
        code_hash: str,
        application_id: str,
        subject_id: str,
        staff_id: str,
        case_id: str,
        grant_id: str,
        at: datetime,
    ) -> AccessCode | None:
        t = access_codes
        row = self.conn.execute(
            update(t)
            .where(
                t.c.code_hash == code_hash,
                t.c.application_id == application_id,
                t.c.subject_id == subject_id,
                t.c.used_at.is_(None),
                t.c.locked_at.is_(None),
                t.c.expires_at > at,
            )
            .values(used_at=at, used_by=staff_id, case_id=case_id, grant_id=grant_id)
            .returning(*_CODE_COLUMNS)
        ).first()
        return from_row(AccessCode, row) if row is not None else None

    def lock_live(self, application_id: str, subject_id: str, *, at: datetime) -> int:
        t = access_codes
        result = self.conn.execute(
            update(t)
            .where(
                t.c.application_id == application_id,
                t.c.subject_id == subject_id,
                t.c.used_at.is_(None),
                t.c.locked_at.is_(None),
                t.c.expires_at > at,
            )
            .values(locked_at=at)
        )
        return int(result.rowcount)

    def add_failure(
        self, *, application_id: str, subject_id: str, staff_id: str, at: datetime
    ) -> None:
        self.conn.execute(
            insert(access_code_failures).values(
                id=str(uuid.uuid4()),
                application_id=application_id,
                subject_id=subject_id,
                staff_id=staff_id,
                at=at,
            )
        )

    def failures_for_subject(self, application_id: str, subject_id: str, since: datetime) -> int:
        t = access_code_failures
        count = self.conn.execute(
            select(func.count()).where(
                t.c.application_id == application_id,
                t.c.subject_id == subject_id,
                t.c.at >= since,
            )
        ).scalar_one()
        return int(count)

    def failures_by_staff(self, staff_id: str, since: datetime) -> int:
        t = access_code_failures
        count = self.conn.execute(
            select(func.count()).where(t.c.staff_id == staff_id, t.c.at > since)
        ).scalar_one()
        return int(count)


class SqlCustomerPolicyRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, application_id: str, account_id: str) -> CustomerPolicy | None:
        t = customer_policies
        row = self.conn.execute(
            select(t).where(t.c.application_id == application_id, t.c.account_id == account_id)
        ).first()
        return from_row(CustomerPolicy, row, rule=CustomerRule) if row is not None else None

    def put(self, policy: CustomerPolicy) -> None:
        t = customer_policies
        values = to_row(policy, rule=enum_value)
        where = (t.c.application_id == policy.application_id, t.c.account_id == policy.account_id)
        if self.conn.execute(update(t).where(*where).values(**values)).rowcount == 0:
            self.conn.execute(insert(t).values(**values))
