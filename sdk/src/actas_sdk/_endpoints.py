"""The SDK's own endpoints, beside the handoff path (``/actas/...`` by default):

- ``GET handoff?code=``: redeem, set the cookie, 303 on (or a page naming why the link
  cannot be used, with the banner when a session is already live in this browser);
- ``POST end``: the banner's End button; 303 to the "support session ended" page;
- ``GET status``: ``{"live": bool, "reason": cause, "message": text}`` for the banner's poll,
  from the SDK's own state (verified cookie, revocation feed, hard expiry): no broker call;
- ``GET ended?cause=``: the "support session ended" page, linking back to the console;
- ``GET``/``POST link``: a customer's one-time link (:mod:`actas_sdk.links`);
- ``GET banner.js`` and ``GET pages.css``: the banner's script and the pages' stylesheet.

Framework adapters route these paths here; nothing in this module knows a framework.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from actas_sdk import _pages, _replies, banner, errors, links
from actas_sdk._cookie import CookieJar
from actas_sdk._refresh import entry_of
from actas_sdk._replies import Reply
from actas_sdk.context import Frame
from actas_sdk.verify import NeedsIO

if TYPE_CHECKING:
    from actas_sdk._runtime import ActAs

log = logging.getLogger("actas_sdk")

#: Query parameter -> value, for the GET endpoints (the first value of a parameter).
Query = Callable[[str], str | None]


def handoff(actas: ActAs, code: str | None, cookie: str | None = None) -> Reply:
    if not code or len(code) > 200 or not code.isascii():
        return _link_failed(actas, 400, "no_code", cookie)
    try:
        grant = actas.client.redeem(code)
        value, entry = actas.refresher.adopt(
            actas, grant, grant.refresh_handle or "", actas.clock()
        )
    except errors.GrantRejected as exc:
        return _link_failed(actas, 400, _pages.handoff_cause(exc.message), cookie)
    except errors.ActAsError as exc:
        log.warning("handoff failed: %s", exc)
        return _link_failed(actas, 503, "unavailable", cookie)
    actas.start()
    set_cookie = actas.refresher.set_cookie(actas, value, entry, actas.clock())
    landing = actas.config.after_handoff_path
    if entry.context.is_assist and actas.config.after_assist_path is not None:
        landing = actas.config.after_assist_path
    return _replies.redirect(landing, [("Set-Cookie", set_cookie)])


def _link_failed(actas: ActAs, status: int, cause: str, cookie: str | None) -> Reply:
    """ "This link cannot be used", naming the cause. When this browser is already in a live
    session (a link opened twice), the page keeps the banner and offers to go on."""
    title = "This support link cannot be used"
    links = actas.links
    if cookie:
        try:
            admission = actas.admit_cookie(cookie)
        except errors.ActAsError:
            admission = None
        if admission is not None:
            go_on = (actas.config.after_handoff_path, "Continue the live session")
            body = _replies.cause_page(status, title, cause, links, extra_action=go_on)
            body = actas.decorate_html(body, admission.context)
            extra = [("Set-Cookie", admission.set_cookie)] if admission.set_cookie else []
            return _replies.html_page(status, body, extra)
    return _replies.html_page(status, _replies.cause_page(status, title, cause, links))


def end(actas: ActAs, value: str | None, csrf: str | None, fetch_site: str | None) -> Reply:
    clear = [("Set-Cookie", actas.cookies.clear_header())]
    landing = actas.config.end_landing
    if value is None:
        return _replies.redirect(landing, clear)
    now = actas.clock()
    token, sealed_text = CookieJar.split(value)
    try:
        verified = actas.verifier.verify(token, now, check_exp=False)
        sealed = actas.cookies.open(verified.context.session_id, sealed_text or "")
    except errors.ActAsError:
        return _replies.redirect(landing, clear)
    session_id = verified.context.session_id
    if fetch_site not in (None, "same-origin", "none") or not (
        csrf and actas.cookies.csrf_ok(session_id, csrf)
    ):
        refusal = errors.Refused("the End request failed its anti-forgery check", reason="csrf")
        context = entry_of(verified, sealed, actas.config.refresh_before_seconds).context
        return actas.refusal_reply(context, refusal, api=False)
    # Dated before the broker hears of it: the End sorts before the session.ended it causes.
    frame = Frame(verified.context, actas.clock())
    try:
        actas.client.end(session_id, sealed.refresh_handle)
    except errors.GrantRejected:
        pass  # already over at the broker
    except errors.ActAsError as exc:
        log.warning("End could not reach the broker (%s); ending here only", exc)
    actas.feed.revoke_locally(session_id, until=sealed.session_expires_at, reason="ended")
    actas.cache.discard(value)
    actas.record(frame, method="POST", route=actas.end_path, status=303, detail="ended by staff")
    return _replies.redirect(landing, clear)


def status(actas: ActAs, value: str | None) -> Reply:
    """Whether this browser's session is live, as the SDK knows it right now."""
    cause = _status_cause(actas, value)
    message = _pages.CAUSES[cause].text if cause is not None else None
    return _replies.json_reply(200, {"live": cause is None, "reason": cause, "message": message})


