"""The customer page's sign-in: rules only, standard library only.

The customer never has a broker password. Their application, holding its credential, asks the
broker for a one-time handoff code bound to one subject (and says whether that person is an
account admin); the customer's browser brings the code to the broker within
:data:`PAGE_HANDOFF_TTL`, and the broker swaps it for its own ``__Host-`` cookie, separate from
staff sessions. Both secrets are 256-bit random tokens stored only as SHA-256 hashes
(DESIGN.md, "One-time secrets"), each behind its own prefix so a secret scanner recognises a
leaked one and a token of one kind is refused for the other before the database is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from actas.domain.errors import InvalidGrant

#: The one-time code the application gets for the customer's browser.
PAGE_CODE_PREFIX = "actas_cpc_"
#: The customer page's session cookie value.
PAGE_SESSION_PREFIX = "actas_cps_"
#: How long the code lives: long enough for one redirect, no longer (like a staff handoff).
PAGE_HANDOFF_TTL = timedelta(seconds=60)
#: How long a customer page session lives, whatever is done on it; the application signs the
#: customer in again with a fresh code. Short: the page can grant access to the account.
PAGE_SESSION_TTL = timedelta(minutes=30)


class PageSignInFailed(InvalidGrant):
    """The code or cookie is unknown, used, expired or ended: never told apart to a browser."""

    code = "customer_page_sign_in_failed"


@dataclass(frozen=True)
class CustomerPageSession:
    """A customer's visit to the page, as stored: hashes of its secrets are kept apart."""

    id: str
    application_id: str
    subject_id: str
    account_id: str
    #: The application said this person administers the account (may set its policy).
    account_admin: bool
    issued_at: datetime
    code_expires_at: datetime
    #: When the browser brought the code (the cookie exists from then on).
    redeemed_at: datetime | None = None
    expires_at: datetime | None = None
    ended_at: datetime | None = None

    def live_at(self, now: datetime) -> bool:
        return (
            self.redeemed_at is not None
            and self.ended_at is None
            and self.expires_at is not None
            and now < self.expires_at
        )


class CustomerPageRepo(Protocol):
    """The customer page's sign-ins: a one-time code's hash, then its cookie's hash."""

    def add(self, visit: CustomerPageSession, *, code_hash: str) -> None: ...
    def redeem(
        self, *, code_hash: str, cookie_hash: str, at: datetime, expires_at: datetime
    ) -> CustomerPageSession | None:
        """Mark an unused, unexpired code redeemed and set the cookie's hash, atomically."""
        ...

    def by_cookie_hash(self, cookie_hash: str) -> CustomerPageSession | None: ...
    def end(self, visit_id: str, *, at: datetime) -> bool: ...
