"""The impersonation banner, its script, and HTML surgery.

The banner lives in a shadow root (declarative, with a script fallback), so the page's CSS
cannot restyle its inside; its host element carries its position and visibility as inline
``!important`` declarations, which no stylesheet of the page can override, and its script
(served by the SDK, see :data:`SCRIPT`) moves it out of ``<body>`` (so styles on the body
cannot hide it either), counts the time left down from a server-side figure (so the staff
member's clock does not matter) and learns of the session's end by polling the SDK.
"""

from __future__ import annotations

import functools
import hashlib
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
.bar.over{{background:#3d3d3d}}
.bar strong{{font-weight:700;letter-spacing:.02em;text-transform:uppercase;font-size:12px}}
.who b{{font-weight:600}} .left{{margin-left:auto;font-variant-numeric:tabular-nums}}
.live{{display:contents}} .gone{{margin-left:auto}} .gone a{{color:#fff;font-weight:600}}
[hidden]{{display:none!important}}
form{{margin:0}} button{{font:inherit;font-weight:600;color:#8a1020;background:#fff;border:0;
border-radius:4px;padding:6px 12px;cursor:pointer}}
button:focus-visible,a:focus-visible{{outline:3px solid #ffd54a;outline-offset:2px}}
.sr{{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;
clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;border:0}}
"""

#: The banner's behaviour, served by the SDK as a file (``<sdk path>/banner.js``) so that a
#: strict Content-Security-Policy needs no inline script. It opens the shadow root where
#: declarative shadow DOM is missing, keeps the banner last in the document (outside
#: ``<body>``, whose styles cannot hide it, and last, so it wins any z-index tie), counts the time
#: down from a server-side figure, polls the SDK's status endpoint (no broker call) and
#: switches to "ended" when the session is over. A visually hidden polite live region
#: announces only the start, "less than five minutes left" and the end, once each per
#: session (sessionStorage), never the countdown.
SCRIPT = b"""(function(){
var hs=document.querySelectorAll('actas-banner');var h=hs[hs.length-1];if(!h)return;
var r=h.shadowRoot;if(!r){var t=h.querySelector('template');
if(t&&h.attachShadow){r=h.attachShadow({mode:'open',delegatesFocus:true});
r.appendChild(t.content);t.remove();}}
var d=document.documentElement;d.appendChild(h);
if(window.MutationObserver){new MutationObserver(function(){if(h.parentNode!==d)d.appendChild(h);})
.observe(d,{childList:true});}
if(!r)return;
var el=r.querySelector('time'),say=r.querySelector('.sr'),bar=r.querySelector('.bar');
var left=parseInt(h.getAttribute('data-left'),10)||0,end=Date.now()+left*1000;
var key='actas-banner:'+(h.getAttribute('data-actas-session')||'')+':';
var url=h.getAttribute('data-status');
var every=Math.max(1,parseFloat(h.getAttribute('data-poll'))||3)*1000;
var over=false,timer=0,poller=0,pend=[],pt=0;
function announce(what,text){try{if(sessionStorage.getItem(key+what))return;
sessionStorage.setItem(key+what,'1');}catch(e){}
pend.push(text);if(!pt)pt=setTimeout(function(){if(say)say.textContent=pend.join(' ');
pend=[];pt=0;},150);}
function fmt(s){var m=Math.floor(s/60),x=s%60;return m+':'+(x<10?'0':'')+x;}
function ended(message){if(over)return;over=true;clearInterval(timer);clearInterval(poller);
bar.classList.add('over');r.querySelector('.live').hidden=true;
var g=r.querySelector('.gone');g.hidden=false;
var why=r.querySelector('.why');if(why&&message)why.textContent=message;
announce('ended','Support session ended. '+(message||''));}
function check(){if(over||!url||!window.fetch)return;
fetch(url,{credentials:'same-origin',cache:'no-store',headers:{'Accept':'application/json'}})
.then(function(x){return x.ok?x.json():null;})
.then(function(b){if(b&&b.live===false)ended(b.message);})['catch'](function(){});}
function tick(){var s=Math.max(0,Math.round((end-Date.now())/1000));if(el)el.textContent=fmt(s);
if(s<=300)announce('five','Less than five minutes left in the support session.');
if(s<=0){clearInterval(timer);check();}}
announce('start','Support session started. You are acting as '+
(h.getAttribute('data-subject')||'the customer')+'.');
timer=setInterval(tick,1000);tick();
poller=setInterval(function(){if(!document.hidden)check();},every);
document.addEventListener('visibilitychange',function(){if(!document.hidden)check();});
})();
"""
SCRIPT_VERSION = hashlib.sha256(SCRIPT).hexdigest()[:12]

_SCRIPT_OPEN = re.compile(rb"<script\b", re.IGNORECASE)
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


def _who(context: ImpersonationContext, subject: str) -> str:
    """Who is who. In ``assist`` the staff member is not signed in as the customer, and the
    banner must not say so: it says they are assisting the customer as themselves."""
    staff = _e(context.actor_name or context.actor)
    customer = f'<b title="{_e(context.subject)}">{_e(subject)}</b>'
    account = f"(account {_e(context.account)})"
    if context.is_assist:
        return (
            f'<span class="who">You (<b>{staff}</b>) are assisting {customer} {account} '
            "as yourself</span>"
        )
    return f'<span class="who">Staff <b>{staff}</b> is acting as {customer} {account}</span>'


def render(
    context: ImpersonationContext,
    *,
    now: float,
    end_path: str,
    csrf: str,
    script_path: str,
    status_path: str,
    console_url: str,
    poll_seconds: float,
    script_nonce: str | None = None,
    style_nonce: str | None = None,
) -> bytes:
    """The banner's markup for one response. The customer is named by display name when the
    broker gave one, with the id on hover. No ``role="alert"``: the countdown changes every
    second; a separate polite live region (``.sr``) carries the few announcements. The host
    sits last in the document (it must win z-index ties) yet first in the tab order:
    ``tabindex="1"`` with focus delegated into the shadow root, whose only stop is End."""
    ident = "actas-banner-" + secrets.token_hex(6)
    ends: datetime = context.ends_at
    left = int(ends.timestamp() - now)
    until = ends.strftime("%H:%M UTC")
    script_attr = f' nonce="{_e(script_nonce)}"' if script_nonce else ""
    style_attr = f' nonce="{_e(style_nonce)}"' if style_nonce else ""
    subject = context.subject_name or context.subject
    markup = (
        f'<actas-banner id="{ident}" style="{_HOST_STYLE}" data-actas-session="'
        f'{_e(context.session_id)}" data-left="{left}" data-status="{_e(status_path)}" '
        f'data-poll="{poll_seconds:g}" data-subject="{_e(subject)}" tabindex="1">'
        '<template shadowrootmode="open" shadowrootdelegatesfocus>'
        f"<style{style_attr}>{_STYLE}</style>"
        '<div class="bar">'
        "<strong>Support session</strong>"
        f"{_who(context, subject)}"
        '<span class="live">'
        f'<span class="left" title="ends at {until}">Time left '
        f"<time>{_clock(left)}</time></span>"
        f'<form method="post" action="{_e(end_path)}">'
        f'<input type="hidden" name="csrf" value="{_e(csrf)}">'
        '<button type="submit">End session</button></form></span>'
        '<span class="gone" hidden><strong>Support session ended</strong> '
        '<span class="why"></span> '
        f'<a href="{_e(console_url)}">Back to the support console</a></span>'
        "</div>"
        '<div class="sr" aria-live="polite" aria-atomic="true"></div>'
        "</template></actas-banner>"
        f'<script src="{_e(script_path)}?v={SCRIPT_VERSION}" defer{script_attr}></script>'
    )
    return markup.encode("ascii")


SPACER = (
    f'<div aria-hidden="true" style="display:block!important;height:{HEIGHT}px!important"></div>'
).encode()


def is_document(body: bytes) -> bool:
    """A whole page (with ``<html>`` or ``<body>``), not a fragment swapped into one."""
    return _DOCUMENT.search(body) is not None


@functools.lru_cache(maxsize=16)
def _needles(markers: tuple[str, ...]) -> tuple[bytes, ...]:
    return tuple(m.encode() for m in markers)


def strip_scripts(body: bytes, markers: Sequence[str]) -> tuple[bytes, int]:
    """Remove every ``<script>`` that mentions one of ``markers``; returns the count."""
    if not markers or _SCRIPT_OPEN.search(body) is None:  # most bodies: one scan, no more
        return body, 0
    needles = _needles(tuple(markers))
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
