"""The sign-in throttle: failures slow their source down instead of locking the account.

It replaced a per-account lockout that answered 423 for real accounts only (enumeration) and
let anyone who knew a staff email lock that person out. Failures are counted in buckets:

- one per (email, client address): someone guessing from one place waits, the owner signing in
  from elsewhere does not;
- one per client address: a single source spraying many emails is slowed too, after more slack;
- one per staff member's step-up: a stolen staff session cannot try codes at request speed.

After ``free_failures`` failures every further one doubles the wait, from ``base_delay`` up to
``max_delay``. A success clears its bucket, and a bucket is forgotten once it has been quiet
for ``max_delay`` after its last wait ended. Emails that belong to nobody are counted exactly
like real ones, so the answers (401, or 429 with Retry-After) never tell them apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Bucket(StrEnum):
    PAIR = "pair"
    ADDRESS = "address"
    STEP_UP = "step_up"


@dataclass(frozen=True)
class ThrottleState:
    failures: int
    blocked_until: datetime | None
    last_failure_at: datetime


def _digest(*parts: str) -> str:
    """A fixed-size key: the table never holds attacker-chosen text or a clear address."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def email_key(email: str) -> str:
    return _digest("email", email)


def pair_key(email: str, address: str | None) -> str:
    return _digest(Bucket.PAIR, email, address or "-")


def address_key(address: str | None) -> str:
    return _digest(Bucket.ADDRESS, address or "-")


def step_up_key(staff_id: str) -> str:
    return _digest(Bucket.STEP_UP, staff_id)


@dataclass(frozen=True)
class ThrottleRule:
    free_failures: int
    max_delay: timedelta
    base_delay: timedelta = timedelta(seconds=1)

    def delay_for(self, failures: int) -> timedelta:
        """The wait that the ``failures``-th failure in a row brings."""
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        # Capped before doubling, so a huge count never builds a huge number.
        doublings = min(over - 1, 40)
        return min(self.max_delay, self.base_delay * (1 << doublings))

    def forgotten(self, state: ThrottleState, now: datetime) -> bool:
        quiet_since = max(state.last_failure_at, state.blocked_until or state.last_failure_at)
        return now >= quiet_since + self.max_delay

    def retry_after(self, state: ThrottleState | None, now: datetime) -> int | None:
        """Whole seconds to wait before trying again, or None when the source may try now."""
        if state is None or state.blocked_until is None or state.blocked_until <= now:
            return None
        return max(1, -(-int((state.blocked_until - now).total_seconds() * 1000) // 1000))

    def after_failure(self, state: ThrottleState | None, now: datetime) -> ThrottleState:
        failures = 1 if state is None or self.forgotten(state, now) else state.failures + 1
        delay = self.delay_for(failures)
        return ThrottleState(
            failures=failures,
            blocked_until=now + delay if delay else None,
            last_failure_at=now,
        )


@dataclass(frozen=True)
class Throttle:
    """The rules of the three buckets (from the settings)."""

    sign_in: ThrottleRule
    address: ThrottleRule
    step_up: ThrottleRule

    @classmethod
    def from_settings(cls, *, free_failures: int, max_delay_seconds: int) -> Throttle:
        cap = timedelta(seconds=max_delay_seconds)
        return cls(
            sign_in=ThrottleRule(free_failures=free_failures, max_delay=cap),
            # One address may hold many people (an office): more slack before it slows.
            address=ThrottleRule(free_failures=free_failures * 4, max_delay=cap),
            step_up=ThrottleRule(free_failures=free_failures, max_delay=cap),
        )
