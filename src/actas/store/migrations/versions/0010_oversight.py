"""Oversight: anomaly alerts, their counters, break-glass reviews, access-review sign-offs.

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-25

Other branches add 0006 and later; ``down_revision`` is re-pointed when they are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        _at("window_start", nullable=False),
        _at("raised_at", nullable=False),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("staff", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        _at("acknowledged_at", nullable=True),
        sa.Column("acknowledged_by", sa.String(length=36), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("rule", "subject", "window_start", name="uq_alerts_once"),
    )
    op.create_index(op.f("ix_alerts_raised_at"), "alerts", ["raised_at"])
    op.create_table(
        "alert_counters",
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "subject", name=op.f("pk_alert_counters")),
    )
    op.create_table(
        "break_glass_reviews",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("reviewer_id", sa.String(length=36), nullable=False),
        sa.Column("justified", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        _at("reviewed_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_break_glass_reviews_request_id_access_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_id"], ["staff.id"], name=op.f("fk_break_glass_reviews_reviewer_id_staff")
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_break_glass_reviews")),
    )
    op.create_table(
        "access_review_signoffs",
        sa.Column("quarter", sa.String(length=6), nullable=False),
        sa.Column("reviewer_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        _at("signed_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewer_id"],
            ["staff.id"],
            name=op.f("fk_access_review_signoffs_reviewer_id_staff"),
        ),
        sa.PrimaryKeyConstraint("quarter", "reviewer_id", name=op.f("pk_access_review_signoffs")),
    )


def downgrade() -> None:
    op.drop_table("access_review_signoffs")
    op.drop_table("break_glass_reviews")
    op.drop_table("alert_counters")
    op.drop_index(op.f("ix_alerts_raised_at"), table_name="alerts")
    op.drop_table("alerts")
