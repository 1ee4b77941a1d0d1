"""The SDK's own pages (a refused action, a handoff link that cannot be used, a session that
has ended) and the causes they name.

Every page says which cause it was and what to do next, links back to the support console,
and is styled by the SDK's own stylesheet (no inline script; the pages carry their own
Content-Security-Policy). Where the session is still live the caller injects the banner, so
End stays in reach.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

from actas_sdk import errors


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a page is shown: a stable code, a sentence for people and the next step."""

    code: str
    text: str
    next_step: str


_CONSOLE_NEXT = "Go back to the support console to see the session and the case."
#: A live session is never lost with its link: its owner gets a new one (``session.reopened``).
_REOPEN = (
    "If the session is still live, open it again from the console's session page "
    "(Open it again, with a fresh authenticator code) for a new link."
)

CAUSES: dict[str, Cause] = {
    cause.code: cause
    for cause in (
        Cause("ended", "The support session was ended.", _CONSOLE_NEXT),
        Cause(
            "revoked",
            "The support session was revoked (by a lead, security, an admin or the customer).",
            "The case in the support console shows who revoked it and why.",
        ),
        Cause(
            "case_closed",
            "The case was closed, which ended its support session.",
            _CONSOLE_NEXT,
        ),
        Cause(
            "expired",
            "The support session reached its time limit.",
            "To go on helping, ask for more time from the case in the support console.",
        ),
        Cause(
            "idle",
            "The support session ended after a period without activity.",
            "To go on helping, ask for a new session from the case in the support console.",
        ),
        Cause(
            "unconfirmed",
            "This application could not confirm with the support service that the session "
            "is still valid, so it ended the session to be safe.",
            "Try again in a minute from the support console; if it keeps happening, tell "
            "whoever runs this application.",
        ),
        Cause(
            "paused",
            "This application cannot record the session's activity right now, so it paused "
            "the session.",
            "Try again in a minute; if it keeps happening, tell whoever runs this application.",
        ),
        Cause(
            "not_loaded",
            "The customer's account could not be opened in this application.",
            "Check in the support console that the session is for the right customer.",
        ),
        Cause(
            "invalid",
            "The session's credentials could not be verified.",
            _REOPEN,
        ),
        Cause(
            "used",
            "This link was already used: each link works once.",
            _REOPEN,
        ),
        Cause(
            "link_expired",
            "This link has expired: links work for about a minute.",
            _REOPEN,
        ),
        Cause(
            "used_or_expired",
            "This link was already used, has expired (links work once, for about a minute), "
            "or was made for another application.",
            _REOPEN,
        ),
        Cause(
            "other_app",
            "This link was made for another application.",
            "Open the session from the support console, which sends you to the right application.",
        ),
        Cause(
            "no_code",
            "The link has no valid code: it may have been cut short when it was copied.",
            _REOPEN,
        ),
        Cause(
            "unavailable",
            "The support service cannot be reached from this application right now.",
            "Try the link again in a moment.",
        ),
        Cause(
            "scope",
            "This action changes data, and this session was not granted that.",
            "Guide the customer to do it, or ask for a session with the scope it needs "
            "(a new request on the case in the support console).",
        ),
        Cause(
            "assist",
            "In an assist session you act as yourself, not as the customer: only the admin "
            "actions the session names can run here.",
            "Use the application's support admin page, or ask for an impersonate session "
            "on the case in the support console to see what the customer sees.",
        ),
        Cause(
            "protected",
            "This action changes the customer's credentials or identity: it is never "
            "allowed during a support session, whatever the scopes.",
            "Ask the customer to do it themselves, or send them a one-time link from the "
            "support console.",
        ),
        Cause(
            "csrf",
            "The End request did not come from this application's own banner.",
            "Use the End button on the banner of this application's pages.",
        ),
    )
}

#: Revocation reasons (the broker's end reasons, and the SDK's own) -> causes.
_REVOCATION_CAUSES = {
    "ended_by_staff": "ended",
    "ended": "ended",
    "refresh refused": "ended",
    "expired": "expired",
    "idle_timeout": "idle",
    "case_closed": "case_closed",
    "revoked": "revoked",
    "staff_disabled": "revoked",
}


def revocation_cause(reason: str) -> str:
    return _REVOCATION_CAUSES.get(reason, "revoked")


