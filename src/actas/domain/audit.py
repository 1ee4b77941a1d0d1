"""Audit events: what each one says, and the rules its content must follow.

An event is appended in the same transaction as the change it records. Its hash is
``SHA-256(0x00 || prev_hash || canonical JSON of the event)``; the 0x00 prefix makes every
hash an RFC 6962 Merkle leaf. Events hold no floats, so their canonical form (RFC 8785)
cannot drift between implementations.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from actas.domain.errors import InvalidInput

GENESIS_HASH = bytes(32)
CHECKPOINT_LABEL = b"actas-audit-checkpoint/v1"


def leaf_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """``SHA-256(0x00 || prev_hash || canonical)``: a chain link and an RFC 6962 leaf."""
    return hashlib.sha256(b"\x00" + prev_hash + canonical).digest()


def checkpoint_message(seq: int, head_hash: bytes) -> bytes:
    """The signed text of a checkpoint, in the spirit of a C2SP signed note."""
    return b"%s\n%d\n%s\n" % (CHECKPOINT_LABEL, seq, base64.b64encode(head_hash))


#: The fields of an event, in the order they are documented. All of them are hashed.
EVENT_FIELDS = (
    "seq",
    "id",
    "at",
    "type",
    "actor",
    "subject",
    "account",
    "application",
    "case",
    "session",
    "reason",
    "ticket",
    "ip",
    "user_agent",
    "data",
    "account_prev",
)

MAX_TEXT = 2000


def _check_value(path: str, value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise InvalidInput(f"audit data {path} nests deeper than 8 levels")
    if isinstance(value, float):
        raise InvalidInput(f"audit data {path} is a float; events hold no floats")
    if isinstance(value, str) and len(value) > MAX_TEXT:
        raise InvalidInput(f"audit data {path} is longer than {MAX_TEXT} characters")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"audit data {path} has a non-string key")
            _check_value(f"{path}.{key}", item, depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_value(f"{path}[{index}]", item, depth + 1)
    elif value is not None and not isinstance(value, str | int | bool):
        raise InvalidInput(f"audit data {path} has unsupported type {type(value).__name__}")


@dataclass(frozen=True)
class AuditEvent:
    """An event waiting to be appended: it gets its ``seq``, ``at`` and hashes on append."""

    type: str
    actor: str | None = None
    subject: str | None = None
    account: str | None = None
    #: The application whose account this is: account ids are an application's own, so the
    #: same id in two applications is two accounts. Taken from ``data["application"]`` when
    #: not given (where the services have always put it).
    application: str | None = None
    case: str | None = None
    session: str | None = None
    reason: str | None = None
    ticket: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.type or len(self.type) > 64:
            raise InvalidInput("audit event type must be 1 to 64 characters")
        _check_value("data", dict(self.data))
        if self.application is None and isinstance(self.data.get("application"), str):
            object.__setattr__(self, "application", self.data["application"])
        if self.account is not None and self.application is None:
            # Fail closed: an event about an account that named no application would be linked
            # and exported apart from that account's other events.
            raise ValueError(
                f"audit event {self.type} is about an account but names no application"
            )
        for name in ("reason", "ticket", "user_agent"):
            _check_value(name, getattr(self, name))

    def body(
        self, *, seq: int, event_id: str, at: datetime, account_prev: int | None = None
    ) -> dict[str, Any]:
        """The event as it is canonicalised and hashed.

        ``account_prev`` is the ``seq`` of the previous event about the same account of the
        same application (None for the first, or without an account): it links an account's
        events so that an export of them shows any event left out between its first and its
        last. Events appended before migration 0009 carry no ``account_prev``; those appended
        before migration 0015 carry no ``application`` and were linked by account alone."""
        return {
            "seq": seq,
            "id": event_id,
            "at": format_time(at),
            "type": self.type,
            "actor": self.actor,
            "subject": self.subject,
            "account": self.account,
            "application": self.application,
            "case": self.case,
            "session": self.session,
            "reason": self.reason,
            "ticket": self.ticket,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "data": dict(self.data),
            "account_prev": account_prev,
        }


def application_of(body: Mapping[str, Any]) -> str | None:
    """The application an event body is about: its own field since migration 0015, the one
    its data named before. This is what the ``application`` index column holds."""
    if "application" in body:
        value = body["application"]
    else:
        data = body.get("data")
        value = data.get("application") if isinstance(data, Mapping) else None
    return value if isinstance(value, str) else None


def format_time(at: datetime) -> str:
    """UTC, microseconds, a ``Z`` suffix: one spelling so that the hash is stable."""
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Actor:
    """Who caused a change, and from where: stamped onto the events it causes."""

    id: str | None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class AuditQuery:
    """Filters for reading the log. ``after_seq`` pages forward; ``limit`` is capped."""

    account: str | None = None
    #: Only events about accounts of this application (see :attr:`AuditEvent.application`).
    application: str | None = None
    subject: str | None = None
    actor: str | None = None
    type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after_seq: int = 0
    limit: int = 100
    #: Newest first (for a tail); otherwise oldest first from ``after_seq``.
    newest_first: bool = False
    #: Only events of this session or carrying one of these request ids (a session's
    #: timeline: what it did and the requests and approvals that led to it).
    session: str | None = None
    requests: tuple[str, ...] = ()

    @property
    def type_prefix(self) -> str | None:
        """``app.*`` (or ``app*``) matches every type that starts with ``app.``; a bare word
        with no dot (``session``) is read as ``session.*``, since no type is a bare word."""
        if self.type is None:
            return None
        if self.type.endswith("*"):
            return self.type[:-1]
        if "." not in self.type:
            return self.type + "."
        return None

    def __post_init__(self) -> None:
        if self.type is not None and not _TYPE_FILTER.fullmatch(self.type):
            shown = self.type[:64]
            raise InvalidInput(
                f"event type {shown!r} is not a type (session.started) or a prefix (session.*)"
            )
        if len(self.requests) > 50:
            raise InvalidInput(f"at most 50 requests, got {len(self.requests)}")
        if not 1 <= self.limit <= 1000:
            raise InvalidInput(f"limit {self.limit} is outside 1..1000")
        if self.after_seq < 0:
            raise InvalidInput(f"after_seq {self.after_seq} is negative")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InvalidInput(f"{name} must carry a time zone")


_TYPE_FILTER = re.compile(r"[a-z][a-z0-9_.]{0,62}\*?")


def happened_at(event: Mapping[str, Any]) -> datetime:
    """When an event happened: what the application reported for its own events (the moment
    the request began), else when the broker recorded it. A request that caused a broker
    event (an End, ``session.ended``) thus sorts before it, although it arrived later."""
    data = event.get("data")
    reported = data.get("reported_at") if isinstance(data, Mapping) else None
    for value in (reported, event.get("at")):
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if at.tzinfo is not None:
                return at
    return datetime.min.replace(tzinfo=UTC)


def in_time_order(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Events in the order they happened; the chain's order (seq) breaks ties."""
    return sorted(events, key=lambda e: (happened_at(e), int(e.get("seq") or 0)))


