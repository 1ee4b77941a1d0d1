"""Request and response bodies. Unknown fields are refused, lengths are bounded."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: A URL as it may enter: printable ASCII, no spaces, no CR/LF/TAB/NUL (finding 9). The same
#: rule as ``domain.subjects.check_url_text``, stated for the OpenAPI document and the door.
URL_PATTERN = r"^[!-~]+$"


class LoginIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=6, max_length=8)


class LoginOut(Strict):
    token: str
    token_type: str = "Bearer"
    expires_at: datetime
    staff_id: str
    roles: list[Role]


class StaffOut(Strict):
    id: str
    email: str
    display_name: str
    roles: list[Role]
    disabled: bool


class StaffIn(Strict):
    email: str = Field(min_length=3, max_length=320)
    display_name: str = Field(default="", max_length=200)
    roles: list[Role] = Field(min_length=1, max_length=5)
    password: str = Field(min_length=12, max_length=1024)


class EnrollmentOut(Strict):
    staff: StaffOut
    otpauth_uri: str


class RolesIn(Strict):
    roles: list[Role] = Field(min_length=1, max_length=5)


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    flags: list[AccountFlag] = Field(default_factory=list, max_length=4)
    handoff_url: str | None = Field(default=None, max_length=2000, pattern=URL_PATTERN)


class AccountOut(Strict):
    id: str
    application: str
    name: str
    flags: list[AccountFlag]
    handoff_url: str | None
    updated_at: datetime


class SubjectIn(Strict):
    account: str = Field(min_length=1, max_length=128)
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool = False
    display_name: str = Field(min_length=1, max_length=200)
    privileged: bool = False


class SubjectOut(Strict):
    id: str
    application: str
    account: str
    email: str | None
    email_verified: bool
    display_name: str
    privileged: bool
    updated_at: datetime


class AuditPage(Strict):
    events: list[dict[str, object]]
    next_after_seq: int | None
