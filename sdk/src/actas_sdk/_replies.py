"""Framework-neutral responses the SDK answers with itself; each adapter converts them."""

from __future__ import annotations

import html
import json
from typing import NamedTuple

from actas_sdk.banner import ended_page
from actas_sdk.errors import ActAsError, AuditUnavailable, Refused

NO_STORE = [
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Content-Type-Options", "nosniff"),
]


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def _html(status: int, body: bytes, extra: list[tuple[str, str]]) -> Reply:
    headers = [("Content-Type", "text/html; charset=utf-8"), *NO_STORE, *extra]
    headers.append(("Content-Length", str(len(body))))
    return Reply(status, headers, body)


def _problem(
    status: int, code: str, title: str, detail: str, extra: list[tuple[str, str]]
) -> Reply:
    body = json.dumps(
        {
            "type": f"https://actas.dev/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        }
    ).encode()
    headers = [("Content-Type", "application/problem+json"), *NO_STORE, *extra]
    headers.append(("Content-Length", str(len(body))))
    return Reply(status, headers, body)


def ended(error: ActAsError, *, api: bool, clear_cookie: str | None) -> Reply:
    """The impersonation stops: 401 (503 while the audit spool is full), cookie cleared."""
    status = 503 if isinstance(error, AuditUnavailable) else 401
    extra: list[tuple[str, str]] = []
    if clear_cookie is not None and status == 401:
        extra.append(("Set-Cookie", clear_cookie))
    if api:
        if status == 401:
            extra.append(("WWW-Authenticate", f'Bearer error="invalid_token", code="{error.code}"'))
        return _problem(status, error.code, "Support session ended", error.message, extra)
    return _html(status, ended_page(error.code), extra)


def refused(error: Refused, *, api: bool) -> Reply:
    if api:
        return _problem(403, error.code, "Not allowed during a support session", error.message, [])
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Not allowed</title>"
        "</head><body><h1>Not allowed during a support session</h1>"
        f"<p>{html.escape(error.message)}</p></body></html>"
    ).encode()
    return _html(403, body, [])


def handoff_failed(status: int, message: str) -> Reply:
    body = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Support link not valid</title></head><body>"
        f"<h1>This support link cannot be used</h1><p>{html.escape(message)}</p>"
        "<p>Start the session again from the support console.</p></body></html>"
    ).encode()
    return _html(status, body, [])


def redirect(location: str, extra: list[tuple[str, str]]) -> Reply:
    return Reply(303, [("Location", location), *NO_STORE, *extra, ("Content-Length", "0")], b"")
