"""Flask (WSGI) adapter: a gate in front of the app, the SDK's steps inside it, and the SDK's
two endpoints.

Install::

    from actas_sdk.flask import init_app
    init_app(app, actas, load_user=load_user)

Views read ``flask.g.actas`` (the context or None) and ``flask.g.actas_user``.

A normal user's request costs one look at the raw ``Cookie`` header: the gate (wrapped around
``app.wsgi_app``) passes it straight to the app, and no request hook of the SDK runs for it
(a registered ``before_request``/``after_request``/``teardown_request`` hook costs every
request of the app). A request that carries the SDK's cookie, or a credential on an API route,
is marked for the length of the call; the app's ``preprocess_request`` then runs the SDK's
checks first (before the app's own ``before_request`` hooks, which see ``g.actas``), and its
``process_response`` gives the SDK the last word on the response (no-store, the refreshed
cookie, the banner) after the app's own ``after_request`` hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from functools import partial
from typing import TYPE_CHECKING, Any

from actas_sdk import errors
from actas_sdk._replies import Reply
from actas_sdk._runtime import ActAs, Admission
from actas_sdk.context import Frame, ImpersonationContext, enter, leave

if TYPE_CHECKING:
    from contextvars import Token

    import flask

UserLoader = Callable[[ImpersonationContext], Any]

_OWN = "actas_own"
#: HTML larger than this is streamed on after the banner went in near its top.
MAX_BUFFER = 8 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class _Request:
    """One request the gate let in with an SDK credential: what the steps inside found."""

    __slots__ = ("admission", "frame", "method", "path", "recorded", "route", "token")

    def __init__(self) -> None:
        self.admission: Admission | None = None
        self.frame: Frame | None = None
        self.token: Token[Frame | None] | None = None
        self.method = ""
        self.route: str | None = None
        self.path = ""
        self.recorded = False


def _response(reply: Reply) -> flask.Response:
    from flask import Response

    response = Response(reply.body, status=reply.status)
    for name, value in reply.headers:
        if name.lower() == "content-type":
            response.headers["Content-Type"] = value
        elif name.lower() != "content-length":
            response.headers.add(name, value)
    return response


def _streamed(
    actas: ActAs, context: ImpersonationContext, chunks: Iterable[bytes], csp: str | None
) -> Iterator[bytes]:
    buffered: list[bytes] = []
    size = 0
    iterator = iter(chunks)
    for chunk in iterator:
        buffered.append(chunk)
        size += len(chunk)
        if size >= MAX_BUFFER:
            break
    yield actas.decorate_html(b"".join(buffered), context, csp)
    yield from iterator


def _environ_header(environ: Mapping[str, Any], name: str) -> str | None:
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def init_app(app: flask.Flask, actas: ActAs, *, load_user: UserLoader | None = None) -> None:
    """Wire the SDK into ``app``: the handoff and End endpoints, the gate, and per
    impersonated request the checks, the context, the banner and the audit event."""
    from flask import g, request

    marker = actas.cookies.name + "="
    # Only requests with one of these can carry an actor token on an API route.
    api_keys: tuple[str, ...] = ()
    if actas.rules.api:
        propagation = actas.config.propagation_header.upper().replace("-", "_")
        api_keys = ("HTTP_AUTHORIZATION", "HTTP_" + propagation)
    #: the request the gate let in with an SDK credential, while the app runs it
    current: ContextVar[_Request | None] = ContextVar(f"actas_flask_{id(app)}", default=None)

    def own() -> flask.Response:
        def one(name: str) -> str | None:
            values = request.args.getlist(name)
            return values[0] if len(values) == 1 else None

        return _response(
            actas.serve(
                request.method,
                request.path,
                cookie=lambda: request.cookies.get(actas.cookies.name),
                query=one,
                form=request.form.get,
                header=request.headers.get,
            )
        )

    # Every method reaches ``own``, which answers 405 itself: Flask would route HEAD to a
    # GET view, and a link checker's HEAD must not use a handoff code up.
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    for path in sorted(actas.own_paths):
        app.add_url_rule(path, _OWN, own, methods=methods)

    # ``g.actas`` and ``g.actas_user`` read None unless the SDK set them: no work per request.
    globals_class = app.app_ctx_globals_class
    app.app_ctx_globals_class = type(  # type: ignore[assignment]
        "ActAsGlobals", (globals_class,), {"actas": None, "actas_user": None}
    )

    inner_app = app.wsgi_app

    def gate(environ: dict[str, Any], start_response: Any) -> Any:
        if marker not in environ.get("HTTP_COOKIE", "") and not (
            api_keys and (api_keys[0] in environ or api_keys[1] in environ)
        ):
            return inner_app(environ, start_response)
        state = _Request()
        reset = current.set(state)
        try:
            return inner_app(environ, start_response)
        finally:
            # Whatever happened inside, the impersonation ends with the call: a frame left
            # behind would make the thread's next request look impersonated.
            if state.token is not None:
                if not state.recorded and state.frame is not None:
                    _record(state, 500)  # the response never came
                leave(state.token)
            current.reset(reset)

    app.wsgi_app = gate  # type: ignore[method-assign]

    inner_preprocess = app.preprocess_request

    def preprocess_request() -> Any:
        state = current.get()
        if state is not None and state.token is None:
            refused = before(state)
            if refused is not None:
                return refused
        return inner_preprocess()

    def before(state: _Request) -> flask.Response | None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        rule = req.url_rule
        endpoint = rule.endpoint if rule is not None else None
        if endpoint == _OWN:
            return None
        environ = req.environ
        method, path = req.method, req.path
        bearer = (
            actas.api_token(method, path, partial(_environ_header, environ)) if api_keys else None
        )
        cookie = None
        if bearer is None:
            header = environ.get("HTTP_COOKIE", "")
            if marker in header:
                cookie = actas.cookies.read(header)
            if not cookie:
                return None
        api = bearer is not None or (bool(api_keys) and actas.is_api(method, path))
        try:
            admission: Admission = (
                actas.admit_bearer(bearer)
                if bearer is not None
                else actas.admit_cookie(cookie or "")
            )
            context = admission.context
            # In assist the staff member stays themselves: the customer is never loaded.
            loads = load_user is not None and not context.is_assist
            user = load_user(context) if loads and load_user is not None else None
            if loads and user is None:
                raise errors.SubjectNotLoaded(f"no user {context.subject[:40]} here")
        except errors.ActAsError as exc:
            wants_json = api or req.accept_mimetypes.best == "application/json"
            return _response(actas.ended(exc, api=wants_json, cookie=bearer is None))
        state.frame, state.token = enter(context, at=actas.clock())
        state.admission = admission
        state.method, state.path = method, path
        state.route = rule.rule if rule is not None else None
        context_globals = g._get_current_object()
        context_globals.actas = context
        context_globals.actas_user = user
        view = app.view_functions.get(endpoint) if endpoint is not None else None
        refusal = actas.check(context, method, path, view)
        if refusal is not None:
            actas.record_refusal(context, method, state.route, refusal)
            state.recorded = True
            # process_response adds the banner, as to every page
            return _response(actas.refusal_reply(context, refusal, api=api, with_banner=False))
        return None

    inner_process_response = app.process_response

    def process_response(response: flask.Response) -> flask.Response:
        response = inner_process_response(response)
        state = current.get()
        if state is None or state.admission is None:
            return response
        return after(state, state.admission, response)

    def after(state: _Request, admission: Admission, response: flask.Response) -> flask.Response:
        headers = response.headers
        if admission.set_cookie:
            headers.add("Set-Cookie", admission.set_cookie)
        # Set, not added: the app's own Cache-Control goes, whatever it said.
        headers["Cache-Control"] = "no-store, private"
        csp = _banner_csp(state.method, response)
        if csp is not None:
            context = admission.context
            if response.is_streamed:
                chunks = (c.encode() if isinstance(c, str) else c for c in response.response)
                response.response = _streamed(actas, context, chunks, csp or None)
                headers.pop("Content-Length", None)
            else:
                body = response.get_data()
                decorated = actas.decorate_html(body, context, csp or None)
                if decorated is not body:  # a fragment without scripts comes back as it was
                    response.set_data(decorated)
        if not state.recorded:
            _record(state, response.status_code)
        return response

    def _record(state: _Request, status: int) -> None:
        state.recorded = True
        assert state.frame is not None
        actas.record(
            state.frame, method=state.method, route=state.route, status=status, path=state.path
        )

    app.preprocess_request = preprocess_request  # type: ignore[method-assign]
    app.process_response = process_response  # type: ignore[method-assign]
    app.extensions["actas"] = actas
    actas.start()


def _banner_csp(method: str, response: flask.Response) -> str | None:
    """None when the response gets no banner; else its Content-Security-Policy ("" when it
    has none). One pass over the headers: a missing header costs werkzeug an exception."""
    if method == "HEAD" or response.status_code in (204, 304) or response.direct_passthrough:
        return None
    kind = encoding = ""
    csp = None
    for name, value in response.headers:
        lowered = name.lower()
        if lowered == "content-type":
            kind = value.lower()
        elif lowered == "content-encoding":
            encoding = value
        elif lowered == "content-security-policy" and csp is None:
            csp = value
    # most API answers stop here
    if not kind.startswith(_HTML_TYPES) or "utf-16" in kind:
        return None
    if encoding not in ("identity", ""):
        return None
    return csp or ""
