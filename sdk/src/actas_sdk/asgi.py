"""Pure ASGI middleware (Starlette, FastAPI, any ASGI app). No ``BaseHTTPMiddleware``: it
costs as much as a token check and breaks contextvars.

Install::

    app.add_middleware(ActAsMiddleware, actas=actas, load_user=load_user)

Requests without the SDK cookie (or an actor token on an API route) go straight through.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from actas_sdk import errors
from actas_sdk._replies import Reply
from actas_sdk._runtime import ActAs, Admission
from actas_sdk.context import ImpersonationContext, enter, leave
from actas_sdk.markers import NO_MARKS, Marks, marks_of
from actas_sdk.verify import NeedsIO, claims_to_be_actor_token

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UserLoader = Callable[[ImpersonationContext], Any]

log = logging.getLogger("actas_sdk")

#: HTML larger than this is streamed on after the banner went in near its top.
MAX_BUFFER = 8 * 1024 * 1024
_MAX_FORM = 4096
_HTML_TYPES = (b"text/html", b"application/xhtml+xml")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_STORE = (b"cache-control", b"no-store, private")


async def _in_thread(func: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, func)


async def _send_reply(send: Send, reply: Reply, extra: list[tuple[str, str]] | None = None) -> None:
    pairs = reply.headers + (extra or [])
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


class ActAsMiddleware:
    """See the module docstring. ``load_user(context)`` returns the application's user for
    the subject (or an awaitable of it); None refuses the impersonation."""

    def __init__(self, app: ASGIApp, *, actas: ActAs, load_user: UserLoader | None = None) -> None:
        self.app = app
        self.actas = actas
        self.load_user = load_user
        config = actas.config
        self._cookie_marker = f"{config.cookie_name}=".encode()
        self._propagation = config.propagation_header.lower().encode("latin-1")
        self._has_api = bool(actas.rules.api)
        self._own_paths = actas.own_paths
        self._issuer = config.expected_issuer
        self._resolved: OrderedDict[tuple[str, str], tuple[Marks, str | None]] = OrderedDict()
        actas.start()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self._own_paths:
            await self._own_endpoint(scope, receive, send)
            return
        cookie: str | None = None
        bearer: str | None = None
        if self._has_api:
            for name, value in scope["headers"]:
                if name == b"cookie":
                    if self._cookie_marker in value:
                        cookie = self._cookie(value)
                elif name == b"authorization" or name == self._propagation:
                    bearer = self._bearer(scope, name, value) or bearer
        else:  # a normal user's request: one comparison per header
            for name, value in scope["headers"]:
                if name == b"cookie" and self._cookie_marker in value:
                    cookie = self._cookie(value)
        if cookie is None and bearer is None:
            await self.app(scope, receive, send)
            return
        await self._impersonated(scope, receive, send, cookie, bearer)

    def _cookie(self, header: bytes) -> str | None:
        """Our cookie's value, read straight from the header bytes."""
        marker = self._cookie_marker
        at = header.find(marker)
        while at > 0 and header[at - 1] not in b" ;":  # "xactas_sdk=" is not ours
            at = header.find(marker, at + 1)
        if at < 0:
            return None
        end = header.find(b";", at)
        value = header[at + len(marker) : end if end >= 0 else len(header)].strip(b' "')
        return value.decode("latin-1") or None

    def _bearer(self, scope: Scope, name: bytes, value: bytes) -> str | None:
        if not self.actas.is_api(scope["method"], scope["path"]):
            return None
        text = value.decode("latin-1").strip()
        if name == self._propagation:
            return text or None
        scheme, _, token = text.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        return token if claims_to_be_actor_token(token, self._issuer) else None

    async def _admit_slowly(self, cookie: str | None, bearer: str | None) -> Admission:
        """The admission when it needs the broker (keys, first sync, refresh): in a thread."""
        if bearer is not None:
            call = functools.partial(self.actas.admit_bearer, bearer)
        else:
            assert cookie is not None
            call = functools.partial(self.actas.admit_cookie, cookie)
        admission: Admission = await _in_thread(call)
        return admission

    def _wants_json(self, scope: Scope, bearer: str | None) -> bool:
        if bearer is not None or self.actas.is_api(scope["method"], scope["path"]):
            return True
        for name, value in scope["headers"]:
            if name == b"accept":
                return b"json" in value and b"text/html" not in value
        return False

    async def _impersonated(
        self, scope: Scope, receive: Receive, send: Send, cookie: str | None, bearer: str | None
    ) -> None:
        actas = self.actas
        via_cookie = bearer is None
        try:
            try:  # the common case answers from memory, without a thread hop
                if bearer is not None:
                    admission = actas.admit_bearer(bearer, allow_io=False)
                else:
                    assert cookie is not None
                    admission = actas.admit_cookie(cookie, allow_io=False)
            except NeedsIO:
                admission = await self._admit_slowly(cookie, bearer)
            context = admission.context
            user = None
            # In assist the staff member stays themselves: the customer is never loaded.
            if self.load_user is not None and not context.is_assist:
                user = self.load_user(context)
                if inspect.isawaitable(user):
                    user = await user
                if user is None:
                    raise errors.SubjectNotLoaded(f"no user {context.subject[:40]} here")
        except errors.ActAsError as exc:
            log.info("impersonation refused: %s", exc)
            reply = actas.ended(exc, api=self._wants_json(scope, bearer), cookie=via_cookie)
            await _send_reply(send, reply)
            return
        frame, token = enter(context, at=actas.clock())
        try:
            state = scope.get("state")
            if state is None:
                state = scope["state"] = {}
            state["actas"] = context
            state["actas_user"] = user
            if user is not None:
                scope["user"] = user
            method: str = scope["method"]
            root = scope.get("root_path", "")
            marks, template = self._resolve(scope)
            # The common case (a read of an unmarked view) needs no rule engine at all.
            if marks is NO_MARKS and method in _READS and context.kind != "assist":
                refusal = None
            else:
                refusal = actas.check(context, method, scope["path"], marks=marks)
            if refusal is not None:
                actas.record_refusal(context, method, template, refusal)
                extra = [("Set-Cookie", admission.set_cookie)] if admission.set_cookie else []
                reply = actas.refusal_reply(context, refusal, api=self._wants_json(scope, bearer))
                await _send_reply(send, reply, extra)
                return
            if method == "GET":
                # A page for the banner must come uncompressed; other calls keep compression.
                scope["headers"] = _for_pages(scope["headers"])
            responder = _Responder(send, actas, context, admission.set_cookie, method)
            try:
                await self.app(scope, receive, responder.send)
            finally:
                # The template found before the call; the router's own only when none was.
                route = template if template is not None else _template(scope, root)
                actas.record(
                    frame, method=method, route=route, status=responder.status, path=scope["path"]
                )
        finally:
            leave(token)

    def _resolve(self, scope: Scope) -> tuple[Marks, str | None]:
        """The marks of the view the router will pick, and its route template
        (Starlette-style routers), remembered per method and path."""
        key = (scope["method"], scope["path"])
        found = self._resolved.get(key)
        if found is not None:
            return found
        routes = getattr(getattr(scope.get("app"), "router", None), "routes", None)
        view, template = _walk(routes, scope, "") if routes is not None else (None, None)
        found = (marks_of(view, scope["method"]), template)
        self._resolved[key] = found
        if len(self._resolved) > 1024:
            self._resolved.popitem(last=False)
        return found

    async def _own_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        actas = self.actas
        method: str = scope["method"]
        path: str = scope["path"]
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name, value)
        cookie_header = headers.get(b"cookie")
        cookie = (
            actas.cookies.read(cookie_header.decode("latin-1"))
            if cookie_header is not None and self._cookie_marker in cookie_header
            else None
        )
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        fields: dict[str, list[str]] = {}
        if method == "POST" and path in (actas.end_path, actas.config.link_route):
            body = b""
            more = True
            while more and len(body) <= _MAX_FORM:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            fields = parse_qs(body[:_MAX_FORM].decode("latin-1"))

        def field(name: str) -> str | None:
            values = fields.get(name) or []
            return values[0] if len(values) == 1 else None

        def header(name: str) -> str | None:
            value = headers.get(name.lower().encode("latin-1"))
            return value.decode("latin-1") if value is not None else None

        def one(name: str) -> str | None:
            values = query.get(name) or []
            return values[0] if len(values) == 1 else None

        call = functools.partial(
            actas.serve,
            method,
            path,
            cookie=lambda: cookie,
            query=one,
            form=field,
            header=header,
        )
        # Handoff, End and a link's POST call the broker: in a thread. The rest answer from memory.
        if path in (actas.handoff_path, actas.end_path, actas.config.link_route):
            reply: Reply = await _in_thread(call)
        else:
            reply = call()
        await _send_reply(send, reply)


