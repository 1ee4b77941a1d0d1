"""Handoff hosts per application, and the note a session was ended with.

Revision ID: 0012
Revises: 0009
Create Date: 2026-11-26

``applications.handoff_hosts`` is the allow-list of hosts an application's accounts may send
staff browsers to; existing applications get the host of their own handoff URL, the one a
broker admin set. Accounts that already point elsewhere keep their URL, but their sessions fail
to start until an admin allows the host (``actas app handoff-hosts``): a URL set through a
possibly leaked credential is not trusted by migration. ``access_sessions.end_note`` keeps the
reason a person gave when revoking, for the session's owner.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port is not None else host


def upgrade() -> None:
    op.add_column(
        "applications",
        sa.Column("handoff_hosts", sa.String(length=2000), nullable=False, server_default=""),
    )
    op.add_column("access_sessions", sa.Column("end_note", sa.String(length=2000), nullable=True))
    apps = sa.table(
        "applications",
        sa.column("id", sa.String),
        sa.column("handoff_url", sa.String),
        sa.column("handoff_hosts", sa.String),
    )
    conn = op.get_bind()
    for app_id, url in conn.execute(sa.select(apps.c.id, apps.c.handoff_url)).all():
        conn.execute(apps.update().where(apps.c.id == app_id).values(handoff_hosts=_host(str(url))))


def downgrade() -> None:
    with op.batch_alter_table("access_sessions") as batch:
        batch.drop_column("end_note")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("handoff_hosts")
