"""The HTTP side of secret hygiene (:mod:`tests.hygiene`): a pure ASGI middleware, outermost
on every app ``create_app`` makes, that searches each response's headers and body for issued
secrets.

The allow-list is the rule "a secret reaches its owner once": a response may carry a secret
only when the same request issued it and the route's job is to hand that kind of secret out
(:data:`HANDS_OUT`). Any other response that carries an issued secret leaks it, including a
later response on the same route (a second read of a link, a page that shows a code again).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actas.http.observe import _route
from tests.hygiene import ISSUED_HERE, RECORDER, kind

#: (method, route template) -> the kinds (:func:`tests.hygiene.kind`) of the secrets that
#: route hands to its owner, in the response to the request that made them. Each entry says
#: who the owner is.
HANDS_OUT: dict[tuple[str, str], tuple[str, ...]] = {
    # A staff member's own session: the bearer token, or the console's cookie.
    ("POST", "/v1/auth/login"): ("actas_st_",),
    ("POST", "/console/login"): ("actas_st_",),
    ("POST", "/console/login/passkey"): ("actas_st_",),
    ("GET", "/console/sso/callback"): ("actas_st_",),
    # The handoff code, to the staff member's browser that carries it to the app.
    ("POST", "/v1/access-requests/{request_id}/start"): ("actas_hc_",),
    ("POST", "/console/requests/{request}/start"): ("actas_hc_",),
    # Reopening a session just ended by mistake hands a fresh handoff code the same way.
    ("POST", "/v1/sessions/{session_id}/reopen"): ("actas_hc_",),
    ("POST", "/console/sessions/{session}/reopen"): ("actas_hc_",),
    # The app redeems the handoff code: its actor token and refresh handle; then refreshes.
    ("POST", "/v1/handoff/redeem"): ("actas_rh_", "actor token"),
    ("POST", "/v1/sessions/{session_id}/refresh"): ("actor token",),
    # The customer page: the app asks a one-time entry code for its signed-in customer; the
    # customer's browser redeems it for the page's cookie; the customer asks for a support
    # access code to read out (also the app's own API for it).
    ("POST", "/v1/customers/{subject_id}/page"): ("actas_cpc_",),
    ("GET", "/customer/page/enter"): ("actas_cps_",),
    ("POST", "/customer/page/codes"): ("code",),
    ("POST", "/v1/customers/{subject_id}/access-codes"): ("code",),
    # An admin adds a staff member or asks a new enrollment link: the link, for them to pass
    # on (it works once, and only until the member enrolls).
    ("POST", "/console/staff"): ("actas_en_",),
    ("POST", "/console/staff/{staff}/enrollment-link"): ("actas_en_",),
}

#: Confirmation pages reached from a link whose URL carries the token: the page's form posts
#: the same token back (GET changes nothing; a mail scanner may fetch it). They may show the
#: one token the request's own path presented, to the one who presented it, and nothing else.
ECHOES = frozenset(
    {
        ("GET", "/customer/end/{token}"),
        ("GET", "/customer/answer/{token}"),
        ("GET", "/console/enroll/{token}"),
        # The enrollment form shown again (a wrong code, a weak password): it posts to the
        # same link.
        ("POST", "/console/enroll/{token}"),
    }
)

#: How much of the previous body chunk is searched again with the next one, so a secret cut
#: in two by the chunking is still found (the longest secret is a few hundred characters).
_OVERLAP = 2048


def _allowed(method: str, route: str, issued: set[str], path: str) -> frozenset[str]:
    if (method, route) in ECHOES:
        return frozenset({path.rsplit("/", 1)[-1]})
    kinds = HANDS_OUT.get((method, route), ())
    return frozenset(s for s in issued if kind(s) in kinds)


class ResponseCapture:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        issued: set[str] = set()
        token = ISSUED_HERE.set(issued)
        method = str(scope.get("method", ""))
        tail = ""

        def where() -> str:
            return f"response {method} {_route(scope)}"

        def search(text: str) -> None:
            here = frozenset(issued)
            RECORDER.seen(
                where(),
                text,
                _allowed(method, _route(scope), issued, str(scope.get("path", ""))),
                here,
            )

        async def captured(message: Message) -> None:
            nonlocal tail
            if message["type"] == "http.response.start":
                head = [
                    f"{n.decode('latin-1')}: {v.decode('latin-1')}"
                    for n, v in message.get("headers", [])
                ]
                search(f"{message['status']}\n" + "\n".join(head))
            elif message["type"] == "http.response.body":
                chunk = bytes(message.get("body", b"")).decode("utf-8", "replace")
                if chunk:
                    search(tail + chunk)
                    tail = chunk[-_OVERLAP:]
            await send(message)

        try:
            await self.app(scope, receive, captured)
        finally:
            ISSUED_HERE.reset(token)


def capturing(create_app: Callable[..., Any]) -> Callable[..., Any]:
    """``create_app`` with :class:`ResponseCapture` outermost on the app it returns."""

    @functools.wraps(create_app)
    def create(*args: Any, **kwargs: Any) -> Any:
        app = create_app(*args, **kwargs)
        app.add_middleware(ResponseCapture)
        return app

    return create