#: What a verification of the log can find wrong (see ``actas.audit.verify``).
Problem = Literal[
    "edited",
    "missing",
    "inserted",
    "reordered",
    "index_mismatch",
    "truncated",
    "checkpoint_mismatch",
    "checkpoint_signature",
    "head_mismatch",
    "witness_mismatch",
]


@dataclass(frozen=True)
class VerifyReport:
    """What a verification of the whole log found.

    ``events`` and ``checkpoints`` count what was checked and found good: all of them when
    ``ok``, otherwise those before the problem. ``first_bad_seq`` is the earliest sequence
    number the problem shows to be bad; ``detail`` says what is wrong in one sentence.
    """

    ok: bool
    events: int
    checkpoints: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str | None = None

    def summary(self) -> str:
        events = counted(self.events, "event")
        checkpoints = counted(self.checkpoints, "checkpoint")
        if self.ok:
            return f"audit log OK: {events} chained, {checkpoints} verified"
        return (
            f"audit log FAILED ({self.problem}) at seq {self.first_bad_seq}: {self.detail} "
            f"[{events} and {checkpoints} were good before it]"
        )


def counted(n: int, noun: str) -> str:
    """``1 checkpoint``, ``2 checkpoints``, ``0 checkpoints``: English plural rules for a count."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
