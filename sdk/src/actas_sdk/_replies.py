"""Framework-neutral responses the SDK answers with itself; each adapter converts them."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from actas_sdk import _pages
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


class Links(NamedTuple):
    """Where the SDK's pages point: the broker's console and the SDK's stylesheet."""

    console: str
    stylesheet: str


def html_page(status: int, body: bytes, extra: list[tuple[str, str]] | None = None) -> Reply:
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        *NO_STORE,
        ("Content-Security-Policy", _pages.PAGE_CSP),
        *(extra or []),
    ]
    headers.append(("Content-Length", str(len(body))))
    return Reply(status, headers, body)


def json_reply(status: int, data: Any, content_type: str = "application/json") -> Reply:
    body = json.dumps(data).encode()
    headers = [("Content-Type", content_type), *NO_STORE, ("Content-Length", str(len(body)))]
    return Reply(status, headers, body)


def _problem(
    status: int, code: str, title: str, detail: str, cause: str, extra: list[tuple[str, str]]
) -> Reply:
    reply = json_reply(
        status,
        {
            "type": f"https://actas.dev/problems/{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "cause": cause,
        },
        "application/problem+json",
    )
    return Reply(status, reply.headers[:-1] + extra + reply.headers[-1:], reply.body)


def cause_page(
    status: int,
    title: str,
    cause: str,
    links: Links,
    *,
    detail: str | None = None,
    extra_action: tuple[str, str] | None = None,
) -> bytes:
    return _pages.document(
        title=title,
        cause=_pages.CAUSES[cause],
        detail=detail,
        console_url=links.console,
        stylesheet=links.stylesheet,
        extra_action=extra_action,
    )


def ended(error: ActAsError, *, api: bool, clear_cookie: str | None, links: Links) -> Reply:
    """The impersonation stops: 401 (503 while the audit spool is full), cookie cleared. The
    page names the cause and links back to the console; no banner (nothing is live)."""
    status = 503 if isinstance(error, AuditUnavailable) else 401
    cause = _pages.cause_of(error)
    extra: list[tuple[str, str]] = []
    if clear_cookie is not None and status == 401:
        extra.append(("Set-Cookie", clear_cookie))
    if api:
        if status == 401:
            extra.append(("WWW-Authenticate", f'Bearer error="invalid_token", code="{error.code}"'))
        return _problem(status, error.code, "Support session ended", error.message, cause, extra)
    title = "Support session paused" if status == 503 else "Support session ended"
    return html_page(status, cause_page(status, title, cause, links), extra)


def refusal_cause(error: Refused) -> str:
    reason = error.reason
    return "protected" if reason.startswith("protected:") else reason


def refused_problem(error: Refused) -> Reply:
    return _problem(
        403,
        error.code,
        "Not allowed during a support session",
        error.message,
        refusal_cause(error),
        [],
    )


def refused_page(error: Refused, links: Links) -> bytes:
    """The 403 page; the caller injects the banner (the session is still live)."""
    return cause_page(
        403,
        "Not allowed during a support session",
        refusal_cause(error),
        links,
        detail=error.message,
    )


def asset(content_type: str, body: bytes) -> Reply:
    """One of the SDK's static files, cacheable (its URL carries a version)."""
    headers = [
        ("Content-Type", content_type),
        ("Cache-Control", "public, max-age=86400"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Length", str(len(body))),
    ]
    return Reply(200, headers, body)


def empty(status: int, allow: str) -> Reply:
    return Reply(status, [("Allow", allow), ("Content-Length", "0")], b"")


def redirect(location: str, extra: list[tuple[str, str]]) -> Reply:
    return Reply(303, [("Location", location), *NO_STORE, *extra, ("Content-Length", "0")], b"")
