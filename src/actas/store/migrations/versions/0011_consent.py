"""Consent grants, support access codes and the customer's own policy.

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-08

Other branches add 0006..0010; ``down_revision`` is re-pointed when they are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "consent_grants",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("granted_by", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kinds", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        _at("created_at", nullable=False),
        _at("expires_at", nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        _at("revoked_at", nullable=True),
        sa.Column("revoked_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_grants")),
    )
    op.create_index("ix_consent_grants_account", "consent_grants", ["application_id", "account_id"])
    op.create_table(
        "access_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        _at("issued_at", nullable=False),
        _at("expires_at", nullable=False),
        sa.Column("grant_minutes", sa.Integer(), nullable=False),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        _at("used_at", nullable=True),
        sa.Column("used_by", sa.String(length=36), nullable=True),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("grant_id", sa.String(length=36), nullable=True),
        _at("locked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_access_codes_code_hash")),
    )
    op.create_index("ix_access_codes_subject", "access_codes", ["application_id", "subject_id"])
    op.create_table(
        "access_code_failures",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        _at("at", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_code_failures")),
    )
    op.create_index(
        "ix_access_code_failures_subject",
        "access_code_failures",
        ["application_id", "subject_id", "at"],
    )
    op.create_index("ix_access_code_failures_staff", "access_code_failures", ["staff_id", "at"])
    op.create_table(
        "customer_policies",
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=16), nullable=False),
        sa.Column("notify_every_session", sa.Boolean(), nullable=False),
        sa.Column("contract_access", sa.Boolean(), nullable=False),
        _at("updated_at", nullable=True),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("application_id", "account_id", name=op.f("pk_customer_policies")),
    )


def downgrade() -> None:
    op.drop_table("customer_policies")
    op.drop_index("ix_access_code_failures_staff", table_name="access_code_failures")
    op.drop_index("ix_access_code_failures_subject", table_name="access_code_failures")
    op.drop_table("access_code_failures")
    op.drop_index("ix_access_codes_subject", table_name="access_codes")
    op.drop_table("access_codes")
    op.drop_index("ix_consent_grants_account", table_name="consent_grants")
    op.drop_table("consent_grants")
