"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create and evolve it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from actas.store.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

staff = Table(
    "staff",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    #: Sealed with AES-GCM by the TOTP adapter (``enc:v1:<kid>:...``; migration 0004).
    Column("totp_secret", String(255), nullable=False),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("disabled_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

staff_roles = Table(
    "staff_roles",
    metadata,
    Column("staff_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("role", String(32), primary_key=True),
)

staff_sessions = Table(
    "staff_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

applications = Table(
    "applications",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("handoff_url", String(2000), nullable=False),
    Column("credential_hash", String(64), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled_at", UtcDateTime, nullable=True),
    # Space-separated hosts the application's accounts may send staff browsers to (0006).
    Column("handoff_hosts", String(2000), nullable=False, server_default=""),
)

accounts = Table(
    "accounts",
    metadata,
    Column("application_id", String(63), ForeignKey("applications.id"), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("no_access", Boolean, nullable=False, default=False),
    Column("regulated", Boolean, nullable=False, default=False),
    Column("enhanced_controls", Boolean, nullable=False, default=False),
    Column("flagged", Boolean, nullable=False, default=False),
    Column("handoff_url", String(2000), nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

subjects = Table(
    "subjects",
    metadata,
    Column("application_id", String(63), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("account_id", String(128), nullable=False),
    Column("email", String(320), nullable=True),
    Column("email_verified", Boolean, nullable=False, default=False),
    Column("display_name", String(200), nullable=False),
    Column("privileged", Boolean, nullable=False, default=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(
        ["application_id", "account_id"], ["accounts.application_id", "accounts.id"]
    ),
)

#: The hash-chained, append-only log. ``canonical`` holds the exact RFC 8785 bytes that were
#: hashed; the other columns are an index for filters and are checked against it on verify.
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("id", String(36), nullable=False, unique=True),
    Column("at", UtcDateTime, nullable=False),
    Column("type", String(64), nullable=False),
    Column("actor", String(128), nullable=True),
    Column("subject", String(128), nullable=True),
    Column("account", String(128), nullable=True),
    # Not hashed on its own: it repeats the event's application (``application_of``), so that
    # an account's events are found, and chained, per application.
    Column("application", String(128), nullable=True),
    Column("canonical", Text, nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    Index("ix_audit_events_account_seq", "account", "seq"),
    Index("ix_audit_events_app_account_seq", "application", "account", "seq"),
    Index("ix_audit_events_subject_seq", "subject", "seq"),
    Index("ix_audit_events_actor_seq", "actor", "seq"),
    Index("ix_audit_events_type_seq", "type", "seq"),
    Index("ix_audit_events_at", "at"),
)

#: One row: the chain's head. Locking it serialises appends across processes and replicas.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)

#: Signed statements "the log had ``seq`` events and the last hash was ``hash``"; append-only.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kid", String(64), nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    # Migration 0009: the Merkle tree root of the first ``seq`` events, the C2SP signed note
    # (whose signature ``signature`` is) and the consistency proof from the checkpoint before.
    # NULL on checkpoints signed before 0009, whose signed message is the seq and chain hash.
    Column("root", LargeBinary(32), nullable=True),
    Column("note", Text, nullable=True),
    Column("consistency", LargeBinary, nullable=True),
)

#: The hash of every complete, aligned 256-leaf subtree of the log (migration 0009, append-only):
#: proofs read these instead of walking the whole log.
audit_tree_tiles = Table(
    "audit_tree_tiles",
    metadata,
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# --- time-boxed access (migration 0002) ------------------------------------------------------

#: Which accounts a staff member is assigned to, for roles the policy limits to assignments.
staff_assignments = Table(
    "staff_assignments",
    metadata,
    Column("staff_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("application_id", String(63), primary_key=True),
    Column("account_id", String(128), primary_key=True),
)

staff_slack = Table(
    "staff_slack",
    metadata,
    Column("slack_user_id", String(32), primary_key=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, unique=True),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False),
    Column("ticket", String(200), nullable=False),
    Column("reason_code", String(64), nullable=False),
    Column("reason_text", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("closed_by", String(36), nullable=True),
    Column("summary_changes", Text, nullable=True),
    Column("summary_verify", Text, nullable=True),
    Index("ix_cases_subject", "application_id", "subject_id"),
)

case_notes = Table(
    "case_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("staff_id", String(36), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("body", Text, nullable=False),
)

access_requests = Table(
    "access_requests",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("scopes", String(1000), nullable=False),
    Column("minutes", Integer, nullable=False),
    Column("break_glass", Boolean, nullable=False),
    Column("state", String(20), nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("reasons", Text, nullable=False),
    Column("approvals_required", Integer, nullable=False),
    Column("approver_roles", String(200), nullable=False),
    Column("high_risk", Boolean, nullable=False),
    Column("review_required", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("extends_session_id", String(36), nullable=True),
    Column("extension_reason", Text, nullable=True),
)

approvals = Table(
    "approvals",
    metadata,
    Column("request_id", String(36), ForeignKey("access_requests.id"), primary_key=True),
    Column("approver_id", String(36), ForeignKey("staff.id"), primary_key=True),
    Column("decision", String(8), nullable=False),
    Column("comment", Text, nullable=False),
    Column("via", String(16), nullable=False),
    Column("at", UtcDateTime, nullable=False),
)

access_sessions = Table(
    "access_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("request_id", String(36), ForeignKey("access_requests.id"), nullable=False, unique=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("staff_id", String(36), ForeignKey("staff.id"), nullable=False, index=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("scopes", String(1000), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("idle_seconds", Integer, nullable=False),
    Column("last_active_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("end_reason", String(32), nullable=True),
    # Why a person ended it (a revocation's reason), shown to the session's owner (0006).
    Column("end_note", String(2000), nullable=True),
    Column("handoff_url", String(2000), nullable=False),
    Column("review_required", Boolean, nullable=False),
    Column("refresh_hash", String(64), nullable=True, unique=True),
    #: Epoch second at which an open session goes idle (``last_active_at`` + ``idle_seconds``,
    #: rounded down), NULL once ended: the sweeper finds lapsed sessions through an index
    #: instead of loading every open one.
    Column("idle_due", BigInteger, nullable=True),
    # Partial: only open sessions, so the index stays the size of what may still lapse.
    Index(
        "ix_access_sessions_open_expiry",
        "expires_at",
        postgresql_where=text("ended_at IS NULL"),
        sqlite_where=text("ended_at IS NULL"),
    ),
    Index(
        "ix_access_sessions_open_idle",
        "idle_due",
        postgresql_where=text("ended_at IS NULL"),
        sqlite_where=text("ended_at IS NULL"),
    ),
)

#: One-time handoff codes, stored only as hashes and redeemed with one conditional UPDATE.
handoff_codes = Table(
    "handoff_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("session_id", String(36), ForeignKey("access_sessions.id"), nullable=False),
    Column("application_id", String(63), nullable=False),
    Column("handoff_url", String(2000), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
)

#: Every ended session, in order: what SDKs catch up on after a reconnect.
revocations = Table(
    "revocations",
    metadata,
    Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("session_id", String(36), nullable=False, index=True),
    Column("application_id", String(63), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("session_expires_at", UtcDateTime, nullable=False),
)

#: Announcements written in the same transaction as the change; a worker delivers them.
outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("target", String(2000), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("delivered_at", UtcDateTime, nullable=True),
    Column("dead_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_pending", "delivered_at", "dead_at", "next_attempt_at"),
)

# --- host-app events (migration 0003) --------------------------------------------------------

#: Ids of the events SDKs shipped, so a batch sent again after a crash is appended only once.
ingested_events = Table(
    "ingested_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(36), nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
)

# --- staff hardening (migration 0004) --------------------------------------------------------

#: Failed sign-ins and step-ups per bucket (``actas.domain.throttle``): in the database, so
#: every replica slows the same source. Keys are SHA-256 digests, never the email or address.
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("bucket", String(16), nullable=False),
    Column("email_key", String(64), nullable=True, index=True),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", UtcDateTime, nullable=True),
    Column("last_failure_at", UtcDateTime, nullable=False),
)


# --- one-time links and verification codes (migration 0005) ----------------------------------

#: One-time links, stored only as hashes; redeemed with one conditional UPDATE ... RETURNING.
links = Table(
    "links",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("issued_by", String(128), nullable=False),
    #: SHA-256 of the address the link went to: it must still be the subject's at redemption.
    Column("recipient_hash", String(64), nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("superseded_at", UtcDateTime, nullable=True),
    Column("outbox_id", String(36), nullable=True),
    Index("ix_links_subject_purpose", "application_id", "subject_id", "purpose"),
)

#: Verification codes sent from a case; the row is also the record of the verification.
verifications = Table(
    "verifications",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("method", String(16), nullable=False),
    Column("code_hash", String(64), nullable=False),
    Column("requested_by", String(36), nullable=False),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", String(36), nullable=True),
    Column("outbox_id", String(36), nullable=True),
)

# --- what the customer does from an email (migration 0006) -----------------------------------

#: Kill switches and close-out answers: one-time tokens, stored as their SHA-256 only.
customer_actions = Table(
    "customer_actions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("application_id", String(63), nullable=False),
    Column("subject_id", String(128), nullable=False),
    Column("account_id", String(128), nullable=False),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False, index=True),
    Column("session_id", String(36), nullable=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Column("answer", String(8), nullable=True),
    Column("outbox_id", String(36), nullable=True),
)


# Staff identity (migration 0008) lives in its own module; importing it registers its tables.
# The customer tables live in their own module on the same metadata; importing it here makes
# ``metadata`` whole for Alembic and the drift test.
# The customer page's sign-ins (migration 0013) likewise.
from actas.store import consent_tables as consent_tables  # noqa: E402
from actas.store import customer_page_tables as customer_page_tables  # noqa: E402
from actas.store import identity_tables as identity_tables  # noqa: E402

# Oversight (migration 0010) likewise.
from actas.store import oversight_tables as oversight_tables  # noqa: E402
