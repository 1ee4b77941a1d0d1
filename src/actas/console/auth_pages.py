"""Signing in and out, and the authenticator enrollment page."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import segno
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from actas.console import csrf
from actas.console.web import HOME, PREFIX, Page, SignInRequired, current_caller, safe_next
from actas.domain.errors import AuthenticationFailed, Throttled
from actas.http.callers import SESSION_COOKIE, request_actor
from actas.services import staff as staff_service

WRONG = (
    "The email, password or code is wrong. Codes change every 30 seconds and each one works "
    "once: if you just used a code, wait for the next one."
)
EXPIRED = "Your session has ended. Sign in again to continue."
SIGNED_OUT = "You have signed out."
ENROLLED = "You are set up. Sign in with your new password and authenticator, or your passkey."


def slowed_message(seconds: int) -> str:
    """The same words for every email: whether it belongs to anyone is not said."""
    if seconds < 120:
        wait = f"{seconds} second{'s' if seconds != 1 else ''}"
    else:
        wait = f"{-(-seconds // 60)} minutes"
    return (
        f"Too many failed sign-ins from here. Try again in {wait}; "
        "if it goes on, an admin can clear the wait."
    )


def home(page: Page) -> Response:
    return RedirectResponse(HOME, status_code=303)


def _signed_in(page: Page) -> bool:
    try:
        page.caller = current_caller(page.request, page.ctx)
    except SignInRequired:
        return False
    return True


def _login_page(
    page: Page, *, token: str, status: int = 200, info: str | None = None, email: str = ""
) -> Response:
    response = page.render(
        "login.html",
        status=status,
        title="Sign in",
        login_token=token,
        next_url=safe_next(page.query("next", limit=500) or page.text("next", limit=500)),
        info=info,
        email=email,
        sso=page.ctx.oidc is not None,
        password_sign_in=page.ctx.identity.password_sign_in,
        passkeys=page.ctx.webauthn is not None,
    )
    _set_login_cookie(page, response, token)
    return response


def _set_login_cookie(page: Page, response: Response, token: str) -> None:
    response.set_cookie(
        csrf.LOGIN_COOKIE, token, path="/", secure=True, httponly=True, samesite="strict"
    )


def login_form(page: Page) -> Response:
    if _signed_in(page):
        return RedirectResponse(safe_next(page.query("next", limit=500)), status_code=303)
    page.caller = None
    info = None
    if page.query("expired", limit=5):
        info = EXPIRED
    elif page.query("bye", limit=5):
        info = SIGNED_OUT
    elif page.query("enrolled", limit=5):
        info = ENROLLED
    token = page.request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_login_token()
    if len(token) > 200:
        token = csrf.new_login_token()
    return _login_page(page, token=token, info=info)


def login(page: Page) -> Response:
    email = page.text("email", limit=320)
    try:
        signed = staff_service.login(
            page.ctx,
            email=email,
            password=page.text("password", limit=1024),
            code=page.text("code", limit=16),
            by=request_actor(page.request, None),
        )
    except Throttled as exc:
        page.errors.append(slowed_message(exc.retry_after))
        response = _login_page(page, token=csrf.new_login_token(), status=429, email=email)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationFailed:
        page.errors.append(WRONG)
        return _login_page(page, token=csrf.new_login_token(), status=401, email=email)
    response = RedirectResponse(safe_next(page.text("next", limit=500)), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(page.ctx.session_ttl.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.delete_cookie(
        csrf.LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


def refused_login(page: Page) -> Response:
    """The sign-in page again after another method (a passkey) was refused."""
    return _login_page(page, token=csrf.new_login_token(), status=401)


def logout(page: Page) -> Response:
    me = page.me
    staff_service.logout(page.ctx, staff=me.staff, session=me.session, by=me.actor)
    response = RedirectResponse(f"{PREFIX}/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def qr_svg(uri: str, *, label: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (no script, no style attribute)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=6,
        border=4,
        dark="#000",
        light="#fff",
        svgclass="qr",
        lineclass=None,
        title=label,
    )
    svg = out.getvalue().decode("ascii")
    # An image with a name for screen readers. segno's output holds no script or style, and
    # the label is escaped: the one place the console marks generated markup as safe.
    named = Markup('<svg role="img" aria-label="{}" ').format(label)
    return Markup(svg.replace("<svg ", str(named), 1))  # noqa: S704


def secret_of(uri: str) -> str:
    """The base32 key inside an otpauth URI, grouped by four for typing it in."""
    secret = parse_qs(urlsplit(uri).query).get("secret", [""])[0]
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