def _status_cause(actas: ActAs, value: str | None) -> str | None:
    if not value:
        return "ended"  # the cookie is gone: End in another tab, or cleared on a refusal
    now = actas.clock()
    try:
        entry = actas.cache.get(value)
        if entry is not None:
            session_id = entry.context.session_id
            expires = entry.sealed.session_expires_at if entry.sealed else None
        else:
            token, sealed_text = CookieJar.split(value)
            verified = actas.verifier.verify(token, now, allow_io=False, check_exp=False)
            session_id = verified.context.session_id
            expires = actas.cookies.open(session_id, sealed_text or "").session_expires_at
        if expires is not None and now >= expires:
            return "expired"
        actas.feed.check(session_id, now)
    except NeedsIO:
        return None  # keys not fetched yet in this process: no news is not an end
    except errors.SessionRevoked as exc:
        return _pages.revocation_cause(exc.reason)
    except errors.FeedStale as exc:
        return None if exc.silent_for is None else "unconfirmed"
    except errors.ActAsError as exc:
        return _pages.cause_of(exc)
    return None


def ended_page(actas: ActAs, cause: str | None) -> Reply:
    known = cause if cause in _pages.CAUSES else "ended"
    body = _replies.cause_page(200, "Support session ended", known, actas.links)
    return _replies.html_page(200, body)


def serve(
    actas: ActAs,
    method: str,
    path: str,
    *,
    cookie: Callable[[], str | None],
    query: Query,
    form: Callable[[str], str | None],
    header: Callable[[str], str | None],
) -> Reply:
    """Answer one of the SDK's own paths (``path in actas.own_paths``). The callables read
    the request lazily: the cookie, a query parameter, a field of a POSTed form (End's
    ``csrf``, a link's ``t``) and a header."""
    config = actas.config
    if path == actas.end_path:
        if method != "POST":
            return _replies.empty(405, "POST")
        return end(actas, cookie(), form("csrf"), header("Sec-Fetch-Site"))
    if path == config.link_route:
        return links.landing(actas, method, query=query, form=form, header=header)
    if method != "GET":  # not even HEAD: a link checker must not use a handoff code up
        return _replies.empty(405, "GET")
    if path == actas.handoff_path:
        return handoff(actas, query("code"), cookie())
    if path == config.status_route:
        return status(actas, cookie())
    if path == config.ended_route:
        return ended_page(actas, query("cause"))
    if path == config.script_route:
        return _replies.asset("text/javascript; charset=utf-8", banner.SCRIPT)
    return _replies.asset("text/css; charset=utf-8", _pages.STYLESHEET)
