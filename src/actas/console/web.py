"""The console's plumbing: who is signed in, forgery checks, rendering, and how refusals and
ended sessions become pages.

A view is a plain function of a :class:`Page` that returns a response. :func:`view` turns it
into an ASGI endpoint: it authenticates the staff session, reads and checks the form of a
POST, checks the roles the page needs, runs the view in a worker thread (the services block)
and wraps the response in the console's security headers. Business rules stay in the
services: a view calls one, and shows what it returned or the error it raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp

from actas.console import csrf, timefmt
from actas.domain.access import REVOKERS
from actas.domain.audit import Actor
from actas.domain.errors import ActasError, AuthenticationFailed, InvalidInput
from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import AccountFlag
from actas.http.callers import SESSION_COOKIE, request_actor, services_of
from actas.http.problems import STATUS, TITLES
from actas.http.security_headers import SecurityHeaders
from actas.services import directory
from actas.services import inbox as inbox_service
from actas.services import staff as staff_service
from actas.services.context import ServiceContext

log = logging.getLogger("actas.console")

PREFIX = "/console"
HOME = f"{PREFIX}/search"
TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: What a finished action says on the page it lands on (``?done=...``): fixed words only.
NOTICES = {
    "case_opened": "The case is open.",
    "note_added": "The note is recorded.",
    "case_closed": "The case is closed. The summary email is queued: its state shows below.",
    "code_queued": "A code is queued for the customer's verified email. Ask them to read it back.",
    "code_verified": "The code matches: the customer's identity is confirmed.",
    "link_queued": "The link is queued for the customer's verified email. You never see it.",
    "consent_asked": "The customer is asked by email to grant access; a request waiting for "
    "their consent moves on by itself when they do.",
    "access_code_used": "The code is accepted: the customer granted you access on this case.",
    "approved": "You approved the request.",
    "denied": "You denied the request.",
    "ended": "The session has ended.",
    "revoked": "The session is revoked: the application ends it within seconds.",
    "roles_changed": "The roles are changed.",
    "disabled": "The staff member is disabled and their sessions have ended.",
    "hosts_changed": "The handoff hosts are changed.",
    "enabled": "The staff member is enabled again.",
    "unthrottled": "The sign-in wait is cleared: they can sign in again at once.",
    "acknowledged": "The alert is acknowledged; your comment is in the audit log.",
    "reviewed": "The break-glass review is recorded.",
    "signed_off": "Your sign-off of the access review is recorded in the audit log.",
    "passkey_added": "Your passkey is registered: use it to sign in and to step up.",
    "passkey_removed": "The passkey is removed.",
}

FLAG_WORDS = {
    AccountFlag.NO_ACCESS: "Opted out (no access)",
    AccountFlag.REGULATED: "Regulated",
    AccountFlag.ENHANCED_CONTROLS: "Enhanced controls",
    AccountFlag.FLAGGED: "Flagged",
}


class SignInRequired(Exception):
    """No live staff session: back to the sign-in page."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("sign in required")
        self.expired = expired


