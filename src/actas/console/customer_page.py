"""The customer page: the customer's own view of support access to their account, served by
the broker and signed in through the application (``services/customer_page.py``).

Its own cookie (``__Host-actas_customer``), never the staff session's; every form carries a
token bound to that cookie (the console's scheme, ``console/csrf.py``) and is refused when the
browser says it came from another site. Pages carry the console's strict CSP (no inline
script), ``no-store`` and ``Referrer-Policy: no-referrer`` (the sign-in code is in the URL
once). Only the application decides who is an account admin: only they see and change the
account's policy.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, request_response

from actas.console import csrf, customer_history, timefmt
from actas.console.web import PREFIX, TEMPLATES, sentence, status_for
from actas.domain.audit import AuditQuery
from actas.domain.consent import CustomerRule
from actas.domain.errors import ActasError, Forbidden, InvalidInput
from actas.http.callers import request_actor, services_of
from actas.http.downloads import attachment
from actas.http.security_headers import SecurityHeaders
from actas.services import access_codes, consent, customer_page, customer_policy
from actas.services import audit as audit_service
from actas.services.customer_page import Visitor

#: The customer page's cookie: ``__Host-`` (Secure, Path=/, no Domain), apart from staff's.
COOKIE = "__Host-actas_customer"
HOME = "/customer/page"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

DONE = {
    "granted": "Support can now reach your account until the time shown.",
    "revoked": "Access is revoked. Any support session that relied on it has ended.",
    "policy": "Your account's policy is saved.",
}
DURATIONS = {60: "1 hour", 24 * 60: "1 day", 7 * 24 * 60: "1 week"}
#: The audit log downloads an account admin may take: days back ("all": everything).
AUDIT_RANGES = {"90": "the last 90 days", "365": "the last year", "all": "everything"}


def _words(minutes: int) -> str:
    return DURATIONS.get(minutes, f"{minutes} minutes")


def _render(template: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = _env.get_template(template).render(static=f"{PREFIX}/static", **values)
    return HTMLResponse(html, status_code=status)


def _ended(status: int = 401) -> Response:
    return _render(
        "customer_done.html",
        status,
        title="Please sign in again",
        message="This page opens from your account in the app. Open it from there again.",
    )


async def enter(request: Request) -> Response:
    """The browser brings the one-time code: swap it for the page's cookie."""
    code = request.query_params.get("code", "")[:300]
    actor = request_actor(request, None)
    try:
        visit, cookie = await run_in_threadpool(
            lambda: customer_page.sign_in(services_of(request), code=code, by=actor)
        )
    except ActasError:
        return _ended()
    response = RedirectResponse(HOME, status_code=303)
    # Lax, not Strict: the customer arrives by a link from the application's site, and the
    # redirect that follows must carry the cookie. Forms are held by the CSRF token.
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int((visit.expires_at - visit.redeemed_at).total_seconds())
        if visit.expires_at and visit.redeemed_at
        else None,
        path="/",
        secure=True,
        httponly=True,
        samesite="lax",
    )
    return response


Handler = Callable[[Request, Visitor, FormData | None], Response]


