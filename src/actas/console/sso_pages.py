"""Single sign-on pages: the start (to the IdP) and the callback (back from it).

The state travels in a ``__Host-`` cookie as well as in the URL: the callback only signs in
the browser that started the sign-in. That cookie is ``SameSite=Lax`` because the IdP's
redirect back is a cross-site navigation; the staff session cookie stays ``Strict``, so the
callback lands on a small page that moves on same-site instead of redirecting in the chain
that came from the IdP (where a strict cookie would not be sent).
"""

from __future__ import annotations

from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from actas.console.web import Page, safe_next
from actas.domain.errors import AuthenticationFailed
from actas.http.callers import SESSION_COOKIE, request_actor
from actas.services import sso

STATE_COOKIE = "__Host-actas_sso"
FAILED = (
    "The sign-in through your identity provider did not complete. Start again; if it keeps "
    "failing, ask an admin whether your account is set up for single sign-on."
)


def start(page: Page) -> Response:
    begun = sso.begin(page.ctx, next_url=safe_next(page.query("next", limit=500)))
    response = RedirectResponse(begun.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        begun.state,
        max_age=600,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


def callback(page: Page) -> Response:
    try:
        signed, next_url = sso.finish(
            page.ctx,
            state=page.query("state", limit=200),
            browser_state=page.request.cookies.get(STATE_COOKIE, "")[:200],
            code=page.query("code", limit=2048),
            by=request_actor(page.request, None),
        )
    except AuthenticationFailed:
        page.errors.append(FAILED)
        response = page.render("error.html", status=401, title="Sign-in failed", detail=FAILED)
        response.delete_cookie(STATE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response
    target = safe_next(next_url)
    # A same-site hop: the browser then sends the strict session cookie on the next page.
    body = Markup(
        '<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={}">'
        '<title>Signed in</title><p><a href="{}">Continue</a></p>'
    ).format(target, target)
    response = HTMLResponse(str(body))
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(page.ctx.session_ttl.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(STATE_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response
