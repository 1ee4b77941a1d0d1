"""Tables of oversight (migration 0010): alerts, their counters, break-glass reviews and access
review sign-offs. Registered on the shared metadata when ``actas.store.tables`` is imported."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from actas.store.tables import metadata
from actas.store.types import UtcDateTime

# --- oversight (migration 0010) --------------------------------------------------------------

#: Anomaly alerts raised (``actas.domain.alerts``). The unique key makes "at most once per
#: rule, subject and window" a property of the database, whichever replica evaluates first.
alerts = Table(
    "alerts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("rule", String(40), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("window_start", UtcDateTime, nullable=False),
    Column("raised_at", UtcDateTime, nullable=False, index=True),
    Column("account", String(128), nullable=True),
    Column("staff", String(36), nullable=True),
    Column("detail", Text, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("acknowledged_by", String(36), nullable=True),
    Column("comment", Text, nullable=True),
    UniqueConstraint("rule", "subject", "window_start", name="uq_alerts_once"),
)

#: Running counts an alert rule keeps per subject (the writes of one session).
alert_counters = Table(
    "alert_counters",
    metadata,
    Column("rule", String(40), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

#: The outcome of reviewing one break-glass use, recorded by someone other than its user.
break_glass_reviews = Table(
    "break_glass_reviews",
    metadata,
    Column("request_id", String(36), ForeignKey("access_requests.id"), primary_key=True),
    Column("reviewer_id", String(36), ForeignKey("staff.id"), nullable=False),
    Column("justified", Boolean, nullable=False),
    Column("comment", Text, nullable=False),
    Column("reviewed_at", UtcDateTime, nullable=False),
)

#: A reviewer's sign-off of one quarter's access review.
access_review_signoffs = Table(
    "access_review_signoffs",
    metadata,
    Column("quarter", String(6), primary_key=True),
    Column("reviewer_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("comment", Text, nullable=False),
    Column("signed_at", UtcDateTime, nullable=False),
)
