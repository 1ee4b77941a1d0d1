"""Enrollment links in the console: the admin issues one (shown once, or emailed), and the
new member opens it (public page) to set their password and enrol their authenticator app or
a passkey. The link's page uses the sign-in form's double-submit cookie against forgery."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from actas.console import csrf, staff_pages
from actas.console.auth_pages import qr_svg, secret_of
from actas.console.passkey_pages import RESPONSE_LIMIT, json_options
from actas.console.web import PREFIX, Page
from actas.domain.errors import ActasError, AuthenticationFailed, InvalidGrant
from actas.domain.roles import parse_role
from actas.http.callers import request_actor
from actas.services import enrollment


def _shown(page: Page, issued: enrollment.IssuedEnrollment, *, headline: str) -> Response:
    return page.render(
        "enrollment_link.html",
        title="Enrollment link",
        member=issued.staff,
        url=issued.url,
        expires_at=issued.enrollment.expires_at,
        headline=headline,
    )


def add(page: Page) -> Response:
    """Add a member who enrols themselves (the staff form's "link" and "email" choices)."""
    send_email = page.text("setup", limit=10) == "email"
    try:
        issued = enrollment.add_member(
            page.ctx,
            email=page.text("email", limit=320),
            display_name=page.text("display_name", limit=200),
            roles=frozenset(parse_role(v[:32]) for v in page.values("roles")),
            send_email=send_email,
            by=page.me.actor,
        )
    except ActasError as exc:
        return staff_pages.staff(page, status=page.failed(exc))
    return _shown(page, issued, headline=f"{issued.staff.display_name} is added.")


def issue(page: Page) -> Response:
    try:
        issued = enrollment.issue(
            page.ctx,
            staff_id=page.param("staff"),
            send_email=page.text("send", limit=10) == "email",
            by=page.me.actor,
        )
    except ActasError as exc:
        return staff_pages.staff(page, status=page.failed(exc))
    return _shown(page, issued, headline=f"A new enrollment link for {issued.staff.display_name}.")


# --- the member's side (public) --------------------------------------------------------------


def _form(page: Page, *, status: int = 200) -> Response:
    token = page.param("token")
    try:
        view = enrollment.open_link(page.ctx, token)
    except InvalidGrant as exc:
        return page.render(
            "error.html", status=410, title="Enrollment link", detail=exc.detail.capitalize() + "."
        )
    login_token = page.request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_login_token()
    if len(login_token) > 200:
        login_token = csrf.new_login_token()
    response = page.render(
        "enroll.html",
        status=status,
        title="Set up your sign-in",
        member=view.staff,
        token=token,
        login_token=login_token,
        qr=qr_svg(view.otpauth_uri, label="QR code for your authenticator app"),
        secret=secret_of(view.otpauth_uri),
        expires_at=view.expires_at,
        password_needed=view.password_needed,
        passkeys_on=page.ctx.webauthn is not None,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE, login_token, path="/", secure=True, httponly=True, samesite="strict"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def open_link(page: Page) -> Response:
    return _form(page)


def passkey_options(page: Page) -> Response:
    return json_options(lambda: enrollment.passkey_options(page.ctx, page.param("token")))


def complete(page: Page) -> Response:
    try:
        enrollment.complete(
            page.ctx,
            token=page.param("token"),
            password=page.text("password", limit=1024),
            code=page.text("code", limit=16).strip() or None,
            passkey_response=page.text("response", limit=RESPONSE_LIMIT) or None,
            passkey_name=page.text("name", limit=200) or "Passkey",
            by=request_actor(page.request, None),
        )
    except AuthenticationFailed:
        page.errors.append("The passkey was not accepted. Try again, or use the authenticator app.")
        return _form(page, status=400)
    except ActasError as exc:
        return _form(page, status=page.failed(exc))
    return RedirectResponse(f"{PREFIX}/login?enrolled=1", status_code=303)