class Refused(Exception):
    """A page or form this request may not have, shown as an error page with its status."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


def status_for(exc: ActasError) -> int:
    """The status the API gives a domain error (one table for both)."""
    return next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)


@dataclass(frozen=True)
class Caller:
    staff: Staff
    session: StaffSession
    actor: Actor
    #: The form token bound to this staff session.
    csrf: str


@dataclass
class Page:
    """One request as a view sees it."""

    request: Request
    ctx: ServiceContext
    tz: tzinfo
    caller: Caller | None = None
    form: FormData | None = None
    errors: list[str] = field(default_factory=list)
    #: The GET address of the page a failed POST is shown as (``console.js`` puts it in the
    #: address bar), so the form's URL never stays there.
    shown_at: str | None = None
    _inbox: inbox_service.Inbox | None = None

    @property
    def inbox(self) -> inbox_service.Inbox:
        """What waits for the signed-in staff member (read once per request)."""
        if self._inbox is None:
            self._inbox = inbox_service.inbox(self.ctx, self.staff)
        return self._inbox

    @property
    def me(self) -> Caller:
        if self.caller is None:
            raise SignInRequired(expired=False)
        return self.caller

    @property
    def staff(self) -> Staff:
        return self.me.staff

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def now(self) -> datetime:
        return self.ctx.clock()

    def param(self, name: str) -> str:
        value = self.request.path_params.get(name, "")
        return str(value)

    def query(self, name: str, *, limit: int = 200) -> str:
        value = self.request.query_params.get(name, "")
        if len(value) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters")
        return value

    def text(self, name: str, *, limit: int = 2000) -> str:
        """A text field of the posted form ('' when absent)."""
        value = self.form.get(name) if self.form is not None else None
        if not isinstance(value, str):
            return ""
        if len(value) > limit:
            raise InvalidInput(f"{name.replace('_', ' ')} is longer than {limit} characters")
        return value

    def values(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v for v in self.form.getlist(name) if isinstance(v, str)]

    def checked(self, name: str) -> bool:
        return self.text(name, limit=10) in {"on", "true", "1", "yes"}

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        body = _env.get_template(template).render(**self._context(), **context)
        return HTMLResponse(body, status_code=status, headers=headers)

    def _context(self) -> dict[str, Any]:
        tz, now = self.tz, self.now()
        done = self.request.query_params.get("done", "")
        return {
            "page": self,
            "me": self.caller,
            "csrf_field": csrf.FIELD,
            "csrf_token": self.caller.csrf if self.caller else "",
            "nav": self._nav(),
            "notice": NOTICES.get(done),
            "errors": self.errors,
            "tz_name": timefmt.zone_name(tz),
            "now": now,
            "when": lambda at, seconds=False: timefmt.when(at, tz, seconds=seconds),
            "countdown": lambda until: timefmt.countdown(until, now),
            "flag_words": FLAG_WORDS,
            "q": lambda value: quote(str(value), safe=""),
            "prefix": PREFIX,
            # The audit log (and so a session's timeline) is for the security role only.
            "reads_audit": self.caller is not None and Role.SECURITY in self.caller.staff.roles,
            "shown_at": self.shown_at if self.request.method == "POST" else None,
            "kept_comment": self._kept_comment,
        }

    def _nav(self) -> list[tuple[str, str, bool]]:
        if self.caller is None:
            return []
        roles = self.caller.staff.roles
        path = self.request.url.path
        waiting = self.inbox
        entries = [(f"{PREFIX}/search", "Find a customer" + _count(waiting.count, "waiting"))]
        if roles & self.ctx.policy.approver_roles:
            entries.append((f"{PREFIX}/approvals", "Approvals" + _count(len(waiting.to_approve))))
        entries.append((f"{PREFIX}/sessions", "Live sessions" + _count(len(waiting.live), "yours")))
        if Role.SECURITY in roles:
            entries.append((f"{PREFIX}/audit", "Audit"))
            entries.append((f"{PREFIX}/alerts", "Alerts"))
            entries.append((f"{PREFIX}/access-review", "Access review"))
        if Role.ADMIN in roles:
            entries.append((f"{PREFIX}/staff", "Staff"))
            entries.append((f"{PREFIX}/applications", "Applications"))
        entries.append((f"{PREFIX}/me", "Your sign-in"))
        return [(href, label, path.startswith(href)) for href, label in entries]

    def _kept_comment(self, request_id: str) -> str:
        """The comment an approver wrote, when their answer to ``request_id`` was refused:
        shown again so that it need not be typed twice (a TOTP code is never kept)."""
        if self.form is None or self.param("request") != request_id:
            return ""
        return self.text("comment")

    def redirect(self, path: str, **query: str) -> Response:
        target = path + (f"?{urlencode(query)}" if query else "")
        if self.is_htmx:
            return Response(status_code=200, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    def failed(self, exc: ActasError) -> int:
        """Record a service's refusal for the page; returns the status to answer with."""
        self.errors.append(sentence(exc.detail))
        return status_for(exc)


def _count(n: int, what: str = "") -> str:
    """`` (2 waiting)`` after a nav label; nothing when there is nothing."""
    return f" ({n}{' ' + what if what else ''})" if n else ""


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def staff_names(ctx: ServiceContext) -> dict[str, Staff]:
    return {member.id: member for member in staff_service.list_staff(ctx)}


def waiting_names(page: Page) -> dict[str, Any]:
    """``subject_name`` and ``staff_name`` for the "waiting for you" list."""
    waiting = page.inbox
    keys = [
        (x.application_id, x.subject_id)
        for x in (*waiting.to_approve, *waiting.to_start, *waiting.waiting_on_others)
    ]
    keys += [(x.application_id, x.subject_id) for x in waiting.live]
    keys += [(x.application_id, x.subject_id) for x in waiting.cases]
    cards = directory.subject_cards(page.ctx, keys)
    names = staff_names(page.ctx)

    def subject_name(item: Any) -> str:
        card = cards.get((item.application_id, item.subject_id))
        return card.subject.display_name if card and card.subject.display_name else item.subject_id

    def staff_name(staff_id: str) -> str:
        return names[staff_id].display_name if staff_id in names else staff_id

    return {"subject_name": subject_name, "staff_name": staff_name, "show_waiting": True}


def can_revoke(staff: Staff) -> bool:
    return bool(staff.roles & REVOKERS)


