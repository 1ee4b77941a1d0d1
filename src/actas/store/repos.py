"""Repositories over one connection: the adapters behind ``actas.domain.ports``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.engine import Connection, Row

from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import Account, AccountFlag, Application, Subject
from actas.store.rows import from_row, joined, split, to_row
from actas.store.search import search_subjects
from actas.store.tables import (
    accounts,
    applications,
    staff,
    staff_roles,
    staff_sessions,
    subjects,
)


class _with:
    """A row with extra values beside its columns (for fields kept in another table)."""

    def __init__(self, row: Row[Any], **extra: Any) -> None:
        self._values = {**row._mapping, **extra}

    @property
    def _mapping(self) -> Mapping[Any, Any]:
        return self._values


def _upsert(conn: Connection, table: Any, values: dict[str, Any], keys: list[str]) -> None:
    """Insert or update by primary key, in the dialect's own single statement."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    stmt = dialect_insert(table).values(**values)
    changes = {k: v for k, v in values.items() if k not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=changes))


class SqlStaffRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _roles(self, staff_id: str) -> frozenset[Role]:
        rows = self.conn.execute(
            select(staff_roles.c.role).where(staff_roles.c.staff_id == staff_id)
        )
        return frozenset(Role(r) for (r,) in rows)

    def _load(self, row: Row[Any] | None) -> Staff | None:
        if row is None:
            return None
        roles = self._roles(row._mapping["id"])
        return from_row(Staff, _with(row, roles=roles))

    def add(self, member: Staff) -> None:
        self.conn.execute(insert(staff).values(**to_row(member, skip=("roles",))))
        self.set_roles(member.id, member.roles)

    def by_id(self, staff_id: str) -> Staff | None:
        return self._load(self.conn.execute(select(staff).where(staff.c.id == staff_id)).first())

    def by_email(self, email: str) -> Staff | None:
        return self._load(self.conn.execute(select(staff).where(staff.c.email == email)).first())

    def all(self) -> list[Staff]:
        rows = self.conn.execute(select(staff).order_by(staff.c.email)).all()
        return [s for s in (self._load(r) for r in rows) if s is not None]

    def emails(self) -> list[str]:
        return [str(e) for (e,) in self.conn.execute(select(staff.c.email)).all()]

    def active_admin_ids(self) -> frozenset[str]:
        rows = self.conn.execute(
            select(staff.c.id)
            .join(staff_roles, staff_roles.c.staff_id == staff.c.id)
            .where(staff_roles.c.role == Role.ADMIN.value, staff.c.disabled_at.is_(None))
            .with_for_update(of=staff)
        )
        return frozenset(str(staff_id) for (staff_id,) in rows)

    def claim_totp_step(self, staff_id: str, step: int) -> bool:
        result = self.conn.execute(
            update(staff)
            .where(
                staff.c.id == staff_id,
                or_(staff.c.totp_last_step.is_(None), staff.c.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        return result.rowcount == 1

    def set_disabled(self, staff_id: str, at: datetime | None) -> None:
        self.conn.execute(update(staff).where(staff.c.id == staff_id).values(disabled_at=at))

    def set_profile(self, staff_id: str, *, email: str, display_name: str) -> None:
        self.conn.execute(
            update(staff)
            .where(staff.c.id == staff_id)
            .values(email=email, display_name=display_name)
        )

    def set_roles(self, staff_id: str, roles: frozenset[Role]) -> None:
        self.conn.execute(delete(staff_roles).where(staff_roles.c.staff_id == staff_id))
        if roles:
            self.conn.execute(
                insert(staff_roles),
                [{"staff_id": staff_id, "role": r.value} for r in sorted(roles)],
            )

    def set_password_hash(self, staff_id: str, password_hash: str) -> None:
        self.conn.execute(
            update(staff).where(staff.c.id == staff_id).values(password_hash=password_hash)
        )

    def set_totp_secret(self, staff_id: str, secret: str) -> None:
        self.conn.execute(
            update(staff)
            .where(staff.c.id == staff_id)
            .values(totp_secret=secret, totp_last_step=None)
        )

    def reseal_totp_secret(self, staff_id: str, *, old: str, new: str) -> bool:
        result = self.conn.execute(
            update(staff)
            .where(staff.c.id == staff_id, staff.c.totp_secret == old)
            .values(totp_secret=new)
        )
        return result.rowcount == 1


class SqlStaffSessionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, session: StaffSession, *, token_hash: str) -> None:
        self.conn.execute(insert(staff_sessions).values(**to_row(session), token_hash=token_hash))

    def by_token_hash(self, token_hash: str) -> StaffSession | None:
        row = self.conn.execute(
            select(staff_sessions).where(staff_sessions.c.token_hash == token_hash)
        ).first()
        return from_row(StaffSession, row) if row is not None else None

    def touch(self, session_id: str, at: datetime) -> None:
        self.conn.execute(
            update(staff_sessions)
            .where(staff_sessions.c.id == session_id, staff_sessions.c.last_seen_at < at)
            .values(last_seen_at=at)
        )

    def revoke(self, session_id: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(staff_sessions)
            .where(staff_sessions.c.id == session_id, staff_sessions.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return result.rowcount == 1

    def revoke_all_for(self, staff_id: str, at: datetime) -> int:
        result = self.conn.execute(
            update(staff_sessions)
            .where(
                and_(staff_sessions.c.staff_id == staff_id, staff_sessions.c.revoked_at.is_(None))
            )
            .values(revoked_at=at)
        )
        return int(result.rowcount)


def _application(row: Row[Any] | None) -> Application | None:
    return from_row(Application, row, handoff_hosts=split) if row is not None else None


class SqlApplicationRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, app: Application, *, credential_hash: str) -> None:
        self.conn.execute(
            insert(applications).values(
                **to_row(app, handoff_hosts=joined), credential_hash=credential_hash
            )
        )

    def by_id(self, app_id: str) -> Application | None:
        return _application(
            self.conn.execute(select(applications).where(applications.c.id == app_id)).first()
        )

    def by_credential_hash(self, credential_hash: str) -> Application | None:
        return _application(
            self.conn.execute(
                select(applications).where(applications.c.credential_hash == credential_hash)
            ).first()
        )

    def all(self) -> list[Application]:
        rows = self.conn.execute(select(applications).order_by(applications.c.id)).all()
        return [a for a in (_application(r) for r in rows) if a is not None]

    def set_handoff_hosts(self, app_id: str, hosts: tuple[str, ...]) -> None:
        self.conn.execute(
            update(applications)
            .where(applications.c.id == app_id)
            .values(handoff_hosts=joined(hosts))
        )


_FLAG_COLUMNS = {flag: flag.value for flag in AccountFlag}


class SqlAccountRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def handoff_urls(self, application_id: str) -> list[str]:
        rows = self.conn.execute(
            select(accounts.c.handoff_url)
            .where(accounts.c.application_id == application_id, accounts.c.handoff_url.is_not(None))
            .distinct()
        ).all()
        return [str(u) for (u,) in rows]

    def get(self, application_id: str, account_id: str) -> Account | None:
        row = self.conn.execute(
            select(accounts).where(
                accounts.c.application_id == application_id, accounts.c.id == account_id
            )
        ).first()
        if row is None:
            return None
        m = row._mapping
        return Account(
            application_id=m["application_id"],
            id=m["id"],
            name=m["name"],
            flags=frozenset(f for f, col in _FLAG_COLUMNS.items() if m[col]),
            handoff_url=m["handoff_url"],
            updated_at=m["updated_at"],
        )

    def upsert(self, account: Account) -> None:
        values: dict[str, Any] = {
            "application_id": account.application_id,
            "id": account.id,
            "name": account.name,
            "handoff_url": account.handoff_url,
            "updated_at": account.updated_at,
        }
        values.update({col: flag in account.flags for flag, col in _FLAG_COLUMNS.items()})
        _upsert(self.conn, accounts, values, ["application_id", "id"])


class SqlSubjectRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, application_id: str, subject_id: str) -> Subject | None:
        row = self.conn.execute(
            select(subjects).where(
                subjects.c.application_id == application_id, subjects.c.id == subject_id
            )
        ).first()
        return from_row(Subject, row) if row is not None else None

    def upsert(self, subject: Subject) -> None:
        _upsert(self.conn, subjects, to_row(subject), ["application_id", "id"])

    def search(self, text: str, *, limit: int) -> list[tuple[Subject, Account]]:
        return search_subjects(self.conn, text, limit=limit)
