"""Signed outgoing webhooks following the Standard Webhooks specification.

Each delivery is a ``POST`` of ``{"type", "timestamp", "data"}`` with the headers
``webhook-id`` (the outbox row id, the same on every retry: receivers dedupe on it),
``webhook-timestamp`` (the time of this attempt, in Unix seconds) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` under the ``whsec_`` secret). A 2xx answer
means delivered; anything else, a redirect included, is a failure to retry.
"""

from __future__ import annotations

import binascii
import json
import math
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from actas import __version__
from actas.domain.clock import Clock, system_clock
from actas.notify import DELIVERED, DeliveryResult, OutboxMessage, failed, short_error

USER_AGENT = f"actas/{__version__} (+standard-webhooks)"
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def webhook_body(message: OutboxMessage) -> str:
    """The JSON body: the event type, when the change happened, and the payload as given."""
    body: dict[str, Any] = {
        "type": message.event_type,
        "timestamp": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": message.payload,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def signed_headers(webhook: Webhook, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` sent at ``at``."""
    if at.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    # The library reads the datetime as UTC; hand it one, at whole seconds like the header.
    at = at.astimezone(UTC).replace(microsecond=0)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(math.floor(at.timestamp())),
        "webhook-signature": webhook.sign(msg_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def make_webhook(secret: str) -> Webhook:
    """The signer for a ``whsec_`` secret; ValueError (never the secret) when it is unusable."""
    try:
        return Webhook(secret)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the webhook secret is not whsec_ followed by base64") from exc
    except Exception as exc:  # EmptyWebhookSecretError and friends
        raise ValueError("the webhook secret is empty or unusable") from exc


class WebhookSender:
    """Signs and POSTs outbox messages of channel ``webhook`` to their target URL.

    ``allowed_urls`` (the configured receivers) guards against a row whose target is no longer,
    or never was, configured: such a row is dead-lettered instead of sent anywhere.
    ``clock`` stamps ``webhook-timestamp``; receivers reject stamps more than five minutes from
    their own time, so it is the real clock even when the worker's clock is frozen in tests.
    """

    def __init__(
        self,
        secret: str,
        *,
        allowed_urls: Collection[str] | None = None,
        client: httpx.Client | None = None,
        clock: Clock = system_clock,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._webhook = make_webhook(secret)
        self._allowed = None if allowed_urls is None else frozenset(allowed_urls)
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._clock = clock

    def send(self, message: OutboxMessage) -> DeliveryResult:
        if self._allowed is not None and message.target not in self._allowed:
            return failed("receiver is not configured", permanent=True)
        try:
            body = webhook_body(message)
        except (TypeError, ValueError) as exc:
            return failed(f"payload cannot be encoded: {short_error(exc)}", permanent=True)
        headers = signed_headers(self._webhook, message.id, body, self._clock())
        try:
            # Only the status matters: never read (or keep) what the receiver answers.
            with self._client.stream(
                "POST", message.target, content=body.encode("utf-8"), headers=headers
            ) as response:
                status = response.status_code
        except httpx.HTTPError as exc:
            return failed(short_error(exc))
        if 200 <= status < 300:
            return DELIVERED
        return failed(f"HTTP {status}")

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
