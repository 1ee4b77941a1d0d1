"""The Notes app's one support admin action, for ``assist`` sessions.

In assist the staff member is not signed in as the customer: the SDK loads no user, and only
views marked with an admin action the session's scopes name run. Here that is
``admin:verify_email``: resend the verification email to the session's own subject, on the
session's own account, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from actas_sdk import ImpersonationContext
from actas_sdk.context import admin_action, name_resource
from actas_sdk.markers import requires_scope
from notes_app.mailer import Email
from notes_app.store import User

VERIFY_EMAIL = "admin:verify_email"
Render = Callable[..., HTMLResponse]


def _assist(request: Request) -> ImpersonationContext:
    """The assist session of this request; anything else never reaches these views."""
    context: ImpersonationContext | None = getattr(request.state, "actas", None)
    if context is None or not context.is_assist:
        raise HTTPException(404, "support admin actions run only in an assist session")
    return context


def install(
    app: FastAPI,
    *,
    user_of: Callable[[str], User | None],
    send: Callable[[Email], None],
    render: Render,
) -> None:
    def target(context: ImpersonationContext) -> User:
        # The session's one account and subject: nothing the request says can change them.
        user = user_of(context.subject)
        if user is None or user.account_id != context.account:
            raise HTTPException(404, "the session's user is not on its account")
        return user

    @app.get("/support/admin", response_class=HTMLResponse)
    @requires_scope(VERIFY_EMAIL)
    def admin_page(request: Request) -> Response:
        context = _assist(request)
        user = target(context)
        return render(
            request,
            "support_admin.html",
            None,
            customer=user,
            staff=context.actor,
            actions=sorted(context.admin_actions()),
            sent=request.query_params.get("sent") == "1",
        )

    @app.post("/support/admin/resend-verification")
    @requires_scope(VERIFY_EMAIL)
    def resend_verification(request: Request) -> Response:
        context = _assist(request)
        user = target(context)
        name_resource(f"user:{user.id}")
        with admin_action(VERIFY_EMAIL):  # this email is the action itself: not suppressed
            send(
                Email(
                    to=user.email,
                    subject="Please confirm your email address",
                    body="Support resent this at your request. Open Notes to confirm it.",
                )
            )
        return RedirectResponse("/support/admin?sent=1", status_code=303)
