"""SCIM: keep what the IdP said of a member's name, display name and active flag, so that
``name.givenName`` / ``name.familyName`` come back as sent and a PATCH ``remove`` of
displayName, name or active is applied (issue 14, the scim2-tester gaps).

Revision ID: 0013
Revises: 0007
Create Date: 2026-11-27

``down_revision`` is re-pointed when merged after other branches.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_external_ids") as batch:
        batch.add_column(sa.Column("given_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("family_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("active", sa.Boolean(), nullable=True))
    # Members provisioned before this revision: their display name and state are what the
    # IdP last set (the broker applied both), so the SCIM view does not change for them.
    op.execute(
        "UPDATE staff_external_ids SET "
        "display_name = (SELECT display_name FROM staff WHERE staff.id = staff_external_ids.staff_id), "
        "active = (SELECT disabled_at IS NULL FROM staff WHERE staff.id = staff_external_ids.staff_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("staff_external_ids") as batch:
        batch.drop_column("active")
        batch.drop_column("display_name")
        batch.drop_column("family_name")
        batch.drop_column("given_name")
