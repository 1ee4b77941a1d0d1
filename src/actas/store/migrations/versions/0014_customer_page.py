"""The customer page's sign-ins: one-time handoff codes and the page's own session cookies,
both stored only as hashes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

``down_revision`` is re-pointed when other branches are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer_page_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("cookie_hash", sa.String(length=64), nullable=True),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("account_admin", sa.Boolean(), nullable=False),
        _at("issued_at", nullable=False),
        _at("code_expires_at", nullable=False),
        _at("redeemed_at", nullable=True),
        _at("expires_at", nullable=True),
        _at("ended_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_page_sessions")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_customer_page_sessions_code_hash")),
        sa.UniqueConstraint("cookie_hash", name=op.f("uq_customer_page_sessions_cookie_hash")),
    )


def downgrade() -> None:
    op.drop_table("customer_page_sessions")
