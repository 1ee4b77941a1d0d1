"""The SDK's calls to the broker, server to server, with the application credential.

Library errors become SDK errors here, once: a network failure or a 5xx is
:class:`~actas_sdk.errors.BrokerUnavailable`, a refused code or handle is
:class:`~actas_sdk.errors.GrantRejected`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from actas_sdk._config import Config
from actas_sdk._meta import __version__
from actas_sdk.errors import (
    LINK_ERRORS,
    BrokerError,
    BrokerUnavailable,
    GrantRejected,
    LinkError,
    LinkRefused,
)

#: Display names are cut to this many characters.
NAME_LIMIT = 120


@dataclass(frozen=True, slots=True)
class Grant:
    """What redeem and refresh return."""

    access_token: str
    expires_at: datetime
    session_id: str
    session_expires_at: datetime
    refresh_handle: str | None
    #: the staff member's display name, for the banner (redeem answers only)
    actor_name: str | None = None
    #: the customer's display name, for the banner (when the broker sends it)
    subject_name: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A link on its way to the subject's verified email. Never the token: it is in the
    customer's inbox only."""

    id: str
    purpose: str
    subject_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RedeemedLink:
    """A link used up: perform ``purpose`` for ``subject_id`` now."""

    id: str
    purpose: str
    subject_id: str
    account_id: str


def _problem_code(response: httpx.Response) -> str:
    """The last segment of a problem's ``type`` (``.../link_used`` -> ``link_used``)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    kind = body.get("type") if isinstance(body, dict) else None
    return kind.rsplit("/", 1)[-1][:60] if isinstance(kind, str) else ""


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return f"HTTP {response.status_code}: {str(body.get('detail', ''))[:200]}"
    return f"HTTP {response.status_code}"


def _name(value: object) -> str | None:
    """A display name from the broker, cut short (it travels in the sealed cookie)."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:NAME_LIMIT]


