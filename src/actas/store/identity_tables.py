"""Tables for staff identity (migration 0008): SSO subjects, passkeys, WebAuthn challenges,
enrollment links, SCIM tokens. Secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
)

from actas.store.tables import metadata
from actas.store.types import UtcDateTime

#: Who an IdP's (issuer, sub) is: the stable pair, never the email the IdP lets users edit.
staff_identities = Table(
    "staff_identities",
    metadata,
    Column("issuer", String(255), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
)

#: A sign-in at the IdP in flight, keyed by the hash of its ``state``; deleted when used.
sso_logins = Table(
    "sso_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_url", String(500), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)

passkeys = Table(
    "passkeys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("credential_id", String(1400), nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("name", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_used_at", UtcDateTime, nullable=True),
)

#: WebAuthn challenges the broker issued, by hash; a challenge is taken (deleted) once.
webauthn_challenges = Table(
    "webauthn_challenges",
    metadata,
    Column("challenge_hash", String(64), primary_key=True),
    Column("staff_id", String(36), nullable=True),
    Column("purpose", String(16), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False, index=True),
)

enrollments = Table(
    "enrollments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("issued_by", String(128), nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("pending_totp_secret", String(255), nullable=True),
)

scim_tokens = Table(
    "scim_tokens",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

#: The staff a SCIM client provisioned (only those it may see and change), with its
#: ``externalId`` for them.
staff_external_ids = Table(
    "staff_external_ids",
    metadata,
    Column("staff_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("external_id", String(255), nullable=True),
    #: The IdP's ``userName`` (often the email, but any unique string is allowed).
    Column("user_name", String(320), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    #: What the IdP last said (migration 0013), returned as it was sent: ``name.givenName``,
    #: ``name.familyName``, ``displayName`` (the broker's own display name falls back to the
    #: email when it is removed) and ``active`` (NULL once removed: the member keeps the
    #: state they had, so a removal never re-enables anyone).
    Column("given_name", String(200), nullable=True),
    Column("family_name", String(200), nullable=True),
    Column("display_name", String(200), nullable=True),
    Column("active", Boolean, nullable=True),
)
