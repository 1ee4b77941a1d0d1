"""Staff identity: SSO subjects and sign-ins in flight, passkeys and WebAuthn challenges,
enrollment links, SCIM tokens and external ids.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-07

Other branches add 0006 and 0007; ``down_revision`` is re-pointed when they are merged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import actas.store.types

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def _at(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, actas.store.types.UtcDateTime(timezone=True), nullable=nullable)


def _staff_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["staff_id"], ["staff.id"], name=op.f(f"fk_{table}_staff_id_staff")
    )


def upgrade() -> None:
    op.create_table(
        "staff_identities",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        _at("created_at", nullable=False),
        _staff_fk("staff_identities"),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("pk_staff_identities")),
    )
    op.create_index(op.f("ix_staff_identities_staff_id"), "staff_identities", ["staff_id"])
    op.create_table(
        "sso_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_url", sa.String(length=500), nullable=False),
        _at("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_sso_logins")),
    )
    op.create_table(
        "passkeys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        _at("created_at", nullable=False),
        _at("last_used_at", nullable=True),
        _staff_fk("passkeys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    op.create_index(op.f("ix_passkeys_staff_id"), "passkeys", ["staff_id"])
    op.create_table(
        "webauthn_challenges",
        sa.Column("challenge_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        _at("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("challenge_hash", name=op.f("pk_webauthn_challenges")),
    )
    op.create_index(
        op.f("ix_webauthn_challenges_expires_at"), "webauthn_challenges", ["expires_at"]
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        _at("issued_at", nullable=False),
        _at("expires_at", nullable=False),
        sa.Column("issued_by", sa.String(length=128), nullable=False),
        _at("used_at", nullable=True),
        sa.Column("pending_totp_secret", sa.String(length=255), nullable=True),
        _staff_fk("enrollments"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrollments_token_hash")),
    )
    op.create_index(op.f("ix_enrollments_staff_id"), "enrollments", ["staff_id"])
    op.create_table(
        "scim_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        _at("created_at", nullable=False),
        _at("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_scim_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scim_tokens_token_hash")),
    )
    op.create_table(
        "staff_external_ids",
        sa.Column("staff_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("user_name", sa.String(length=320), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _staff_fk("staff_external_ids"),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_external_ids")),
    )


def downgrade() -> None:
    op.drop_table("staff_external_ids")
    op.drop_table("scim_tokens")
    op.drop_index(op.f("ix_enrollments_staff_id"), table_name="enrollments")
    op.drop_table("enrollments")
    op.drop_index(op.f("ix_webauthn_challenges_expires_at"), table_name="webauthn_challenges")
    op.drop_table("webauthn_challenges")
    op.drop_index(op.f("ix_passkeys_staff_id"), table_name="passkeys")
    op.drop_table("passkeys")
    op.drop_table("sso_logins")
    op.drop_index(op.f("ix_staff_identities_staff_id"), table_name="staff_identities")
    op.drop_table("staff_identities")
