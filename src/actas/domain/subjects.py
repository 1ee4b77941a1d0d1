"""Applications, accounts and subjects: the broker's mirror of the customer's side."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from actas.domain.errors import InvalidInput

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
APP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class AccountFlag(StrEnum):
    NO_ACCESS = "no_access"
    REGULATED = "regulated"
    ENHANCED_CONTROLS = "enhanced_controls"
    FLAGGED = "flagged"


def check_external_id(kind: str, value: str) -> str:
    if not ID_RE.match(value):
        raise InvalidInput(
            f"{kind} id {value[:40]!r} must be 1-128 characters of letters, digits and ._:@-"
        )
    return value


def check_app_id(value: str) -> str:
    if not APP_ID_RE.match(value):
        raise InvalidInput(
            f"application id {value[:40]!r} must be 2-63 lowercase letters, digits or '-'"
        )
    return value


@dataclass(frozen=True)
class Application:
    id: str
    name: str
    handoff_url: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class Account:
    application_id: str
    id: str
    name: str
    flags: frozenset[AccountFlag]
    handoff_url: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Subject:
    application_id: str
    id: str
    account_id: str
    email: str | None
    email_verified: bool
    display_name: str
    privileged: bool
    updated_at: datetime
