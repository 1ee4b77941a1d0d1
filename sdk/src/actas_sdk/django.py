"""Django adapter: a middleware, an e-mail backend that stays quiet during impersonation, and
a switch for ``user_logged_in`` receivers (``update_last_login``).

Settings::

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "actas_sdk.django.ActAsMiddleware", ...]
    ACTAS_SDK = "myapp.support.actas"            # dotted path to the ActAs instance
    ACTAS_LOAD_USER = "myapp.support.load_user"  # ImpersonationContext -> user or None
    EMAIL_BACKEND = "actas_sdk.django.SuppressingEmailBackend"
    ACTAS_EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

Views read ``request.actas`` (the context or None); ``request.user`` is the loaded subject.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, cast

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.utils.module_loading import import_string

from actas_sdk import errors
from actas_sdk._replies import Reply
from actas_sdk._runtime import ActAs, Admission
from actas_sdk.context import ImpersonationContext, count_suppressed, enter, leave, suppressed

#: HTML larger than this is streamed on after the banner went in near its top.
MAX_BUFFER = 8 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


def _set_cookie(response: HttpResponseBase, header: str) -> None:
    """Put a ``Set-Cookie`` value (ours, see ``CookieJar``, or one a link handler of the
    application returned) into Django's cookie jar, keeping its attributes."""
    first, *attributes = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    flags: dict[str, str] = {}
    for attribute in attributes:
        key, _, val = attribute.partition("=")
        flags[key.lower()] = val
    samesite = flags.get("samesite")
    response.set_cookie(
        name,
        "" if value == '""' else value,
        max_age=int(flags["max-age"]) if "max-age" in flags else None,
        path=flags.get("path") or "/",
        secure="secure" in flags,
        httponly="httponly" in flags,
        samesite=samesite.capitalize() if samesite else None,  # type: ignore[arg-type]
    )


def _response(reply: Reply) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status)
    for name, value in reply.headers:
        if name.lower() == "set-cookie":
            _set_cookie(response, value)
        else:
            response.headers[name] = value
    return response


def _meta_header(meta: Mapping[str, Any], name: str) -> str | None:
    """One request header straight from the WSGI environ (``Authorization`` is
    ``HTTP_AUTHORIZATION``)."""
    value = meta.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def _setting(name: str) -> Any:
    value = getattr(settings, name, None)
    return import_string(value) if isinstance(value, str) else value