def cause_of(error: errors.ActAsError) -> str:
    """The cause to show for an error that ends (or pauses) the impersonation."""
    if isinstance(error, errors.SessionRevoked):
        return revocation_cause(error.reason)
    if isinstance(error, errors.SessionEnded):
        message = error.message
        for word, cause in (
            ("expir", "expired"),
            ("idle", "idle"),
            ("revoked", "revoked"),
            ("case_closed", "case_closed"),
        ):
            if word in message:
                return cause
        return "ended"
    if isinstance(error, errors.TokenExpired):
        return "expired"
    if isinstance(error, errors.FeedStale):
        return "unconfirmed"
    if isinstance(error, errors.AuditUnavailable):
        return "paused"
    if isinstance(error, errors.SubjectNotLoaded):
        return "not_loaded"
    if isinstance(error, errors.BrokerError):
        return "unavailable"
    return "invalid"


def handoff_cause(detail: str) -> str:
    """The cause of a refused handoff code, from the broker's problem ``detail``: it says
    "unknown, used, expired or not yours" when it cannot tell (a code is only stored as a
    hash), or "the session has ended"."""
    text = detail.lower()
    if "ended" in text:
        return "ended"
    if "revoked" in text:
        return "revoked"
    used, expired = "used" in text, "expired" in text
    other = "not yours" in text or "does not match" in text or "another app" in text
    if used + expired + other > 1 or "unknown" in text:
        return "used_or_expired"
    if used:
        return "used"
    if expired:
        return "link_expired"
    if other:
        return "other_app"
    return "used_or_expired"


#: The Content-Security-Policy of the SDK's pages: its own script and stylesheet only (the
#: banner's shadow root and host element need inline styles; no inline script anywhere).
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def document(
    *,
    title: str,
    cause: Cause,
    detail: str | None,
    console_url: str,
    stylesheet: str,
    extra_action: tuple[str, str] | None = None,
) -> bytes:
    """A whole page: heading, the cause, an optional detail, the next step and links."""
    e = html.escape
    actions = [f'<a class="primary" href="{e(console_url)}">Back to the support console</a>']
    if extra_action is not None:
        href, label = extra_action
        actions.insert(0, f'<a class="primary" href="{e(href)}">{e(label)}</a>')
        actions[1] = actions[1].replace('class="primary"', 'class="secondary"')
    more = f'<p class="detail">{e(detail)}</p>' if detail else ""
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="robots" content="noindex">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(title)}</title>"
        f'<link rel="stylesheet" href="{e(stylesheet)}"></head>'
        f'<body><main class="actas-page" data-cause="{e(cause.code)}">'
        f"<h1>{e(title)}</h1>"
        f'<p class="cause">{e(cause.text)}</p>{more}'
        f'<p class="next">{e(cause.next_step)}</p>'
        f'<p class="actions">{"".join(actions)}</p>'
        "</main></body></html>"
    )
    return page.encode("utf-8")


STYLESHEET = b"""\
body{margin:0;background:#f6f6f4;color:#1d1d1f;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.actas-page{max-width:36rem;margin:5rem auto;padding:2rem 2.25rem;background:#fff;
border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12);border-top:6px solid #8a1020}
.actas-page h1{font-size:1.4rem;margin:0 0 .75rem}
.actas-page .cause{font-weight:600}
.actas-page .detail{color:#555;font-size:.9rem}
.actas-page .actions{margin:1.5rem 0 0;display:flex;gap:.75rem;flex-wrap:wrap}
.actas-page a{display:inline-block;padding:.5rem 1rem;border-radius:6px;text-decoration:none;
font-weight:600}
.actas-page a.primary{background:#8a1020;color:#fff}
.actas-page a.secondary{color:#8a1020;border:1px solid #8a1020}
.actas-page button.primary{background:#8a1020;color:#fff;border:0;border-radius:6px;
padding:.6rem 1.1rem;font:inherit;font-weight:600;cursor:pointer}
.actas-page button:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
.actas-link{border-top-color:#1a5fb4}
.actas-page a:focus-visible{outline:3px solid #1a5fb4;outline-offset:2px}
"""
STYLESHEET_VERSION = hashlib.sha256(STYLESHEET).hexdigest()[:12]