def path(*parts: str) -> str:
    """A console path with each part quoted (ids may hold ``:`` or ``@``)."""
    return PREFIX + "".join("/" + quote(p, safe="") for p in parts)


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a console path, never another host (T16)."""
    if (
        value
        and value.startswith(PREFIX + "/")
        and len(value) <= 500
        and not any(bad in value for bad in ("//", "\\", "..", "\r", "\n", "\t", "@"))
    ):
        return value
    return HOME


# --- the endpoint wrapper --------------------------------------------------------------------

View = Callable[[Page], Response]


def view(fn: View, *, public: bool = False, roles: Iterable[Role] = ()) -> ASGIApp:
    """An ASGI endpoint for ``fn``. ``public`` pages need no staff session (sign-in); their
    forms are checked against the sign-in cookie instead. ``roles``: any of them is needed."""
    needed = frozenset(roles)

    async def endpoint(request: Request) -> Response:
        ctx = services_of(request)
        page = Page(
            request=request,
            ctx=ctx,
            tz=timefmt.zone(request.cookies.get(timefmt.TZ_COOKIE)),
        )
        try:
            if not public:
                page.caller = await run_in_threadpool(current_caller, request, ctx)
            if request.method == "POST":
                page.form = await request.form(max_files=0, max_fields=200)
                check_forgery(page)
            if needed and not page.staff.has_any(needed):
                names = " or ".join(sorted(r.value for r in needed))
                raise Refused(403, "Not for your role", f"This page is for the {names} role.")
            return await run_in_threadpool(fn, page)
        except SignInRequired as exc:
            return _back_to_sign_in(request, exc)
        except Refused as exc:
            return await run_in_threadpool(_refusal, page, exc)
        except ActasError as exc:
            # What a view did not show inline: an unknown id in a link, mostly.
            status = status_for(exc)
            refused = Refused(status, TITLES.get(status, "Refused"), sentence(exc.detail))
            return await run_in_threadpool(_refusal, page, refused)

    return SecurityHeaders(request_response(endpoint))


def not_found(form_only: Callable[[str], bool]) -> ASGIApp:
    """The console's own 404 page for any address under it that names no page (and for a
    visit to an address that only takes a form), instead of the API's JSON problem. Nothing
    is read from a form and nothing changes, whatever the method."""

    async def endpoint(request: Request) -> Response:
        ctx = services_of(request)
        page = Page(
            request=request, ctx=ctx, tz=timefmt.zone(request.cookies.get(timefmt.TZ_COOKIE))
        )
        try:
            page.caller = await run_in_threadpool(current_caller, request, ctx)
        except SignInRequired:
            page.caller = None
        if form_only(request.url.path):
            detail = (
                "This address takes a form sent from a console page; it is not a page to open. "
                "Go back to the page the form is on."
            )
        else:
            detail = "There is no console page at this address. It may have been mistyped."
        refused = Refused(404, "Page not found", detail)
        return await run_in_threadpool(_refusal, page, refused)

    return SecurityHeaders(request_response(endpoint))


def current_caller(request: Request, ctx: ServiceContext) -> Caller:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(expired=False)
    try:
        staff, session = staff_service.authenticate(ctx, token)
    except AuthenticationFailed:
        raise SignInRequired(expired=True) from None
    return Caller(
        staff=staff,
        session=session,
        actor=request_actor(request, staff.id),
        csrf=csrf.session_token(token),
    )


def check_forgery(page: Page) -> None:
    request = page.request
    origin = csrf.origin_of(page.ctx.public_url)
    reason = csrf.cross_site(request.headers, origin)
    if reason is not None:
        raise Refused(403, "Form refused", f"This form was refused: {reason}.")
    posted = page.form.get(csrf.FIELD) if page.form is not None else None
    given = request.headers.get(csrf.HEADER) or (posted if isinstance(posted, str) else None)
    if page.caller is not None:
        expected = page.caller.csrf
    else:
        expected = request.cookies.get(csrf.LOGIN_COOKIE, "")
    if not csrf.same(expected, given):
        raise Refused(
            403,
            "Form expired",
            "This form's security token is missing or wrong, so nothing was changed. "
            "Reload the page and try again.",
        )


def _back_to_sign_in(request: Request, exc: SignInRequired) -> Response:
    query: dict[str, str] = {}
    if exc.expired:
        query["expired"] = "1"
    if request.method == "GET" and request.headers.get("hx-request") != "true":
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if safe_next(wanted) == wanted:
            query["next"] = wanted
    target = f"{PREFIX}/login" + (f"?{urlencode(query)}" if query else "")
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _refusal(page: Page, exc: Refused) -> Response:
    if page.is_htmx:
        return page.render("_alert.html", status=exc.status, messages=[exc.detail])
    return page.render("error.html", status=exc.status, title=exc.title, detail=exc.detail)
