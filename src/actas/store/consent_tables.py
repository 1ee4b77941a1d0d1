"""The customer's tables: consent grants, support access codes (and their wrong guesses) and
the customer's own policy. Kept apart from ``tables.py``; the same metadata holds them."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from actas.store.tables import metadata
from actas.store.types import UtcDateTime

consent_grants = Table(
    "consent_grants",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(63), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("granted_by", String(128), nullable=False),
    Column("source", String(16), nullable=False),
    #: Space-separated, like a request's scopes.
    Column("kinds", String(64), nullable=False),
    Column("scopes", String(200), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("case_id", String(36), nullable=True),
    Column("staff_id", String(36), nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revoked_by", String(128), nullable=True),
    Index("ix_consent_grants_account", "application_id", "account_id"),
)

access_codes = Table(
    "access_codes",
    metadata,
    Column("id", String(36), primary_key=True),
    #: HMAC-SHA-256 keyed with the application and subject; the code itself is never stored.
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("application_id", String(63), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("grant_minutes", Integer, nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("used_by", String(36), nullable=True),
    Column("case_id", String(36), nullable=True),
    Column("grant_id", String(36), nullable=True),
    Column("locked_at", UtcDateTime, nullable=True),
    Index("ix_access_codes_subject", "application_id", "subject_id"),
)

#: One row per wrong support access code, counted per subject and per staff member.
access_code_failures = Table(
    "access_code_failures",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("staff_id", String(36), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_access_code_failures_subject", "application_id", "subject_id", "at"),
    Index("ix_access_code_failures_staff", "staff_id", "at"),
)

customer_policies = Table(
    "customer_policies",
    metadata,
    Column("application_id", String(63), primary_key=True),
    Column("account_id", String(128), primary_key=True),
    Column("rule", String(16), nullable=False),
    Column("notify_every_session", Boolean, nullable=False),
    Column("contract_access", Boolean, nullable=False),
    Column("updated_at", UtcDateTime, nullable=True),
    Column("updated_by", String(128), nullable=True),
)
