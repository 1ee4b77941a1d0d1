"""Initial schema: staff, applications, accounts, subjects and the append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from actas.store.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_events", "audit_checkpoints")


def upgrade() -> None:
    op.create_table(
        "staff",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_secret", sa.String(64), nullable=False),
        sa.Column("totp_last_step", sa.BigInteger, nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", UtcDateTime, nullable=True),
        sa.Column("disabled_at", UtcDateTime, nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "staff_roles",
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff.id"), primary_key=True),
        sa.Column("role", sa.String(32), primary_key=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("staff_id", sa.String(36), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("revoked_at", UtcDateTime, nullable=True),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "applications",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("handoff_url", sa.String(2000), nullable=False),
        sa.Column("credential_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("disabled_at", UtcDateTime, nullable=True),
    )
    op.create_table(
        "accounts",
        sa.Column(
            "application_id", sa.String(63), sa.ForeignKey("applications.id"), primary_key=True
        ),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("no_access", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("regulated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("enhanced_controls", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("handoff_url", sa.String(2000), nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "subjects",
        sa.Column("application_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("account_id", sa.String(128), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("privileged", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id", "account_id"], ["accounts.application_id", "accounts.id"]
        ),
    )
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("subject", sa.String(128), nullable=True),
        sa.Column("account", sa.String(128), nullable=True),
        sa.Column("canonical", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    for column in ("account", "subject", "actor", "type"):
        op.create_index(f"ix_audit_events_{column}_seq", "audit_events", [column, "seq"])
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.Column("at", UtcDateTime, nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    head = sa.table(
        "audit_head", sa.column("id"), sa.column("seq"), sa.column("hash", sa.LargeBinary)
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": bytes(32)}])
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) on the log."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for table in APPEND_ONLY:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        return
    op.execute(
        "CREATE FUNCTION actas_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION actas_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION actas_append_only()"
        )


def downgrade() -> None:
    raise RuntimeError("the audit log is append-only; downgrading 0001 would destroy it")
