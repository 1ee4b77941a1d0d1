"""Staff accounts: the rules of sign-in codes, staff sessions and who may administer whom."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from actas.domain.emails import normalise_email as normalise_email
from actas.domain.errors import Conflict, Forbidden, InvalidInput
from actas.domain.roles import Role

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
#: A TOTP code: exactly six ASCII digits. ``str.isdigit`` and ``\d`` also take superscripts,
#: Arabic-Indic or fullwidth digits, which no authenticator shows and ``hmac.compare_digest``
#: refuses with a TypeError (finding 1): such a code is simply wrong.
TOTP_CODE_RE = re.compile(r"[0-9]{6}", re.ASCII)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"password has {len(password)} characters; at least {MIN_PASSWORD}")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"password is longer than {MAX_PASSWORD} characters")


def is_totp_code(code: str) -> bool:
    """True for six ASCII digits and nothing else (no sign, space or lookalike digit)."""
    return TOTP_CODE_RE.fullmatch(code) is not None


@dataclass(frozen=True)
class Staff:
    id: str
    email: str
    display_name: str
    roles: frozenset[Role]
    password_hash: str
    #: The authenticator seed as stored: sealed (``enc:v1:<kid>:...``) by the TOTP adapter, or
    #: plain base32 in rows written before migration 0004 until they are sealed.
    totp_secret: str = field(repr=False)
    totp_last_step: int | None
    disabled_at: datetime | None
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def is_active_admin(self) -> bool:
        return self.active and Role.ADMIN in self.roles

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


def check_admin_change(
    *,
    actor_id: str | None,
    member: Staff,
    roles_after: frozenset[Role],
    active_after: bool,
    active_admins: frozenset[str],
) -> None:
    """Refuse a change that would leave the broker with nobody to administer it (finding 11).

    Nobody disables their own account: another admin must do it, so it takes two. No change
    may take the admin role from, or disable, the last active admin, whoever asks (the CLI
    included: it adds another admin first). ``active_admins`` are the ids of the active admins
    as read, under lock, in the transaction that makes the change.
    """
    if actor_id == member.id and member.active and not active_after:
        raise Forbidden("you cannot disable your own account; another admin must do it")
    stays_admin = active_after and Role.ADMIN in roles_after
    if member.is_active_admin and not stays_admin and not active_admins - {member.id}:
        raise Conflict(f"{member.email} is the last active admin; make someone else an admin first")
