"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from actas.store.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("totp_secret", String(64), nullable=False),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

staff_roles = Table(
    "staff_roles",
    metadata,
    Column("staff_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("role", String(32), primary_key=True),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

applications = Table(
    "applications",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("handoff_url", String(2000), nullable=False),
    Column("credential_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("application_id", String(63), ForeignKey("applications.id"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("no_access", Boolean, nullable=False, default=False),
    Column("regulated", Boolean, nullable=False, default=False),
    Column("enhanced_controls", Boolean, nullable=False, default=False),
    Column("flagged", Boolean, nullable=False, default=False),
    Column("handoff_url", String(2000), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("application_id", String(63), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("account_id", String(128), nullable=False),
    Column("email", String(320), nullable=True),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("display_name", String(200), nullable=False),
    Column("privileged", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["application_id", "account_id"], ["accounts.application_id", "accounts.id"]
    ),
)

#: The hash-chained, append-only log. ``canonical`` holds the exact RFC 8785 bytes that were
#: hashed; the other columns are an index for filters and are checked against it on verify.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("type", String(64), nullable=False),
    Column("actor", String(128), nullable=True),
    Column("subject", String(128), nullable=True),
    Column("account", String(128), nullable=True),
    Column("canonical", Text, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Index("ix_audit_events_account_seq", "account", "seq"),
    Index("ix_audit_events_subject_seq", "subject", "seq"),
    Index("ix_audit_events_actor_seq", "actor", "seq"),
    Index("ix_audit_events_type_seq", "type", "seq"),
    Index("ix_audit_events_at", "at"),
)

#: One row: the chain's head. Locking it serialises appends across processes and replicas.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

#: Signed statements "the log had ``seq`` events and the last hash was ``hash``"; append-only.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
)