class ActAsMiddleware:
    """The SDK as Django middleware (synchronous)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        actas = _setting("ACTAS_SDK")
        if callable(actas) and not isinstance(actas, ActAs):
            actas = actas()
        if not isinstance(actas, ActAs):
            raise errors.ConfigError("settings.ACTAS_SDK must name an ActAs instance")
        self.actas: ActAs = actas
        self.load_user: Callable[[ImpersonationContext], Any] | None = _setting("ACTAS_LOAD_USER")
        self._cookie_marker = actas.cookies.name + "="
        # Only a request with one of these can carry an actor token on an API route.
        self._api_keys: tuple[str, ...] = ()
        if actas.rules.api:
            propagation = actas.config.propagation_header.upper().replace("-", "_")
            self._api_keys = ("HTTP_AUTHORIZATION", "HTTP_" + propagation)
        actas.start()

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        actas = self.actas
        method = request.method or "GET"
        if request.path in actas.own_paths:

            def one(name: str) -> str | None:
                values = request.GET.getlist(name)
                return values[0] if len(values) == 1 else None

            return _response(
                actas.serve(
                    method,
                    request.path,
                    cookie=lambda: request.COOKIES.get(actas.cookies.name),
                    query=one,
                    form=request.POST.get,
                    header=request.headers.get,
                )
            )
        request.actas = None  # type: ignore[attr-defined]
        # A normal user's request must cost next to nothing: read the raw META, never
        # ``request.headers`` (built from every header) or ``request.COOKIES`` (parsed) unless
        # our cookie's name is in the header at all.
        meta = request.META
        api_keys = self._api_keys
        bearer = (
            actas.api_token(method, request.path, functools.partial(_meta_header, meta))
            if api_keys and (api_keys[0] in meta or api_keys[1] in meta)
            else None
        )
        cookie = None
        if bearer is None:
            header = meta.get("HTTP_COOKIE", "")
            if self._cookie_marker in header:
                # Read from the raw header like the other adapters (the first of our name),
                # without parsing every cookie into request.COOKIES.
                cookie = actas.cookies.read(header)
        if bearer is None and not cookie:
            return self.get_response(request)
        api = bearer is not None or (bool(api_keys) and actas.is_api(method, request.path))
        try:
            admission: Admission = (
                actas.admit_bearer(bearer)
                if bearer is not None
                else actas.admit_cookie(cookie or "")
            )
            context = admission.context
            # In assist the staff member stays themselves: the customer is never loaded.
            loader = None if context.is_assist else self.load_user
            user = loader(context) if loader is not None else None
            if loader is not None and user is None:
                raise errors.SubjectNotLoaded(f"no user {context.subject[:40]} here")
        except errors.ActAsError as exc:
            wants_json = api or "application/json" in request.headers.get("Accept", "")
            return _response(actas.ended(exc, api=wants_json, cookie=bearer is None))
        frame, token = enter(context, at=actas.clock())
        try:
            request.actas = context  # type: ignore[attr-defined]
            request.actas_user = user  # type: ignore[attr-defined]
            request._actas_api = api  # type: ignore[attr-defined]
            if user is not None:
                request.user = user
            response = self.get_response(request)
            if admission.set_cookie:
                _set_cookie(response, admission.set_cookie)
            response.headers["Cache-Control"] = "no-store, private"
            if _wants_banner(method, response):
                self._decorate(response, context)
            if not getattr(request, "_actas_refused", False):
                match = request.resolver_match
                route = "/" + match.route.lstrip("/") if match is not None else None
                actas.record(
                    frame,
                    method=method,
                    route=route,
                    status=response.status_code,
                    path=request.path,
                )
            return response
        finally:
            leave(token)

    def _decorate(self, response: HttpResponseBase, context: ImpersonationContext) -> None:
        csp = response.headers.get("Content-Security-Policy")
        if isinstance(response, StreamingHttpResponse):
            if response.is_async:  # a sync middleware cannot rewrite an async stream
                return
            chunks = cast(Iterable[object], response.streaming_content)
            response.streaming_content = _streamed(self.actas, context, chunks, csp)
            response.headers.pop("Content-Length", None)
        elif isinstance(response, HttpResponse):
            response.content = self.actas.decorate_html(response.content, context, csp)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Sequence[Any],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        context: ImpersonationContext | None = getattr(request, "actas", None)
        if context is None:
            return None
        method = request.method or "GET"
        refusal = self.actas.check(context, method, request.path, view_func)
        if refusal is None:
            return None
        match = request.resolver_match
        route = "/" + match.route.lstrip("/") if match is not None else None
        self.actas.record_refusal(context, method, route, refusal)
        request._actas_refused = True  # type: ignore[attr-defined]
        api = getattr(request, "_actas_api", False)
        # __call__ adds the banner on the way out, as to every page
        return _response(self.actas.refusal_reply(context, refusal, api=api, with_banner=False))


def _streamed(
    actas: ActAs, context: ImpersonationContext, chunks: Iterable[object], csp: str | None
) -> Iterator[bytes]:
    buffered: list[bytes] = []
    size = 0
    iterator = iter(chunks)
    for chunk in iterator:
        data = chunk if isinstance(chunk, bytes) else str(chunk).encode()
        buffered.append(data)
        size += len(data)
        if size >= MAX_BUFFER:
            break
    yield actas.decorate_html(b"".join(buffered), context, csp)
    for chunk in iterator:
        yield chunk if isinstance(chunk, bytes) else str(chunk).encode()


def _wants_banner(method: str, response: HttpResponseBase) -> bool:
    if method == "HEAD" or response.status_code in (204, 304):
        return False
    kind = response.headers.get("Content-Type", "").lower()
    if not kind.startswith(_HTML_TYPES) or "utf-16" in kind:  # most API answers stop here
        return False
    return response.headers.get("Content-Encoding", "identity") in ("identity", "")


class SuppressingEmailBackend(BaseEmailBackend):
    """Sends through ``settings.ACTAS_EMAIL_BACKEND``, except during impersonation: then
    every message is counted as a suppressed ``email`` and reported as sent."""

    def __init__(self, fail_silently: bool = False, **kwargs: Any) -> None:
        super().__init__(fail_silently=fail_silently)
        path = getattr(
            settings, "ACTAS_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"
        )
        self.inner = get_connection(path, fail_silently=fail_silently, **kwargs)

    def open(self) -> bool | None:
        return self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        messages = list(email_messages)
        if suppressed():
            count_suppressed("email", len(messages))
            return len(messages)
        return self.inner.send_messages(messages)


_silenced: dict[str, Callable[..., Any]] = {}


def silence_login_signals() -> None:
    """Keep ``user_logged_in`` receivers (``update_last_login``, your activity tracking)
    from running during impersonation; each skip is counted as ``last_login``. Idempotent."""
    from django.contrib.auth.signals import user_logged_in

    if "user_logged_in" in _silenced:
        return
    original = user_logged_in.send
    _silenced["user_logged_in"] = original

    def send(sender: Any, **named: Any) -> list[tuple[Any, Any]]:
        if suppressed():
            count_suppressed("last_login")
            return []
        return original(sender, **named)

    user_logged_in.send = send  # type: ignore[method-assign]
