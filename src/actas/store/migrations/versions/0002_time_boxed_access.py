"""Time-boxed access: cases, requests, approvals, sessions, handoff codes, revocations, outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:40:05.258016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2000), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("dead_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending", ["delivered_at", "dead_at", "next_attempt_at"], unique=False
        )

    op.create_table(
        "revocations",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "session_expires_at", actas.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_revocations")),
    )
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revocations_session_id"), ["session_id"], unique=False)

    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("ticket", sa.String(length=200), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("reason_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=36), nullable=True),
        sa.Column("summary_changes", sa.Text(), nullable=True),
        sa.Column("summary_verify", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_cases_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_subject", ["application_id", "subject_id"], unique=False)

    op.create_table(
        "staff_assignments",
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_assignments_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint(
            "staff_id", "application_id", "account_id", name=op.f("pk_staff_assignments")
        ),
    )
    op.create_table(
        "staff_slack",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_staff_slack_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_staff_slack")),
        sa.UniqueConstraint("staff_id", name=op.f("uq_staff_slack_staff_id")),
    )
    op.create_table(
        "access_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("break_glass", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("approver_roles", sa.String(length=200), nullable=False),
        sa.Column("high_risk", sa.Boolean(), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("created_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("extends_session_id", sa.String(length=36), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_access_requests_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_access_requests_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_requests_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_requests_state"), ["state"], unique=False)

    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_notes_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notes")),
    )
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_notes_case_id"), ["case_id"], unique=False)

    op.create_table(
        "access_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.String(length=1000), nullable=False),
        sa.Column("started_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("idle_seconds", sa.Integer(), nullable=False),
        sa.Column("last_active_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.Column("handoff_url", sa.String(length=2000), nullable=False),
        sa.Column("review_required", sa.Boolean(), nullable=False),
        sa.Column("refresh_hash", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_access_sessions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_access_sessions_request_id_access_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_access_sessions_staff_id_staff")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_sessions")),
        sa.UniqueConstraint("refresh_hash", name=op.f("uq_access_sessions_refresh_hash")),
        sa.UniqueConstraint("request_id", name=op.f("uq_access_sessions_request_id")),
    )
    with op.batch_alter_table("access_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_sessions_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_sessions_staff_id"), ["staff_id"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("approver_id", sa.String(length=36), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"], ["staff.id"], name=op.f("fk_approvals_approver_id_staff")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["access_requests.id"],
            name=op.f("fk_approvals_request_id_access_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "approver_id", name=op.f("pk_approvals")),
    )
    op.create_table(
        "handoff_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=63), nullable=False),
        sa.Column("handoff_url", sa.String(length=2000), nullable=False),
        sa.Column("issued_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["access_sessions.id"],
            name=op.f("fk_handoff_codes_session_id_access_sessions"),
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_handoff_codes")),
    )


def downgrade() -> None:
    op.drop_table("handoff_codes")
    op.drop_table("approvals")
    with op.batch_alter_table("access_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_sessions_staff_id"))
        batch_op.drop_index(batch_op.f("ix_access_sessions_case_id"))

    op.drop_table("access_sessions")
    with op.batch_alter_table("case_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_notes_case_id"))

    op.drop_table("case_notes")
    with op.batch_alter_table("access_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_requests_state"))
        batch_op.drop_index(batch_op.f("ix_access_requests_case_id"))

    op.drop_table("access_requests")
    op.drop_table("staff_slack")
    op.drop_table("staff_assignments")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_subject")

    op.drop_table("cases")
    with op.batch_alter_table("revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revocations_session_id"))

    op.drop_table("revocations")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