def page(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Sign the customer in from the cookie, check a POST's origin and token, run ``fn``."""

    async def endpoint(request: Request) -> Response:
        ctx = services_of(request)
        cookie = request.cookies.get(COOKIE, "")
        actor = request_actor(request, None)
        try:
            who = await run_in_threadpool(lambda: customer_page.visitor(ctx, cookie, by=actor))
        except ActasError:
            return _ended()
        form = None
        if request.method == "POST":
            form = await request.form(max_files=0, max_fields=20)
            reason = csrf.cross_site(request.headers, csrf.origin_of(ctx.public_url))
            given = form.get(csrf.FIELD)
            if reason is not None or not csrf.same(
                csrf.session_token(cookie), given if isinstance(given, str) else None
            ):
                return _render(
                    "customer_done.html",
                    403,
                    title="Form refused",
                    message="This form's security token is missing or wrong, so nothing was "
                    "changed. Reload the page and try again.",
                )
        return await run_in_threadpool(fn, request, who, form)

    return endpoint


def _field(form: FormData | None, name: str, limit: int = 100) -> str:
    value = form.get(name) if form is not None else None
    if not isinstance(value, str):
        return ""
    if len(value) > limit:
        raise InvalidInput(f"{name.replace('_', ' ')} is longer than {limit} characters")
    return value


def _minutes(form: FormData | None, name: str) -> int:
    text = _field(form, name, 10)
    if not text.isdigit():
        raise InvalidInput("choose how long support may have access")
    return int(text)


def show(
    request: Request,
    who: Visitor,
    *,
    status: int = 200,
    errors: tuple[str, ...] = (),
    code: access_codes.IssuedCode | None = None,
) -> Response:
    ctx = services_of(request)
    tz = timefmt.zone(request.cookies.get(timefmt.TZ_COOKIE))
    app, subject = who.application, who.visit.subject_id
    now = ctx.clock()
    grants = consent.grants_of(ctx, app=app, subject_id=subject)
    return _render(
        "customer_page.html",
        status,
        title=f"Support access to your {app.name or app.id} account",
        who=who,
        csrf_field=csrf.FIELD,
        csrf_token=csrf.session_token(request.cookies.get(COOKIE, "")),
        notice=DONE.get(request.query_params.get("done", "")),
        errors=errors,
        live=[g for g in grants if g.revoked_at is None and g.expires_at > now],
        durations=[(m, _words(m)) for m in ctx.policy.grant_minutes],
        code=code,
        policy=customer_policy.get_policy(ctx, app=app, subject_id=subject)
        if who.visit.account_admin
        else None,
        rules=[
            (CustomerRule.DEFAULT.value, "As the service's default policy says"),
            (CustomerRule.CONSENT.value, "Only with our consent, each time"),
            (CustomerRule.NEVER.value, "Never"),
        ],
        history=customer_policy.history(ctx, app=app, subject_id=subject),
        audit_ranges=list(AUDIT_RANGES.items()),
        jwks_url=f"{ctx.public_url.rstrip('/')}/.well-known/jwks.json",
        when=lambda at: timefmt.when(at, tz),
        tz_name=timefmt.zone_name(tz),
    )


def _done(what: str) -> Response:
    return RedirectResponse(f"{HOME}?{urlencode({'done': what})}", status_code=303)


def _acting(action: Callable[[Request, Visitor, FormData | None], Response]) -> Handler:
    """A form's handler: a service's refusal is shown on the page, with its status."""

    def handler(request: Request, who: Visitor, form: FormData | None) -> Response:
        try:
            return action(request, who, form)
        except ActasError as exc:
            return show(request, who, status=status_for(exc), errors=(sentence(exc.detail),))

    return handler


def home(request: Request, who: Visitor, form: FormData | None) -> Response:
    return show(request, who)


def grant(request: Request, who: Visitor, form: FormData | None) -> Response:
    consent.grant_access(
        services_of(request),
        app=who.application,
        subject_id=who.visit.subject_id,
        minutes=_minutes(form, "minutes"),
        read_only=_field(form, "read_only", 10) == "on",
        case_id=_field(form, "case", 36).strip() or None,
        by=who.actor,
    )
    return _done("granted")


def revoke(request: Request, who: Visitor, form: FormData | None) -> Response:
    consent.revoke_grant(
        services_of(request),
        app=who.application,
        subject_id=who.visit.subject_id,
        grant_id=str(request.path_params["grant"])[:36],
        by=who.actor,
    )
    return _done("revoked")


def new_code(request: Request, who: Visitor, form: FormData | None) -> Response:
    issued = access_codes.issue_code(
        services_of(request),
        app=who.application,
        subject_id=who.visit.subject_id,
        grant_minutes=_minutes(form, "grant_minutes"),
        read_only=_field(form, "read_only", 10) == "on",
        ttl_minutes=10,
        by=who.actor,
    )
    # Shown once, on this response (no-store): never put in a URL.
    return show(request, who, status=201, code=issued)


def set_policy(request: Request, who: Visitor, form: FormData | None) -> Response:
    if not who.visit.account_admin:
        raise Forbidden("only your account's admins may change its policy")
    customer_policy.set_policy(
        services_of(request),
        app=who.application,
        subject_id=who.visit.subject_id,
        rule=_field(form, "rule", 16),
        notify_every_session=_field(form, "notify", 10) == "on",
        by=who.actor,
    )
    return _done("policy")


def sign_out(request: Request, who: Visitor, form: FormData | None) -> Response:
    customer_page.sign_out(services_of(request), who)
    response = _render(
        "customer_done.html",
        title="Signed out",
        message="You have left the support access page. Open it from the app to come back.",
    )
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


def export(fmt: str) -> Handler:
    def handler(request: Request, who: Visitor, form: FormData | None) -> Response:
        ctx = services_of(request)
        entries = customer_policy.history(ctx, app=who.application, subject_id=who.visit.subject_id)
        body, media_type = customer_history.render(entries, fmt)
        name = customer_history.filename(who.visit.account_id, ctx.clock(), fmt)
        return Response(
            body, media_type=media_type, headers={"content-disposition": attachment(name)}
        )

    return handler


def audit_log(request: Request, who: Visitor, form: FormData | None) -> Response:
    """Every audit event about the visitor's account (of this application) with its inclusion
    proof: for the account's admins, who answer to their own auditors for who reached it."""
    if not who.visit.account_admin:
        raise Forbidden("only your account's admins may download its audit log")
    days = request.query_params.get("days", "90")
    if days not in AUDIT_RANGES:
        raise InvalidInput(f"choose one of: {', '.join(AUDIT_RANGES)}")
    ctx = services_of(request)
    since = None if days == "all" else ctx.clock() - timedelta(days=int(days))
    query = AuditQuery(application=who.application.id, account=who.visit.account_id, since=since)
    made = audit_service.export(ctx, query, "jsonl")
    return StreamingResponse(
        made.body,
        media_type=made.media_type,
        headers={"content-disposition": attachment(made.filename)},
    )


def _wrap(fn: Handler) -> Any:
    # The console's same-origin referrer policy: the page's own forms must carry its Origin
    # (no-referrer would make it "null"). Only ``enter`` has a secret in its URL.
    return SecurityHeaders(request_response(page(fn)))


router = APIRouter(include_in_schema=False)
router.routes.append(
    Route(
        customer_page.ENTER_PATH,
        SecurityHeaders(request_response(enter), overrides={"referrer-policy": "no-referrer"}),
        methods=["GET"],
    )
)
for _path, _fn, _method in (
    ("", home, "GET"),
    ("/grants", _acting(grant), "POST"),
    ("/grants/{grant}/revoke", _acting(revoke), "POST"),
    ("/codes", _acting(new_code), "POST"),
    ("/policy", _acting(set_policy), "POST"),
    ("/sign-out", sign_out, "POST"),
    ("/history.csv", export("csv"), "GET"),
    ("/history.jsonl", export("jsonl"), "GET"),
    ("/audit.jsonl", _acting(audit_log), "GET"),
):
    router.routes.append(Route(HOME + _path, _wrap(_fn), methods=[_method]))
