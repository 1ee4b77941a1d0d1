"""The impersonation banner, the page shown when a support session ends, and HTML surgery.

The banner lives in a shadow root (declarative, with a script fallback), so the page's CSS
cannot restyle its inside; its host element carries its position and visibility as inline
``!important`` declarations, which no stylesheet of the page can override, and its script
moves it out of ``<body>`` (so styles on the body cannot hide it either) and counts the time
left down from a server-side figure (so the staff member's clock does not matter).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Sequence
from datetime import datetime

from actas_sdk.context import ImpersonationContext

HEIGHT = 40
_HOST_STYLE = (
    "all:initial!important;display:block!important;position:fixed!important;"
    "top:0!important;left:0!important;right:0!important;bottom:auto!important;"
    f"height:{HEIGHT}px!important;width:auto!important;margin:0!important;"
    "z-index:2147483647!important;visibility:visible!important;opacity:1!important;"
    "transform:none!important;clip-path:none!important;filter:none!important;"
    "pointer-events:auto!important;overflow:visible!important"
)
_STYLE = f"""
:host{{all:initial}}
.bar{{box-sizing:border-box;height:{HEIGHT}px;display:flex;align-items:center;gap:16px;
padding:0 16px;background:#8a1020;color:#fff;font:14px/1.2 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;box-shadow:0 2px 6px rgba(0,0,0,.35)}}
.bar strong{{font-weight:700;letter-spacing:.02em;text-transform:uppercase;font-size:12px}}
.who b{{font-weight:600}} .left{{margin-left:auto;font-variant-numeric:tabular-nums}}
form{{margin:0}} button{{font:inherit;font-weight:600;color:#8a1020;background:#fff;border:0;
border-radius:4px;padding:6px 12px;cursor:pointer}}
"""
_SCRIPT = """(function(){var h=document.getElementById(%(id)s);if(!h)return;
var r=h.shadowRoot;if(!r){var t=h.querySelector('template');
if(t&&h.attachShadow){r=h.attachShadow({mode:'open'});r.appendChild(t.content);t.remove();}}
var d=document.documentElement;d.appendChild(h);
if(window.MutationObserver){new MutationObserver(function(){if(h.parentNode!==d)d.appendChild(h);})
.observe(d,{childList:true});}
var el=r&&r.querySelector('time');if(!el)return;var end=Date.now()+%(left)d*1000;
function f(s){var m=Math.floor(s/60),x=s%%60;return m+':'+(x<10?'0':'')+x;}
function tick(){var s=Math.max(0,Math.round((end-Date.now())/1000));el.textContent=f(s);
if(s<=0){clearInterval(i);location.reload();}}var i=setInterval(tick,1000);tick();})();"""

_SCRIPT_TAG = re.compile(rb"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_BODY_OPEN = re.compile(rb"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(rb"</body\s*>", re.IGNORECASE)
_DOCUMENT = re.compile(rb"<(?:html|body)\b", re.IGNORECASE)
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=_-]{8,200})'")


def csp_nonce(policy: str | None, directive: str) -> str | None:
    """The nonce a Content-Security-Policy allows for ``directive`` (or ``default-src``)."""
    if not policy:
        return None
    found: dict[str, str] = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        if (match := _NONCE.search(value)) is not None:
            found.setdefault(name.lower(), match.group(1))
    return found.get(directive) or found.get("default-src")


def _clock(seconds: int) -> str:
    minutes, rest = divmod(max(0, seconds), 60)
    return f"{minutes}:{rest:02d}"


def _e(text: str) -> str:
    return html.escape(text, quote=True).encode("ascii", "xmlcharrefreplace").decode()


def render(
    context: ImpersonationContext,
    *,
    now: float,
    end_path: str,
    csrf: str,
    script_nonce: str | None = None,
    style_nonce: str | None = None,
) -> bytes:
    """The banner's markup for one response."""
    ident = "actas-banner-" + secrets.token_hex(6)
    ends: datetime = context.ends_at
    left = int(ends.timestamp() - now)
    until = ends.strftime("%H:%M UTC")
    script_attr = f' nonce="{_e(script_nonce)}"' if script_nonce else ""
    style_attr = f' nonce="{_e(style_nonce)}"' if style_nonce else ""
    script = _SCRIPT % {"id": f"'{ident}'", "left": left}
    markup = (
        f'<actas-banner id="{ident}" style="{_HOST_STYLE}" data-actas-session="'
        f'{_e(context.session_id)}"><template shadowrootmode="open">'
        f"<style{style_attr}>{_STYLE}</style>"
        '<div class="bar" role="alert">'
        "<strong>Support session</strong>"
        f'<span class="who">Staff <b>{_e(context.actor_name or context.actor)}</b> is acting as '
        f"<b>{_e(context.subject)}</b> (account {_e(context.account)})</span>"
        f'<span class="left" title="ends at {until}">Time left '
        f"<time>{_clock(left)}</time></span>"
        f'<form method="post" action="{_e(end_path)}">'
        f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
        '<button type="submit">End session</button></form>'
        "</div></template></actas-banner>"
        f"<script{script_attr}>{script}</script>"
    )
    return markup.encode("ascii")


SPACER = (
    f'<div aria-hidden="true" style="display:block!important;height:{HEIGHT}px!important"></div>'
).encode()


def is_document(body: bytes) -> bool:
    """A whole page (with ``<html>`` or ``<body>``), not a fragment swapped into one."""
    return _DOCUMENT.search(body) is not None


def strip_scripts(body: bytes, markers: Sequence[str]) -> tuple[bytes, int]:
    """Remove every ``<script>`` that mentions one of ``markers``; returns the count."""
    if not markers:
        return body, 0
    needles = [m.encode() for m in markers]
    removed = 0

    def drop(match: re.Match[bytes]) -> bytes:
        nonlocal removed
        if any(needle in match.group(0) for needle in needles):
            removed += 1
            return b""
        return match.group(0)

    return _SCRIPT_TAG.sub(drop, body), removed


def inject(body: bytes, banner: bytes) -> bytes:
    """Put the banner and a spacer right after ``<body>`` (its script moves the banner out of
    the body), else before ``</body>``, else at the end."""
    opening = _BODY_OPEN.search(body)
    if opening is not None:
        return body[: opening.end()] + banner + SPACER + body[opening.end() :]
    closings = list(_BODY_CLOSE.finditer(body))
    if closings:
        at = closings[-1].start()
        return body[:at] + banner + body[at:]
    return body + banner


ENDED_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Support session ended</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}</style></head>
<body><h1>The support session has ended</h1>
<p>{reason}</p><p>You can close this tab. To continue helping the customer, start a new
session from the support console.</p></body></html>
"""

REASONS = {
    "session_revoked": "The session was ended or revoked.",
    "session_ended": "The session was ended.",
    "revocation_feed_stale": "This application could not confirm that the session is still "
    "valid, so it ended it to be safe.",
    "token_expired": "The session's access expired.",
    "audit_unavailable": "This application cannot record the session's activity right now, "
    "so it paused the session.",
    "subject_not_loaded": "The customer's account could not be opened in this application.",
}


def ended_page(code: str) -> bytes:
    reason = REASONS.get(code, "The session's access could not be verified.")
    return ENDED_HTML.format(reason=html.escape(reason)).encode()
