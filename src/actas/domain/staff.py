"""Staff accounts: the rules of sign-in, lockout and staff sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from actas.domain.emails import normalise_email as normalise_email
from actas.domain.errors import InvalidInput
from actas.domain.roles import Role

MIN_PASSWORD = 12
MAX_PASSWORD = 1024


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password has {len(password)} characters; at least {MIN_PASSWORD}")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password is longer than {MAX_PASSWORD} characters")


@dataclass(frozen=True)
class Staff:
    id: str
    email: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    totp_secret: str
    totp_last_step: int | None
    failed_logins: int
    locked_until: datetime | None
    disabled_at: datetime | None
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def has_any(self, roles: frozenset[Role]) -> bool:
        return bool(self.roles & roles)


@dataclass(frozen=True)
class StaffSession:
    id: str
    staff_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None

    def live_at(self, now: datetime, *, idle: timedelta) -> bool:
        return self.revoked_at is None and self.expires_at > now and self.last_seen_at + idle > now


@dataclass(frozen=True)
class LockoutRule:
    threshold: int
    seconds: int

    def lock_after(self, failed_logins: int, now: datetime) -> datetime | None:
        """The lock time that a failure brings, if it reaches the threshold."""
        if failed_logins >= self.threshold:
            return now + timedelta(seconds=self.seconds)
        return None
