"""Audit events name their application: the ``application`` index column, and the index that
finds (and chains) an account's events per application.

Account ids are each application's own: two applications may both have an account ``acme``.
Events appended from now on carry ``application`` in their hashed body and link ``account_prev``
per (application, account), so that a customer's export holds all of their account's events
and nothing of anyone else's. The column of earlier events is filled from the application their
data named (``actas.domain.audit.application_of``); their hashed bodies are not touched.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_FILL = {
    "sqlite": (
        "UPDATE audit_events SET application = json_extract(canonical, '$.data.application') "
        "WHERE json_type(canonical, '$.data.application') = 'text'"
    ),
    "postgresql": (
        "UPDATE audit_events SET application = canonical::jsonb -> 'data' ->> 'application' "
        "WHERE jsonb_typeof(canonical::jsonb -> 'data' -> 'application') = 'string'"
    ),
}


def upgrade() -> None:
    op.add_column("audit_events", sa.Column("application", sa.String(length=128), nullable=True))
    dialect = op.get_bind().dialect.name
    # The log refuses UPDATE (its append-only triggers); this one fills a new index column from
    # the hashed content itself, inside the migration's transaction, and `actas audit verify`
    # checks every row's column against that content afterwards.
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute(_FILL[dialect])
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )
    else:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
        op.execute(_FILL[dialect])
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only")
    op.create_index(
        "ix_audit_events_app_account_seq", "audit_events", ["application", "account", "seq"]
    )


def downgrade() -> None:
    raise RuntimeError("the audit log is append-only; downgrading 0015 would rewrite it")
