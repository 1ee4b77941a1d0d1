"""Forgot password, set a new one, and confirm an email change: through actas links.

The app asks actas to email the user a one-time link (``ActAs.issue_link``); the broker sends
it to the user's verified address, and nobody else (support included) ever sees it. The link
lands on the SDK's ``/actas/link`` confirmation page; its POST redeems the link and calls the
handler registered here, which turns it into the app's own action.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from actas_sdk import ActAs, ActAsError, LinkLanding, RedeemedLink, protected_action
from notes_app.grants import RESET_GRANT_TTL, Grants
from notes_app.store import EmailTaken, User

log = logging.getLogger("notes_app.recovery")

#: The app's reset grant (see :mod:`notes_app.grants`): only ``/reset`` ever receives it.
RESET_COOKIE = "notes_reset"
MIN_PASSWORD = 10

Render = Callable[..., HTMLResponse]
Back = Callable[..., RedirectResponse]


def install(
    app: FastAPI,
    grants: Grants,
    *,
    render: Render,
    back: Back,
    user_of: Callable[[Request], User | None],
    same_origin: Any,
    acting: Callable[[Request], bool],
) -> None:
    """Add the pages; :func:`register_links` connects them to actas once the SDK exists."""

    def actas_of() -> ActAs | None:
        found: ActAs | None = getattr(app.state, "actas", None)
        return found

    @app.get("/forgot", response_class=HTMLResponse)
    def forgot_page(request: Request) -> Response:
        return render(request, "forgot.html", None)

    @app.post("/forgot", dependencies=[same_origin])
    @protected_action("password")
    def forgot(request: Request, email: Annotated[str, Form(max_length=320)]) -> Response:
        actas = actas_of()
        if actas is None or acting(request):
            return render(request, "forgot.html", None, 503, error="Password reset is off.")
        user_id = grants.user_by_email(email)
        if user_id is not None:
            try:
                actas.issue_link(user_id, "password_reset")
            except ActAsError as exc:  # said the same way as "no such user": no enumeration
                log.warning("could not send a password reset link: %s", exc)
        return render(request, "forgot.html", None, sent=True)

    @app.get("/reset", response_class=HTMLResponse)
    def reset_page(request: Request) -> Response:
        token = request.cookies.get(RESET_COOKIE)
        if not token or grants.reset_user(token) is None:
            return render(request, "reset.html", None, 410, expired=True)
        return render(request, "reset.html", None, minimum=MIN_PASSWORD)

    @app.post("/reset", dependencies=[same_origin])
    @protected_action("password")
    def reset(
        request: Request,
        password: Annotated[str, Form(max_length=200)],
        again: Annotated[str, Form(max_length=200)],
    ) -> Response:
        token = request.cookies.get(RESET_COOKIE)
        if not token:
            return render(request, "reset.html", None, 410, expired=True)
        if len(password) < MIN_PASSWORD or password != again:
            error = (
                "The two passwords differ."
                if password != again
                else f"Use at least {MIN_PASSWORD} characters."
            )
            return render(request, "reset.html", None, 400, error=error, minimum=MIN_PASSWORD)
        if grants.use_reset(token, password) is None:
            return render(request, "reset.html", None, 410, expired=True)
        response = back("/login", "password-set")
        response.delete_cookie(RESET_COOKIE, path="/reset")
        return response

    @app.post("/settings/email", dependencies=[same_origin])
    @protected_action("email")
    def change_email(
        request: Request,
        email: Annotated[str, Form(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")],
    ) -> Response:
        # An identity change: the SDK refuses it during impersonation whatever the scopes.
        # Nothing changes yet: the user confirms from the inbox they have now.
        user = user_of(request)
        if user is None:
            return back("/login")
        actas = actas_of()
        if actas is None:
            return render(
                request, "message.html", user, 503, heading="Not changed", text="Email is off."
            )
        try:
            grants.request_email_change(user.id, email)
            actas.issue_link(user.id, "email_confirmation")
        except EmailTaken:
            text = "That address belongs to another user."
            return render(request, "message.html", user, 409, heading="Not changed", text=text)
        except ActAsError as exc:
            log.warning("could not send an email confirmation link: %s", exc)
            text = "The confirmation email could not be sent. Try again in a moment."
            return render(request, "message.html", user, 503, heading="Not changed", text=text)
        return back("/settings", "email-pending")


def register_links(
    actas: ActAs, grants: Grants, *, secure_cookies: bool, changed: Callable[[str], None]
) -> None:
    """What each redeemed link does in this app (``changed(user_id)`` mirrors the user)."""

    @actas.on_link("password_reset")
    def password_reset(link: RedeemedLink) -> LinkLanding:
        grant = grants.open_reset(link.subject_id)
        attributes = [
            f"{RESET_COOKIE}={grant}",
            "Path=/reset",
            "HttpOnly",
            "SameSite=Strict",
            f"Max-Age={int(RESET_GRANT_TTL.total_seconds())}",
        ]
        if secure_cookies:
            attributes.append("Secure")
        return LinkLanding("/reset", [("Set-Cookie", "; ".join(attributes))])

    @actas.on_link("email_confirmation")
    def email_confirmation(link: RedeemedLink) -> LinkLanding:
        if grants.confirm_email(link.subject_id) is None:
            return LinkLanding("/settings?m=email-taken")
        changed(link.subject_id)
        return LinkLanding("/settings?m=email-confirmed")


def pending_email(grants: Grants, user: User | None) -> str | None:
    return grants.pending_email(user.id) if user is not None else None
