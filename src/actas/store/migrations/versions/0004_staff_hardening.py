"""Staff hardening: a sign-in throttle instead of the account lockout, and room for sealed
TOTP seeds.

The lockout columns go (``failed_logins``, ``locked_until``); failures are counted in
``login_throttle`` per (email, client address), per address and per step-up instead.

``totp_secret`` widens from 64 to 255 characters to hold a seed sealed with AES-GCM
(``enc:v1:<kid>:<base64url nonce+ciphertext>``). A migration cannot seal the existing seeds: the
data key lives in the key file, beside the signing keys, which the database never sees (and
should not: a database dump must not carry the key that opens it). So the rows keep their
plain base32 seed, which has no ``enc:`` prefix, and ``actas init`` seals every plain seed
right after migrating (and a sign-in seals its own seed, should one be left). The TOTP adapter
tells the two formats apart by that prefix.

SQLite changes a column's type only by rebuilding the table, which the foreign keys into
``staff`` forbid inside the migration's transaction; so the widened column is added, filled,
the old one dropped and the new one renamed, all native ``ALTER TABLE`` on both databases
(SQLite 3.35 or newer, which the engine already requires).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE staff DROP COLUMN failed_logins")
    op.execute("ALTER TABLE staff DROP COLUMN locked_until")
    op.execute("ALTER TABLE staff ADD COLUMN totp_sealed VARCHAR(255) NOT NULL DEFAULT ''")
    op.execute("UPDATE staff SET totp_sealed = totp_secret")
    op.execute("ALTER TABLE staff DROP COLUMN totp_secret")
    op.execute("ALTER TABLE staff RENAME COLUMN totp_sealed TO totp_secret")
    if op.get_bind().dialect.name == "postgresql":
        # The default only let the column be added NOT NULL to existing rows.
        op.execute("ALTER TABLE staff ALTER COLUMN totp_secret DROP DEFAULT")
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("email_key", sa.String(length=64), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", actas.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", actas.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_index(
        op.f("ix_login_throttle_email_key"), "login_throttle", ["email_key"], unique=False
    )


def downgrade() -> None:
    """Back to lockout columns. Sealed seeds stay sealed: only a broker with the key file can
    open them, so downgrade the code only after ``actas`` has written plain seeds back (it
    offers no command for that on purpose)."""
    op.drop_index(op.f("ix_login_throttle_email_key"), table_name="login_throttle")
    op.drop_table("login_throttle")
    op.add_column(
        "staff", sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0")
    )
    op.add_column("staff", sa.Column("locked_until", actas.store.types.UtcDateTime, nullable=True))
