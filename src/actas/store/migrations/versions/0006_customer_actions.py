"""What the customer does from an email: kill switches and close-out answers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "customer_actions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        _at("issued_at", nullable=False),
        _at("expires_at", nullable=False),
        _at("used_at", nullable=True),
        sa.Column("answer", sa.String(length=8), nullable=True),
        sa.Column("outbox_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_customer_actions_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_actions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_customer_actions_token_hash")),
    )
    op.create_index(op.f("ix_customer_actions_case_id"), "customer_actions", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_customer_actions_case_id"), table_name="customer_actions")
    op.drop_table("customer_actions")
