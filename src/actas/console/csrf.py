"""Cross-site request forgery defences for the console's forms.

Signed in, every form carries a synchronizer token bound to the staff session: an HMAC of the
session cookie's value, keyed by that value. It needs no secret shared between replicas and
no storage, it changes at every sign-in (the service issues a new session token each time),
and it reveals nothing about the cookie. Forms send it in a hidden field; htmx sends it in a
header (``hx-headers`` on ``<body>``).

Before sign-in there is no session to bind to, so the sign-in form uses a double-submit
cookie: a random value in a ``__Host-`` cookie (which no sibling host can plant) that the
form must repeat.

Either way, a request that a browser marks as cross-site (``Sec-Fetch-Site``) or that comes
from another origin (``Origin``) is refused before its token is looked at.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

FIELD = "csrf_token"
HEADER = "x-csrf-token"
#: The sign-in form's double-submit cookie. ``__Host-``: Secure, path ``/``, no Domain.
LOGIN_COOKIE = "__Host-actas_login"
_CONTEXT = b"actas-console-csrf-v1"
_MAX_TOKEN = 200


def session_token(session_cookie: str) -> str:
    """The form token for the staff session whose cookie holds ``session_cookie``."""
    mac = hmac.new(session_cookie.encode("utf-8"), _CONTEXT, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a missing, empty or oversized token never matches."""
    if not expected or not given or len(given) > _MAX_TOKEN:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def cross_site(headers: Mapping[str, str], public_origin: str) -> str | None:
    """Why the request looks cross-site, or None. Headers a browser did not send are not held
    against the request: the token check still applies."""
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in {"same-origin", "none"}:
        return f"the browser marked the request {fetch_site[:20]}"
    origin = headers.get("origin")
    if origin is not None and origin.lower() != public_origin:
        return "the request came from another origin"
    return None