def _datetime(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise BrokerError(f"the broker's {name} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BrokerError(f"the broker's {name} {value[:40]!r} is not a timestamp") from exc
    if parsed.tzinfo is None:
        raise BrokerError(f"the broker's {name} has no time zone")
    return parsed


class BrokerClient:
    """A small synchronous client; one per :class:`~actas_sdk.ActAs`, shared by threads."""

    def __init__(self, config: Config, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.Client(
            base_url=config.broker_url.rstrip("/"),
            transport=transport,
            timeout=config.timeout_seconds,
            follow_redirects=False,
            headers={
                "Authorization": f"Bearer {config.credential}",
                "User-Agent": f"actas-sdk/{__version__}",
            },
        )

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise BrokerUnavailable(f"{method} {path}: {_problem(response)}")
        return response

    def _json(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise BrokerError(f"the broker's {what} answer is not JSON") from exc
        if not isinstance(body, dict):
            raise BrokerError(f"the broker's {what} answer is not an object")
        return body

    def jwks(self) -> dict[str, Any]:
        response = self._call("GET", "/.well-known/jwks.json")
        if response.status_code != 200:
            raise BrokerError(f"GET jwks: {_problem(response)}")
        return self._json(response, "JWKS")

    def _grant(self, path: str, body: Mapping[str, str]) -> Grant:
        response = self._call("POST", path, json=dict(body))
        if response.status_code in (401, 403):
            raise BrokerError(f"POST {path}: the application credential was refused")
        if 400 <= response.status_code < 500:
            raise GrantRejected(_problem(response))
        if response.status_code != 200:
            raise BrokerError(f"POST {path}: {_problem(response)}")
        data = self._json(response, "token")
        token, session = data.get("access_token"), data.get("session")
        handle = data.get("refresh_handle")
        name, subject_name = data.get("actor_name"), data.get("subject_name")
        if not isinstance(token, str) or not isinstance(session, str):
            raise BrokerError("the broker's token answer lacks access_token or session")
        return Grant(
            access_token=token,
            expires_at=_datetime(data.get("expires_at"), "expires_at"),
            session_id=session,
            session_expires_at=_datetime(data.get("session_expires_at"), "session_expires_at"),
            refresh_handle=handle if isinstance(handle, str) else None,
            actor_name=_name(name),
            subject_name=_name(subject_name),
        )

    def redeem(self, code: str) -> Grant:
        """Exchange a one-time handoff code; it was issued for our configured handoff URL."""
        return self._grant(
            "/v1/handoff/redeem", {"code": code, "handoff_url": self.config.handoff_url}
        )

    def refresh(self, session_id: str, refresh_handle: str) -> Grant:
        return self._grant(
            f"/v1/sessions/{quote(session_id, safe='')}/refresh", {"refresh_handle": refresh_handle}
        )

    def end(self, session_id: str, refresh_handle: str) -> None:
        """The banner's End button: ends the session at the broker."""
        path = f"/v1/sessions/{quote(session_id, safe='')}/app-end"
        response = self._call("POST", path, json={"refresh_handle": refresh_handle})
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403):
            raise GrantRejected(_problem(response))
        if response.status_code != 200:
            raise BrokerError(f"POST {path}: {_problem(response)}")

    def issue_link(self, subject_id: str, purpose: str) -> IssuedLink:
        response = self._call("POST", "/v1/links", json={"subject": subject_id, "purpose": purpose})
        if response.status_code in (401, 403):
            raise BrokerError("POST /v1/links: the application credential was refused")
        if 400 <= response.status_code < 500:
            raise LinkRefused(_problem(response), reason=_problem_code(response))
        if response.status_code != 202:
            raise BrokerError(f"POST /v1/links: {_problem(response)}")
        data = self._json(response, "link")
        ident, subject = data.get("id"), data.get("subject")
        if not isinstance(ident, str) or not isinstance(subject, str):
            raise BrokerError("the broker's link answer lacks id or subject")
        return IssuedLink(
            id=ident,
            purpose=str(data.get("purpose", purpose)),
            subject_id=subject,
            expires_at=_datetime(data.get("expires_at"), "expires_at"),
        )

    def redeem_link(self, token: str, purpose: str) -> RedeemedLink:
        response = self._call("POST", "/v1/links/redeem", json={"token": token, "purpose": purpose})
        if response.status_code in (401, 403):
            raise BrokerError("POST /v1/links/redeem: the application credential was refused")
        if 400 <= response.status_code < 500:
            code = _problem_code(response)
            cls = LINK_ERRORS.get(code)
            if cls is None and code == "unknown_link_purpose":
                raise LinkRefused(_problem(response), reason=code)
            raise (cls or LinkError)(_problem(response))
        if response.status_code != 200:
            raise BrokerError(f"POST /v1/links/redeem: {_problem(response)}")
        data = self._json(response, "link")
        values = [data.get(k) for k in ("id", "purpose", "subject", "account")]
        if not all(isinstance(v, str) and v for v in values):
            raise BrokerError("the broker's redeem answer lacks id, purpose, subject or account")
        ident, used_for, subject, account = (str(v) for v in values)
        if used_for != purpose:
            raise LinkError("the broker redeemed the link for another purpose")
        return RedeemedLink(id=ident, purpose=used_for, subject_id=subject, account_id=account)

    def send_events(self, body: bytes) -> httpx.Response:
        """Post one batch of audit events (``{"events": [...]}``, already JSON); the caller
        reads the status (see the spool)."""
        return self._call(
            "POST",
            "/v1/audit/app-events",
            content=body,
            headers={"Content-Type": "application/json"},
        )

    @contextlib.contextmanager
    def revocation_stream(
        self, last_event_id: str | None, *, read_timeout: float
    ) -> Iterator[httpx.Response]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        timeout = httpx.Timeout(self.config.timeout_seconds, read=read_timeout)
        try:
            with self._http.stream(
                "GET", "/v1/revocations", headers=headers, timeout=timeout
            ) as response:
                yield response
        except httpx.HTTPError as exc:
            raise BrokerUnavailable(f"GET /v1/revocations: {type(exc).__name__}") from exc
