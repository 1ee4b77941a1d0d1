"""Searching the subject mirror for the console's "find a customer"."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.engine import Connection, Row

from actas.domain.subjects import Account, AccountFlag, Subject
from actas.store.tables import accounts, subjects

_ESCAPE = "\\"


def _like(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally."""
    for special in (_ESCAPE, "%", "_"):
        text = text.replace(special, _ESCAPE + special)
    return text


_COLUMNS = (
    subjects.c.application_id,
    subjects.c.id,
    subjects.c.account_id,
    subjects.c.email,
    subjects.c.email_verified,
    subjects.c.display_name,
    subjects.c.privileged,
    subjects.c.updated_at,
    accounts.c.name.label("account_name"),
    accounts.c.handoff_url.label("account_handoff_url"),
    accounts.c.updated_at.label("account_updated_at"),
    *(accounts.c[flag.value] for flag in AccountFlag),
)


def _found(row: Row[Any]) -> tuple[Subject, Account]:
    m = row._mapping
    subject = Subject(
        application_id=m["application_id"],
        id=m["id"],
        account_id=m["account_id"],
        email=m["email"],
        email_verified=m["email_verified"],
        display_name=m["display_name"],
        privileged=m["privileged"],
        updated_at=m["updated_at"],
    )
    account = Account(
        application_id=m["application_id"],
        id=m["account_id"],
        name=m["account_name"],
        flags=frozenset(flag for flag in AccountFlag if m[flag.value]),
        handoff_url=m["account_handoff_url"],
        updated_at=m["account_updated_at"],
    )
    return subject, account


def search_subjects(conn: Connection, text: str, *, limit: int) -> list[tuple[Subject, Account]]:
    """Case-insensitive: an email or id that starts with ``text``, a name (the subject's or
    its account's) that contains it. Exact matches of an email or id come first."""
    needle = text.lower()
    prefix = _like(needle) + "%"
    anywhere = "%" + _like(needle) + "%"
    s, a = subjects, accounts
    exact = or_(func.lower(s.c.email) == needle, s.c.id == text, s.c.account_id == text)
    matches = or_(
        exact,
        func.lower(s.c.email).like(prefix, escape=_ESCAPE),
        func.lower(s.c.id).like(prefix, escape=_ESCAPE),
        func.lower(s.c.account_id).like(prefix, escape=_ESCAPE),
        func.lower(s.c.display_name).like(anywhere, escape=_ESCAPE),
        func.lower(a.c.name).like(anywhere, escape=_ESCAPE),
    )
    stmt = (
        select(*_COLUMNS)
        .select_from(
            s.join(a, and_(a.c.application_id == s.c.application_id, a.c.id == s.c.account_id))
        )
        .where(matches)
        .order_by(case((exact, 0), else_=1), func.lower(s.c.display_name), s.c.id)
        .limit(limit)
    )
    return [_found(row) for row in conn.execute(stmt)]
