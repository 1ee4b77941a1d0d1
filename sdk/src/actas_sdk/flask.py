"""Flask (WSGI) adapter: a few request hooks and the SDK's two endpoints.

Install, after the app's own ``before_request`` hooks::

    from actas_sdk.flask import init_app
    init_app(app, actas, load_user=load_user)

Views read ``flask.g.actas`` (the context or None) and ``flask.g.actas_user``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from actas_sdk import errors
from actas_sdk._replies import Reply
from actas_sdk._runtime import ActAs, Admission
from actas_sdk.context import Frame, ImpersonationContext, enter, leave

if TYPE_CHECKING:
    import flask

UserLoader = Callable[[ImpersonationContext], Any]

_OWN = "actas_own"
#: HTML larger than this is streamed on after the banner went in near its top.
MAX_BUFFER = 8 * 1024 * 1024
_HTML_TYPES = ("text/html", "application/xhtml+xml")


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
    """Wire the SDK into ``app``: the handoff and End endpoints, then per request the
    checks, the context, the banner and the audit event."""
    from flask import current_app, g, request

    marker = actas.cookies.name + "="

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
                form=lambda: request.form.get("csrf"),
                header=request.headers.get,
            )
        )

    # Every method reaches ``own``, which answers 405 itself: Flask would route HEAD to a
    # GET view, and a link checker's HEAD must not use a handoff code up.
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    for path in sorted(actas.own_paths):
        app.add_url_rule(path, _OWN, own, methods=methods)

    def before() -> flask.Response | None:
        g.actas = None
        if request.endpoint == _OWN:
            return None
        # A normal user's request must cost next to nothing: the raw environ first; the
        # cookies are parsed only when our cookie's name is in the header at all.
        environ = request.environ
        bearer = actas.api_token(request.method, request.path, partial(_environ_header, environ))
        cookie = None
        if bearer is None and marker in environ.get("HTTP_COOKIE", ""):
            cookie = request.cookies.get(actas.cookies.name)
        if bearer is None and not cookie:
            return None
        api = bearer is not None or actas.is_api(request.method, request.path)
        try:
            admission: Admission = (
                actas.admit_bearer(bearer)
                if bearer is not None
                else actas.admit_cookie(cookie or "")
            )
            context = admission.context
            user = load_user(context) if load_user is not None else None
            if load_user is not None and user is None:
                raise errors.SubjectNotLoaded(f"no user {context.subject[:40]} here")
        except errors.ActAsError as exc:
            wants_json = api or request.accept_mimetypes.best == "application/json"
            return _response(actas.ended(exc, api=wants_json, cookie=bearer is None))
        frame, token = enter(context)
        g.actas = context
        g.actas_user = user
        g._actas = (frame, token, admission)
        view = current_app.view_functions.get(request.endpoint or "")
        refusal = actas.check(context, request.method, request.path, view)
        if refusal is not None:
            route = request.url_rule.rule if request.url_rule is not None else None
            actas.record_refusal(context, request.method, route, refusal)
            g._actas_recorded = True
            # after_request adds the banner, as to every page
            return _response(actas.refusal_reply(context, refusal, api=api, with_banner=False))
        return None

    def after(response: flask.Response) -> flask.Response:
        state = g.get("_actas")
        if state is None:
            return response
        frame, _, admission = state
        if admission.set_cookie:
            response.headers.add("Set-Cookie", admission.set_cookie)
        response.headers["Cache-Control"] = "no-store, private"
        if _wants_banner(request.method, response):
            csp = response.headers.get("Content-Security-Policy")
            if response.is_streamed:
                chunks = (c.encode() if isinstance(c, str) else c for c in response.response)
                response.response = _streamed(actas, admission.context, chunks, csp)
                response.headers.pop("Content-Length", None)
            else:
                response.set_data(actas.decorate_html(response.get_data(), admission.context, csp))
        _record(actas, frame, response.status_code)
        return response

    def teardown(_: BaseException | None) -> None:
        state = g.get("_actas")
        if state is None:
            return
        frame, token, _ = state
        _record(actas, frame, 500)  # a no-op unless the response never came
        g._actas = None
        leave(token)

    def _record(actas: ActAs, frame: Frame, status: int) -> None:
        if g.get("_actas_recorded"):
            return
        g._actas_recorded = True
        route = request.url_rule.rule if request.url_rule is not None else None
        actas.record(frame, method=request.method, route=route, status=status, path=request.path)

    app.before_request(before)
    app.after_request(after)
    app.teardown_request(teardown)
    app.extensions["actas"] = actas
    actas.start()


def _wants_banner(method: str, response: flask.Response) -> bool:
    if method == "HEAD" or response.status_code in (204, 304) or response.direct_passthrough:
        return False
    if response.headers.get("Content-Encoding", "identity") not in ("identity", ""):
        return False
    kind = (response.mimetype or "").lower()
    return kind in _HTML_TYPES and "utf-16" not in response.mimetype_params.get("charset", "")
