"""One-time links and verification codes.

Revision ID: 0005
Revises: 0003
Create Date: 2026-11-24

Another branch adds 0004; ``down_revision`` is re-pointed to it when the two are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        _at("issued_at", nullable=False),
        _at("expires_at", nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        sa.Column("recipient_hash", sa.String(length=64), nullable=False),
        _at("used_at", nullable=True),
        _at("superseded_at", nullable=True),
        sa.Column("outbox_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_links_token_hash")),
    )
    op.create_index(
        "ix_links_subject_purpose", "links", ["application_id", "subject_id", "purpose"]
    )
    op.create_table(
        "verifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=36), nullable=False),
        _at("issued_at", nullable=False),
        _at("expires_at", nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        _at("decided_at", nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("outbox_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_verifications_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index(op.f("ix_verifications_case_id"), "verifications", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_verifications_case_id"), table_name="verifications")
    op.drop_table("verifications")
    op.drop_index("ix_links_subject_purpose", table_name="links")
    op.drop_table("links")
