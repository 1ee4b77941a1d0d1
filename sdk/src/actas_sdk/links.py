"""The landing page of one-time links: ``<sdk dir>/link?t=<token>`` (``/actas/link``).

The broker emails the customer a link beside the application's handoff URL. The SDK answers it:

- ``GET``: a small confirmation page with one button. Nothing is redeemed: mail scanners and
  link previews fetch every URL in a message, and a GET that used the link would spend it
  before the customer ever saw it.
- ``POST`` (the button; the token in a hidden field): only from this application's own page
  (``Sec-Fetch-Site: same-origin``, or, from a browser that does not send it, an ``Origin``
  equal to ``Host``), so another site cannot make a visitor's browser redeem the attacker's own
  magic sign-in link (login CSRF). Then the link is redeemed at the broker, and the handler
  the application registered for the link's purpose gets the :class:`RedeemedLink` and answers
  with a :class:`LinkLanding`: where to send the customer (the app's own set-new-password page,
  say) and any headers (the app's short-lived reset grant as a cookie).

Register a handler per purpose; a purpose without one is never redeemed here::

    @actas.on_link("password_reset")
    def reset(link: RedeemedLink) -> LinkLanding:
        return LinkLanding("/reset", [("Set-Cookie", grant_cookie(link.subject_id))])

Every answer carries ``Cache-Control: no-store`` and ``Referrer-Policy: no-referrer``, so the
token in the URL is neither cached nor sent on to another site. A link that cannot be used
gets a page naming why (expired or replaced, used, for something else, unknown) and the way on.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from actas_sdk import _replies, errors
from actas_sdk._replies import Reply
from actas_sdk.client import RedeemedLink

if TYPE_CHECKING:
    from actas_sdk._runtime import ActAs

log = logging.getLogger("actas_sdk")

#: The broker's token prefix of each purpose (the broker's ``LINK_PREFIXES``, mirrored: the
#: SDK never imports the broker). The prefix names the purpose, so the page can say what the
#: link does, and a purpose the app has no handler for is refused before the broker is asked.
PREFIXES: dict[str, str] = {
    "actas_lpw_": "password_reset",
    "actas_lms_": "magic_signin",
    "actas_lec_": "email_confirmation",
    "actas_lar_": "account_recovery",
}
_TOKEN = re.compile(r"^actas_l[a-z]{2}_[A-Za-z0-9_-]{43}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

#: purpose -> (page title, what pressing the button does, the button)
PROMPTS: dict[str, tuple[str, str, str]] = {
    "password_reset": (
        "Reset your password",
        "You asked to reset your password. Press the button to choose a new one.",
        "Continue to reset my password",
    ),
    "magic_signin": (
        "Sign in",
        "You asked for a sign-in link. Press the button to sign in.",
        "Sign me in",
    ),
    "email_confirmation": (
        "Confirm your email address",
        "Press the button to confirm that this email address is yours.",
        "Confirm my email address",
    ),
    "account_recovery": (
        "Recover your account",
        "You asked to recover your account. Press the button to go on.",
        "Continue to recover my account",
    ),
}


@dataclass(frozen=True, slots=True)
class LinkLanding:
    """The application's answer to a redeemed link: a 303 to ``location`` with ``headers``
    (``Set-Cookie`` of its own grant, say). The SDK adds no-store and no-referrer."""

    location: str
    headers: Sequence[tuple[str, str]] = ()


#: What the application registers per purpose (:meth:`ActAs.on_link`).
LinkHandler = Callable[[RedeemedLink], LinkLanding]

_SEND_NEW = "Ask for a new link from the page where you asked for this one."

#: cause -> (status, what happened, what to do next)
CAUSES: dict[str, tuple[int, str, str]] = {
    "link_expired": (
        410,
        "This link has expired, or a newer link replaced it: only the newest link works, "
        "for a few minutes.",
        _SEND_NEW,
    ),
    "link_used": (410, "This link was already used: each link works once.", _SEND_NEW),
    "link_wrong_purpose": (
        400,
        "This link was made for something else and cannot be used here.",
        "Open the newest link from the email about what you asked for.",
    ),
    "link_unknown": (
        400,
        "This link is not valid: it may have been cut short when it was copied.",
        "Open the link from your email again, or ask for a new one.",
    ),
    "link_not_here": (
        404,
        "This application does not accept this kind of link.",
        "Open the newest link from the email about what you asked for.",
    ),
    "link_cross_site": (
        403,
        "The confirmation did not come from this application's own page, so nothing was done.",
        "Open the link from your email again and press the button on that page.",
    ),
    "unavailable": (
        503,
        "The link cannot be checked right now.",
        "Try the link again in a moment: it has not been used up.",
    ),
}


def purpose_of(token: str | None) -> str | None:
    """The purpose a well-formed token names, else None."""
    if not token or len(token) > 100 or not _TOKEN.match(token):
        return None
    return PREFIXES.get(token[:10])


def cause_of(error: errors.LinkError) -> str:
    if isinstance(error, errors.LinkExpired):
        return "link_expired"
    if isinstance(error, errors.LinkUsed):
        return "link_used"
    if isinstance(error, errors.LinkWrongPurpose):
        return "link_wrong_purpose"
    return "link_unknown"


def same_origin(header: Callable[[str], str | None]) -> bool:
    """Whether a POST came from a page of this application (fail closed when unsure)."""
    site = header("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin, host = header("Origin"), header("Host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def landing(
    actas: ActAs,
    method: str,
    *,
    query: Callable[[str], str | None],
    form: Callable[[str], str | None],
    header: Callable[[str], str | None],
) -> Reply:
    """Answer ``GET`` (the confirmation page) or ``POST`` (redeem, then the app's handler)."""
    if method == "GET":
        token = query("t")
        purpose = purpose_of(token)
        if token is None or purpose is None:
            return _failed(actas, "link_unknown")
        if purpose not in actas.link_handlers:
            return _failed(actas, "link_not_here")
        return _replies.html_page(200, _confirm_page(actas, purpose, token))
    if method != "POST":
        return _replies.empty(405, "GET, POST")
    if not same_origin(header):
        return _failed(actas, "link_cross_site")
    token = form("t")
    purpose = purpose_of(token)
    if token is None or purpose is None:
        return _failed(actas, "link_unknown")
    handler = actas.link_handlers.get(purpose)
    if handler is None:
        return _failed(actas, "link_not_here")
    try:
        redeemed = actas.client.redeem_link(token, purpose)
    except errors.LinkError as exc:
        return _failed(actas, cause_of(exc))
    except errors.ActAsError as exc:
        log.warning("link redemption failed: %s", exc)
        return _failed(actas, "unavailable")
    answer = handler(redeemed)
    if not answer.location or _CONTROL.search(answer.location):
        raise errors.ConfigError("a link handler answered with an unusable location")
    return _replies.redirect(answer.location, list(answer.headers))


def _failed(actas: ActAs, cause: str) -> Reply:
    status, text, next_step = CAUSES[cause]
    body = f'<p class="cause">{html.escape(text)}</p><p class="next">{html.escape(next_step)}</p>'
    return _replies.html_page(status, _document(actas, "This link cannot be used", cause, body))


def _confirm_page(actas: ActAs, purpose: str, token: str) -> bytes:
    e = html.escape
    title, text, button = PROMPTS[purpose]
    body = (
        f'<p class="cause">{e(text)}</p>'
        '<p class="next">Nothing happens until you press the button. If you did not ask for '
        "this, close this page: nothing will change.</p>"
        f'<form method="post" action="{e(actas.config.link_route)}" class="actions">'
        f'<input type="hidden" name="t" value="{e(token)}">'
        f'<button type="submit" class="primary">{e(button)}</button></form>'
    )
    return _document(actas, title, "confirm", body)


def _document(actas: ActAs, title: str, cause: str, body: str) -> bytes:
    """A customer-facing page in the SDK's style (no console link: this is the customer)."""
    e = html.escape
    home = actas.config.link_home
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title>"
        f'<link rel="stylesheet" href="{e(actas.links.stylesheet)}"></head>'
        f'<body><main class="actas-page actas-link" data-cause="{e(cause)}">'
        f"<h1>{e(title)}</h1>{body}"
        f'<p class="home"><a class="secondary" href="{e(home)}">Back to the application</a></p>'
        "</main></body></html>"
    )
    return page.encode("utf-8")
