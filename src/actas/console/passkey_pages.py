"""Passkey pages: a staff member's own page (register and remove passkeys), "Sign in with a
passkey", and the options a step-up with a passkey asks for.

The ceremonies run in ``static/passkeys.js``: it posts for options (JSON, CSRF-checked like
every form), asks the browser's WebAuthn API, puts the JSON response in a hidden field and
submits the ordinary form. The checks are all in ``services.passkeys``.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, RedirectResponse, Response

from actas.console import auth_pages, csrf
from actas.console.web import PREFIX, Page, safe_next, sentence, status_for
from actas.domain.errors import ActasError, AuthenticationFailed
from actas.http.callers import SESSION_COOKIE, request_actor
from actas.services import passkeys

#: A WebAuthn response is a few kB; the adapter refuses more than 64 kB anyway.
RESPONSE_LIMIT = 64 * 1024
NOT_ACCEPTED = (
    "The passkey was not accepted. Use a passkey you registered for this console, or sign in "
    "another way."
)


def json_options(fn: Callable[[], str]) -> Response:
    """Ceremony options as JSON, or the refusal as ``{"detail": ...}`` for the script."""
    try:
        options = fn()
    except ActasError as exc:
        return JSONResponse({"detail": sentence(exc.detail)}, status_code=status_for(exc))
    return Response(options, media_type="application/json")


def me(page: Page, *, status: int = 200) -> Response:
    return page.render(
        "me.html",
        status=status,
        title="Your sign-in",
        passkeys=passkeys.list_passkeys(page.ctx, page.staff.id),
        passkeys_on=page.ctx.webauthn is not None,
    )


def register_options(page: Page) -> Response:
    return json_options(lambda: passkeys.registration_options(page.ctx, page.staff))


def register(page: Page) -> Response:
    try:
        passkeys.register(
            page.ctx,
            staff=page.staff,
            response=page.text("response", limit=RESPONSE_LIMIT),
            name=page.text("name", limit=200),
            by=page.me.actor,
        )
    except AuthenticationFailed:
        page.errors.append(NOT_ACCEPTED)
        return me(page, status=400)
    except ActasError as exc:
        return me(page, status=page.failed(exc))
    return page.redirect(f"{PREFIX}/me", done="passkey_added")


def remove(page: Page) -> Response:
    try:
        passkeys.remove(
            page.ctx, staff=page.staff, passkey_id=page.param("passkey"), by=page.me.actor
        )
    except ActasError as exc:
        return me(page, status=page.failed(exc))
    return page.redirect(f"{PREFIX}/me", done="passkey_removed")


def step_up_options(page: Page) -> Response:
    return json_options(lambda: passkeys.step_up_options(page.ctx, page.staff))


def sign_in_options(page: Page) -> Response:
    return json_options(lambda: passkeys.sign_in_options(page.ctx))


def sign_in(page: Page) -> Response:
    try:
        signed = passkeys.sign_in_with(
            page.ctx,
            response=page.text("response", limit=RESPONSE_LIMIT),
            by=request_actor(page.request, None),
        )
    except AuthenticationFailed:
        page.errors.append(NOT_ACCEPTED)
        return auth_pages.refused_login(page)
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
