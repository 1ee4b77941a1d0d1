"""The customer page's sign-ins (migration 0013). Same metadata as ``tables.py``."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, String, Table

from actas.store.tables import metadata
from actas.store.types import UtcDateTime

#: One row per handoff: the one-time code's hash, then (once redeemed) the cookie's hash.
customer_page_sessions = Table(
    "customer_page_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("cookie_hash", String(64), nullable=True, unique=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("account_admin", Boolean, nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("code_expires_at", UtcDateTime, nullable=False),
    Column("redeemed_at", UtcDateTime, nullable=True),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
)