def _for_pages(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    for name, value in headers:
        if name == b"accept":
            if b"text/html" in value:
                return [h for h in headers if h[0] != b"accept-encoding"]
            break
    return headers


def _walk(routes: Any, scope: Scope, prefix: str) -> tuple[object, str | None]:
    for route in routes:
        try:
            match, child = route.matches(scope)
        except Exception:  # noqa: S112 (a route we cannot ask is a route we skip)
            continue
        if getattr(match, "name", None) != "FULL":
            continue
        path = prefix + str(getattr(route, "path", ""))
        inner = getattr(route, "routes", None)
        if inner:
            return _walk(inner, {**scope, **child}, path)
        return child.get("endpoint"), path
    return None, None


def _template(scope: Scope, root: str) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    mounted = scope.get("root_path", "")
    return (mounted[len(root) :] if mounted.startswith(root) else "") + path


class _Responder:
    """Wraps ``send``: status for the audit event, the refreshed cookie, no caching, and the
    banner (with analytics scripts removed) in HTML documents."""

    __slots__ = (
        "_buffer",
        "_csp",
        "_send",
        "_start",
        "actas",
        "context",
        "method",
        "set_cookie",
        "status",
    )

    def __init__(
        self,
        send: Send,
        actas: ActAs,
        context: ImpersonationContext,
        set_cookie: str | None,
        method: str,
    ) -> None:
        self._send = send
        self.actas = actas
        self.context = context
        self.set_cookie = set_cookie
        self.method = method
        self.status: int | None = None
        self._start: Message | None = None
        self._buffer: list[bytes] | None = None
        self._csp: str | None = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            # Added, not replaced: with several Cache-Control headers no-store still wins.
            headers = list(message.get("headers", ()))
            headers.append(_NO_STORE)
            if self.set_cookie is not None:
                headers.append((b"set-cookie", self.set_cookie.encode("latin-1")))
            message = {**message, "headers": headers}
            if self._wants_banner(headers):
                self._start = message
                self._buffer = []
                return
            await self._send(message)
            return
        if kind == "http.response.body" and self._buffer is not None:
            self._buffer.append(message.get("body", b""))
            more = message.get("more_body", False)
            if more and sum(map(len, self._buffer)) < MAX_BUFFER:
                return
            await self._flush(more)
            return
        await self._send(message)

    def _wants_banner(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if self.method == "HEAD" or self.status in (204, 304):
            return False
        html = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == b"content-type":
                kind = value.lower()
                html = kind.startswith(_HTML_TYPES) and b"utf-16" not in kind
            elif lowered == b"content-encoding" and value.lower() not in (b"identity", b""):
                return False
            elif lowered == b"content-security-policy":
                self._csp = value.decode("latin-1")
        return html

    async def _flush(self, more: bool) -> None:
        assert self._start is not None
        assert self._buffer is not None
        body = b"".join(self._buffer)
        self._buffer = None
        body = self.actas.decorate_html(body, self.context, self._csp)
        headers = [(k, v) for k, v in self._start["headers"] if k.lower() != b"content-length"]
        if not more:
            headers.append((b"content-length", str(len(body)).encode()))
        await self._send({**self._start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": more})
