"""Staff roles. A staff member may hold several; routes name the roles they accept."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    AGENT = "agent"
    LEAD = "lead"
    ENGINEER = "engineer"
    SECURITY = "security"
    ADMIN = "admin"


def parse_role(text: str) -> Role:
    from actas.domain.errors import InvalidInput

    try:
        return Role(text)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {text!r}; expected one of {allowed}") from None
