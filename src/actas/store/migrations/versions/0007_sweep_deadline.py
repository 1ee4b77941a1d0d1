"""The sweeper's deadline: an idle deadline per open session and partial indexes on it and on
the expiry, so a sweep reads only what is due.

Revision ID: 0007
Revises: 0012
Create Date: 2026-11-26

Other branches add 0006; ``down_revision`` is re-pointed when they are merged.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0012"
branch_labels = None
depends_on = None

_OPEN = sa.text("ended_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("access_sessions") as batch:
        batch.add_column(sa.Column("idle_due", sa.BigInteger(), nullable=True))
    sessions = sa.table(
        "access_sessions",
        sa.column("id", sa.String),
        sa.column("last_active_at", sa.DateTime),
        sa.column("idle_seconds", sa.Integer),
        sa.column("ended_at", sa.DateTime),
        sa.column("idle_due", sa.BigInteger),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(sessions.c.id, sessions.c.last_active_at, sessions.c.idle_seconds).where(
            sessions.c.ended_at.is_(None)
        )
    ).all()
    for row in rows:
        at = row.last_active_at
        if at.tzinfo is None:  # SQLite hands back naive UTC datetimes
            at = at.replace(tzinfo=UTC)
        epoch = int(at.timestamp())
        conn.execute(
            sa.update(sessions)
            .where(sessions.c.id == row.id)
            .values(idle_due=epoch + int(row.idle_seconds))
        )
    op.create_index(
        "ix_access_sessions_open_expiry",
        "access_sessions",
        ["expires_at"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    op.create_index(
        "ix_access_sessions_open_idle",
        "access_sessions",
        ["idle_due"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_access_sessions_open_idle", table_name="access_sessions")
    op.drop_index("ix_access_sessions_open_expiry", table_name="access_sessions")
    with op.batch_alter_table("access_sessions") as batch:
        batch.drop_column("idle_due")
