"""The customer's pages on the broker, reached from an email with nothing but its one-time
token: the kill switch (``/customer/end/<token>``) and the close-out answer
(``/customer/answer/<token>?answer=yes``).

GET shows a confirmation page and changes nothing: mail scanners and link previews fetch
links, and must end no session. The page's form POSTs the token back in its body (the token is
the capability; the customer has no broker account, so there is no session to forge), and the
POST is accepted only from the broker's own origin. Pages carry the console's strict CSP,
``no-store`` and ``Referrer-Policy: no-referrer``, so the token in the URL leaves with no
request.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import jinja2
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, request_response

from actas.console.web import PREFIX, TEMPLATES
from actas.domain.customer import ActionKind, FixAnswer
from actas.domain.errors import ActasError
from actas.http.callers import request_actor, services_of
from actas.http.problems import STATUS
from actas.http.security_headers import SecurityHeaders
from actas.services import customer as customer_service

log = logging.getLogger("actas.customer")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: What the customer reads when a link cannot be used: never why in more detail.
REFUSALS = {
    "action_used": "This link was already used.",
    "action_expired": "This link has expired.",
}
REFUSED = "This link cannot be used. It may be mistyped, or it was replaced."


def _render(template: str, status: int = 200, **values: Any) -> Response:
    html = _env.get_template(template).render(static=f"{PREFIX}/static", **values)
    return HTMLResponse(html, status_code=status)


def _refused(exc: ActasError) -> Response:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    return _render(
        "customer_done.html",
        status,
        title="Link not usable",
        message=REFUSALS.get(exc.code, REFUSED),
    )


def _same_origin(request: Request) -> bool:
    """A POST counts only when the browser says it came from the broker's own page.

    ``Sec-Fetch-Site`` decides when the browser sends it (no page can set it). Without it,
    ``Origin`` must be the broker's own. The pages are ``Referrer-Policy: no-referrer``, so a
    browser sends ``Origin: null`` with their form: that alone proves nothing either way."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return False
    ours = urlsplit(services_of(request).public_url)
    theirs = urlsplit(origin)
    return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


async def _token(request: Request) -> str:
    form = await request.form(max_files=0, max_fields=4)
    value = form.get("token")
    return value[:300] if isinstance(value, str) else ""


async def end_page(request: Request) -> Response:
    ctx = services_of(request)
    token = str(request.path_params["token"])[:300]
    try:
        pending = await run_in_threadpool(customer_service.look, ctx, token, ActionKind.END_SESSION)
    except ActasError as exc:
        return _refused(exc)
    return _render(
        "customer_end.html",
        title="End the support session",
        app_name=pending.application_name,
        live=pending.live,
        token=token,
    )


async def end(request: Request) -> Response:
    if not _same_origin(request):
        return _render("customer_done.html", 403, title="Refused", message=REFUSED)
    token = await _token(request)
    actor = request_actor(request, None)
    try:
        await run_in_threadpool(
            lambda: customer_service.end_session(services_of(request), token=token, by=actor)
        )
    except ActasError as exc:
        return _refused(exc)
    return _render(
        "customer_done.html",
        title="The session has ended",
        message="The support session has ended. Support can no longer see your account "
        "through it. You will get an email saying what was viewed and changed.",
    )


async def answer_page(request: Request) -> Response:
    ctx = services_of(request)
    token = str(request.path_params["token"])[:300]
    said = request.query_params.get("answer", "yes")
    try:
        pending = await run_in_threadpool(customer_service.look, ctx, token, ActionKind.CONFIRM_FIX)
    except ActasError as exc:
        return _refused(exc)
    return _render(
        "customer_answer.html",
        title="Did the fix work?",
        app_name=pending.application_name,
        token=token,
        yes=said != FixAnswer.NO.value,
    )


async def answer(request: Request) -> Response:
    if not _same_origin(request):
        return _render("customer_done.html", 403, title="Refused", message=REFUSED)
    form = await request.form(max_files=0, max_fields=4)
    token = form.get("token")
    said = form.get("answer")
    actor = request_actor(request, None)
    try:
        await run_in_threadpool(
            lambda: customer_service.answer(
                services_of(request),
                token=token[:300] if isinstance(token, str) else "",
                answer=said[:8] if isinstance(said, str) else "",
                by=actor,
            )
        )
    except ActasError as exc:
        return _refused(exc)
    return _render(
        "customer_done.html", title="Thank you", message="Your answer is recorded. Thank you."
    )


def _wrap(endpoint: Any) -> Any:
    return SecurityHeaders(request_response(endpoint), overrides={"referrer-policy": "no-referrer"})


router = APIRouter(include_in_schema=False)
for _path, _fn, _method in (
    ("/customer/end/{token}", end_page, "GET"),
    ("/customer/end", end, "POST"),
    ("/customer/answer/{token}", answer_page, "GET"),
    ("/customer/answer", answer, "POST"),
):
    router.routes.append(Route(_path, _wrap(_fn), methods=[_method]))
