"""The host application's side and the customer's: tokens, grants, codes, policy, history."""

from __future__ import annotations

from datetime import datetime

from actas.api.responses import Out
from actas.api.responses.access import SessionOut


class TokenOut(Out):
    """An actor token for the host app (RFC 8693 field names); the optional fields are present
    only when the broker has them."""

    access_token: str
    token_type: str
    issued_token_type: str
    expires_in: int
    expires_at: datetime
    session: str
    session_expires_at: datetime
    refresh_handle: str | None = None
    actor_name: str | None = None
    subject_name: str | None = None


class AppEventsOut(Out):
    received: int
    appended: int


class GrantOut(Out):
    id: str
    account: str
    granted_by: str
    source: str
    read_only: bool
    scopes: list[str]
    created_at: datetime
    expires_at: datetime
    case: str | None
    staff: str | None
    revoked_at: datetime | None


class GrantsOut(Out):
    grants: list[GrantOut]


class CodeOut(Out):
    """A support access code; ``code`` itself is shown this once, to the customer."""

    code: str
    id: str
    issued_at: datetime
    expires_at: datetime
    grant_minutes: int
    read_only: bool
    used_at: datetime | None
    locked_at: datetime | None


class PolicyOut(Out):
    account: str
    rule: str
    notify_every_session: bool
    contract_access: bool
    updated_at: datetime | None


class HistorySessionOut(SessionOut):
    staff_name: str
    staff_roles: list[str]
    approved_by: list[str]
    reason_code: str
    viewed: list[str]
    written: list[str]


class HistoryOut(Out):
    sessions: list[HistorySessionOut]


class FlagsOut(Out):
    application: str
    account: str
    flags: list[str]


class PageCodeOut(Out):
    """A one-time sign-in to the customer page: the URL to send the customer's browser to."""

    url: str
    code: str
    expires_at: datetime


class AskedOut(Out):
    """The consent request is queued: ``email`` is its outbox row (sent only once delivered)."""

    email: str
