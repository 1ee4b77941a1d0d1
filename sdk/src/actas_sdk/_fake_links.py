"""One-time links inside :class:`~actas_sdk.testing.FakeBroker`: issued to an outbox list the
test reads (there is no email), redeemed once, with the broker's own refusals."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from typing import Any

PURPOSES = {
    "password_reset": "actas_lpw_",
    "magic_signin": "actas_lms_",
    "email_confirmation": "actas_lec_",
    "account_recovery": "actas_lar_",
}
TTL_SECONDS = {
    "magic_signin": 600,
    "password_reset": 900,
    "account_recovery": 900,
    "email_confirmation": 1800,
}


@dataclass
class FakeLink:
    id: str
    token: str
    subject: str
    purpose: str
    expires_at: float
    used: bool = False
    superseded: bool = False


@dataclass
class FakeLinks:
    """The links the fake broker issued. ``outbox`` is what a real broker would email: the
    tests take the token from there, as a customer takes it from their inbox."""

    #: subjects with a verified email (``FakeBroker.add_subject``)
    subjects: set[str] = field(default_factory=set)
    links: dict[str, FakeLink] = field(default_factory=dict)
    outbox: list[FakeLink] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, body: dict[str, Any], now: float) -> tuple[int, str, dict[str, Any]]:
        """(status, problem code or "", body)."""
        subject, purpose = str(body.get("subject", "")), str(body.get("purpose", ""))
        if purpose not in PURPOSES:
            return 422, "unknown_link_purpose", {}
        if subject not in self.subjects:
            return 409, "no_verified_email", {}
        with self.lock:
            for old in self.links.values():
                if old.subject == subject and old.purpose == purpose:
                    old.superseded = True
            link = FakeLink(
                id=secrets.token_hex(8),
                token=PURPOSES[purpose] + secrets.token_urlsafe(32),
                subject=subject,
                purpose=purpose,
                expires_at=now + TTL_SECONDS[purpose],
            )
            self.links[link.token] = link
            self.outbox.append(link)
        return 202, "", {"id": link.id, "subject": subject, "purpose": purpose}

    def redeem(self, body: dict[str, Any], now: float) -> tuple[int, str, dict[str, Any]]:
        token, purpose = str(body.get("token", "")), str(body.get("purpose", ""))
        if purpose not in PURPOSES:
            return 422, "unknown_link_purpose", {}
        if not any(token.startswith(p) for p in PURPOSES.values()) or len(token) != 53:
            return 422, "malformed_link_token", {}
        with self.lock:
            link = self.links.get(token)
            if link is None:
                return 400, "link_unknown", {}
            if link.purpose != purpose:
                return 400, "link_wrong_purpose", {}
            if link.used:
                return 400, "link_used", {}
            if link.superseded or link.expires_at <= now:
                return 400, "link_expired", {}
            link.used = True
        return (
            200,
            "",
            {
                "id": link.id,
                "subject": link.subject,
                "account": "acme",
                "purpose": purpose,
            },
        )
