"""Announcements leave the broker here: Slack messages and signed webhooks (Standard Webhooks).

Services never talk to a receiver. They write an ``outbox`` row in the same transaction as the
change (:func:`actas.services.announce.announce`); :class:`actas.notify.outbox.OutboxWorker`
delivers the rows later, outside any transaction, with retries and a dead-letter record. A
failing receiver therefore never blocks or undoes the action it announces.

This module holds what the senders and the worker share; it imports nothing of its siblings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

#: ``last_error`` is kept short and never carries a URL, a header or a response body.
MAX_ERROR = 200


@dataclass(frozen=True)
class OutboxMessage:
    """One claimed outbox row, as a sender sees it."""

    id: str
    #: "slack" or "webhook".
    channel: str
    #: The webhook URL, or the Slack channel (or "incoming-webhook").
    target: str
    event_type: str
    payload: dict[str, Any]
    #: When the announced change happened (the row's ``created_at``).
    created_at: datetime
    #: Attempts made before this one.
    attempts: int


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    #: Why it failed: short, no secrets (see :func:`short_error`).
    error: str | None = None
    #: Retrying cannot help (the row is dead-lettered at once).
    permanent: bool = False


DELIVERED = DeliveryResult(ok=True)


def failed(error: str, *, permanent: bool = False) -> DeliveryResult:
    return DeliveryResult(ok=False, error=clean_error(error), permanent=permanent)


class Sender(Protocol):
    """Delivers one message to one receiver. Never raises for a receiver's failure."""

    def send(self, message: OutboxMessage) -> DeliveryResult: ...

    def close(self) -> None: ...


_UNSAFE = re.compile(r"[^A-Za-z0-9 _.:;,()=/+\-]")


def clean_error(text: str) -> str:
    """One short line of safe characters."""
    return _UNSAFE.sub("?", " ".join(text.split()))[:MAX_ERROR]


def short_error(exc: BaseException) -> str:
    """An exception as ``last_error``: its class only. Messages of HTTP clients may quote the
    URL, and a Slack incoming-webhook URL is a secret."""
    return clean_error(type(exc).__name__)
