"""The HTML pages' response headers: a strict Content-Security-Policy and its companions.

Pure ASGI, wrapped around each console route, the API docs page and their static files, so that
the API's JSON responses keep their own headers and the cost is one header merge per response.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: No inline script or style, nothing from another host, no framing, forms post only here.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class SecurityHeaders:
    """Add :data:`HEADERS` to every response, and ``Cache-Control`` unless the response set
    its own (pages are ``no-store``: they show customer data and staff secrets)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        cache_control: str = "no-store",
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.cache_control = cache_control
        self.headers = {**HEADERS, **(overrides or {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["cache-control"] = self.cache_control
            await send(message)

        await self.app(scope, receive, send_with_headers)
