"""The notes app: FastAPI + Jinja2, its own users, sign-in and SQLite, wired to actas.

Everything about support access is in :func:`_wire_actas` and the few lines that ask
``request.state.actas``; the rest is an ordinary small SaaS app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from actas_sdk import (
    DEFAULT_STRIP_SCRIPTS,
    ActAs,
    Config,
    ImpersonationContext,
    name_resource,
    skip_during_impersonation,
)
from actas_sdk.asgi import ActAsMiddleware
from actas_sdk.suppress import patch_smtplib
from notes_app import recovery, support_admin
from notes_app.directory import Directory
from notes_app.grants import Grants
from notes_app.mailer import Email, LogMailer, Mailer, SmtpMailer
from notes_app.settings import Settings
from notes_app.store import Store, User

log = logging.getLogger("notes_app")

HERE = Path(__file__).parent
#: The app's own sign-in cookie. The actas SDK never reads, sets or clears it.
SESSION_COOKIE = "notes_session"

FLASHES = {
    "added": ("ok", "Note added."),
    "saved": ("ok", "Saved."),
    "deleted": ("ok", "Note deleted."),
    "profile": ("ok", "Profile saved."),
    "email-pending": ("info", "Check your inbox: the change waits for you to confirm it there."),
    "email-confirmed": ("ok", "Email confirmed."),
    "email-taken": ("error", "Not changed: that address now belongs to another user."),
    "password-set": ("ok", "Password changed. Sign in with the new one."),
    "signed-out": ("info", "You are signed out."),
}


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    mailer: Mailer
    directory: Directory | None
    grants: Grants


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _acting(request: Request) -> bool:
    """True while a support session shows this request as a user (the SDK's context)."""
    return getattr(request.state, "actas", None) is not None


def _optional_user(request: Request, services: ServicesDep) -> User | None:
    if _acting(request):
        # The SDK verified the actor token and loaded the subject through load_user.
        user: User | None = request.state.actas_user
        return user
    token = request.cookies.get(SESSION_COOKIE)
    return services.store.session_user(token) if token else None


class SignInRequired(Exception):
    pass


def _user(user: Annotated[User | None, Depends(_optional_user)]) -> User:
    if user is None:
        raise SignInRequired
    return user


UserDep = Annotated[User, Depends(_user)]


def _same_origin(request: Request) -> None:
    """A form post must come from our own pages (with SameSite=Lax cookies, the CSRF guard)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(403, "cross-site form posts are refused")
    origin = request.headers.get("origin")
    if origin and origin != _origin(_services(request).settings.public_url):
        raise HTTPException(403, "cross-origin form posts are refused")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


SameOrigin = Depends(_same_origin)


def create_app(settings: Settings, *, mailer: Mailer | None = None) -> FastAPI:
    store = Store(settings.database)
    store.create()
    if mailer is None:
        mailer = (
            SmtpMailer(settings.smtp_host, settings.smtp_port, settings.mail_from)
            if settings.smtp_host
            else LogMailer()
        )
    directory = (
        Directory(settings.actas_url, settings.actas_credential.value)
        if settings.actas_url and settings.actas_credential
        else None
    )
    services = Services(
        settings=settings, store=store, mailer=mailer, directory=directory, grants=Grants(store)
    )
    templates = Jinja2Templates(directory=HERE / "templates")

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if directory is not None:
            directory.sync_in_background(store)
        try:
            yield
        finally:
            if directory is not None:
                directory.stop()
                directory.close()
            actas: ActAs | None = getattr(app.state, "actas", None)
            if actas is not None:
                actas.close()  # ships what it can; the rest waits in the spool for next time

    app = FastAPI(title="Notes", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.services = services
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(
        request: Request, name: str, user: User | None, status_code: int = 200, **extra: Any
    ) -> HTMLResponse:
        flash = FLASHES.get(request.query_params.get("m", ""))
        context = {
            "user": user,
            "account": store.account(user.account_id) if user else None,
            "acting": _acting(request),
            "flashes": [{"kind": flash[0], "text": flash[1]}] if flash else [],
            "hostile": settings.hostile_css and request.query_params.get("hostile") == "1",
            **extra,
        }
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers["Cache-Control"] = "no-store"
        return response

    def back(path: str, message: str | None = None) -> RedirectResponse:
        return RedirectResponse(f"{path}?m={message}" if message else path, status_code=303)

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        return HTMLResponse("Sign in first.", status_code=401)

    @app.exception_handler(StarletteHTTPException)
    async def page_for_people(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser asking for a page that is not there (or with the wrong method) gets a
        page, not FastAPI's JSON; API clients keep the JSON."""
        if "text/html" not in request.headers.get("accept", ""):
            return await http_exception_handler(request, exc)
        heading = "Page not found" if exc.status_code == 404 else "Not possible"
        text = (
            "There is no page at this address."
            if exc.status_code == 404
            else "This address does not take that kind of request."
        )
        return render(request, "message.html", None, exc.status_code, heading=heading, text=text)

    # --- the app's own sign-in ---------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    def home(user: Annotated[User | None, Depends(_optional_user)]) -> Response:
        return back("/notes" if user else "/login")

    @app.get("/login", response_class=HTMLResponse)
    def login_page(
        request: Request, user: Annotated[User | None, Depends(_optional_user)]
    ) -> Response:
        if user is not None:
            return back("/notes")
        return render(request, "login.html", None)

    @app.post("/login", dependencies=[SameOrigin])
    def login(
        request: Request,
        email: Annotated[str, Form(max_length=320)],
        password: Annotated[str, Form(max_length=200)],
    ) -> Response:
        if _acting(request):  # support never signs in as the user
            return back("/notes")
        user = store.authenticate(email, password)
        if user is None:
            return render(
                request,
                "login.html",
                None,
                status_code=400,
                error="Wrong email or password.",
                email=email,
            )
        response = back("/notes")
        response.set_cookie(
            SESSION_COOKIE,
            store.open_session(user.id),
            max_age=7 * 24 * 3600,
            httponly=True,
            secure=settings.secure_cookies,
            samesite="lax",
            path="/",
        )
        return response

    @app.post("/logout", dependencies=[SameOrigin])
    def logout(request: Request) -> Response:
        response = back("/login", "signed-out")
        if _acting(request):
            return response  # the support session ends with the banner's End, not here
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            store.close_session(token)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- notes -------------------------------------------------------------------------------

    @app.get("/notes", response_class=HTMLResponse)
    def notes(request: Request, user: UserDep) -> Response:
        return render(request, "notes.html", user, notes=store.notes(user.id))

    @app.post("/notes", dependencies=[SameOrigin])
    def add_note(
        user: UserDep,
        title: Annotated[str, Form(min_length=1, max_length=200)],
        body: Annotated[str, Form(max_length=10_000)] = "",
    ) -> Response:
        note_id = store.add_note(user.id, title.strip(), body)
        name_resource(f"note:{note_id}")
        return back("/notes", "added")

    @app.get("/notes/{note_id}", response_class=HTMLResponse)
    def note_page(request: Request, note_id: int, user: UserDep) -> Response:
        note = store.note(user.id, note_id)
        if note is None:
            raise HTTPException(404, "no such note")
        name_resource(f"note:{note_id}")
        return render(request, "note.html", user, note=note)

    @app.post("/notes/{note_id}", dependencies=[SameOrigin])
    def save_note(
        note_id: int,
        user: UserDep,
        title: Annotated[str, Form(min_length=1, max_length=200)],
        body: Annotated[str, Form(max_length=10_000)] = "",
    ) -> Response:
        name_resource(f"note:{note_id}")
        if not store.update_note(user.id, note_id, title.strip(), body):
            raise HTTPException(404, "no such note")
        return back(f"/notes/{note_id}", "saved")

    @app.post("/notes/{note_id}/delete", dependencies=[SameOrigin])
    def delete_note(note_id: int, user: UserDep) -> Response:
        name_resource(f"note:{note_id}")
        if not store.delete_note(user.id, note_id):
            raise HTTPException(404, "no such note")
        return back("/notes", "deleted")

    # --- a page that emails the user ---------------------------------------------------------

    @skip_during_impersonation("email", default=False)
    def email_user(user: User, subject: str, body: str) -> bool:
        """Every email to the user goes through here: skipped (and counted) while support
        acts as the user, so a customer never gets mail caused by someone else's clicks."""
        services.mailer.send(Email(to=user.email, subject=subject, body=body))
        return True

    @app.get("/digest", response_class=HTMLResponse)
    def digest(request: Request, user: UserDep) -> Response:
        items = store.notes(user.id)
        text = "\n\n".join(f"{n.title}\n{n.body}" for n in items) or "No notes yet."
        sent = email_user(user, "Your notes digest", text)
        status = (
            f"A copy of this digest was emailed to {user.email}."
            if sent
            else "No email was sent: you are viewing this account in a support session."
        )
        return render(request, "digest.html", user, notes=items, status=status)

    # --- settings ----------------------------------------------------------------------------

    # The one support admin action, for assist sessions (the SDK refuses everything else).
    support_admin.install(app, user_of=store.user, send=services.mailer.send, render=render)

    @app.get("/settings", response_class=HTMLResponse)
    def settings_page(request: Request, user: UserDep) -> Response:
        pending = recovery.pending_email(services.grants, user)
        return render(request, "settings.html", user, pending=pending)

    @app.get("/settings/support-access")
    def support_access(request: Request, user: UserDep) -> Response:
        """The broker's customer page, signed in for this user through the SDK. Never during a
        support session: support must not reach the page where the customer grants access."""
        actas: ActAs | None = getattr(request.app.state, "actas", None)
        if actas is None or _acting(request):
            raise HTTPException(403, "support access settings are not available here")
        page = actas.customer_page_url(user.id, account_admin=user.is_admin)
        return RedirectResponse(page.url, status_code=303, headers={"Cache-Control": "no-store"})

    @app.post("/settings/profile", dependencies=[SameOrigin])
    def save_profile(
        user: UserDep, display_name: Annotated[str, Form(min_length=1, max_length=200)]
    ) -> Response:
        store.set_display_name(user.id, display_name.strip())
        _mirror(services, user.id)
        return back("/settings", "profile")

    recovery.install(
        app,
        services.grants,
        render=render,
        back=back,
        user_of=lambda request: _optional_user(request, services),
        same_origin=SameOrigin,
        acting=_acting,
    )

    _wire_actas(app, services)
    return app


def _mirror(services: Services, user_id: str) -> None:
    """Tell the broker about a changed profile (best effort: the start-up sync repairs it)."""
    user = services.store.user(user_id)
    if services.directory is None or user is None:
        return
    try:
        services.directory.put_user(user)
    except Exception as exc:  # the broker being away must not fail the user's request
        log.warning("could not update the broker's copy of %s: %s", user_id, exc)


def _wire_actas(app: FastAPI, services: Services) -> None:
    """Install the SDK when a broker is configured."""
    settings = services.settings
    if settings.actas_url is None or settings.actas_credential is None:
        log.warning("NOTES_ACTAS_URL is not set: support access is off")
        return
    config: dict[str, Any] = {
        "broker_url": settings.actas_url,
        "application_id": settings.actas_app_id,
        "credential": settings.actas_credential.value,
        "handoff_url": settings.handoff_url,
        "after_handoff_path": "/notes",
        "after_assist_path": "/support/admin",
        "strip_scripts": (*DEFAULT_STRIP_SCRIPTS, 'data-analytics="'),
    }
    if settings.actas_issuer is not None:
        config["issuer"] = settings.actas_issuer
    if settings.actas_staleness is not None:
        config["staleness_seconds"] = settings.actas_staleness
    if settings.actas_spool is not None:
        config["spool_dir"] = str(settings.actas_spool)
    actas = ActAs(Config(**config))
    app.state.actas = actas
    recovery.register_links(
        actas,
        services.grants,
        secure_cookies=settings.secure_cookies,
        changed=lambda user_id: _mirror(services, user_id),
    )
    # Belt and braces: any other code path that reaches smtplib is silenced too.
    patch_smtplib()

    async def load_user(ctx: ImpersonationContext) -> User | None:
        # The middleware runs on the event loop: keep the database off it.
        user = await asyncio.to_thread(services.store.user, ctx.subject)
        # The token's account must be the user's: a mismatch refuses the request.
        return user if user is not None and user.account_id == ctx.account else None

    app.add_middleware(ActAsMiddleware, actas=actas, load_user=load_user)
