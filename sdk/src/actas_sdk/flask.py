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
from actas_sdk.context import ImpersonationContext, enter, leave

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
                form=request.form.get,
                header=request.headers.get,
            )
        )

    # Every method reaches ``own``, which answers 405 itself: Flask would route HEAD to a
    # GET view, and a link checker's HEAD must not use a handoff code up.
    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    for path in sorted(actas.own_paths):
        app.add_url_rule(path, _OWN, own, methods=methods)

    # Each hook binds ``request`` and ``g`` once: every access through Flask's proxies costs
    # a context lookup, and the impersonated path used to make some thirty of them.
    def before() -> flask.Response | None:
        req = request._get_current_object()  # type: ignore[attr-defined]
        state = g._get_current_object()
        state.actas = None
        if req.endpoint == _OWN:
            return None
        # A normal user's request must cost next to nothing: the raw environ only; our cookie
        # is read from the header only when its name is in it at all.
        environ = req.environ
        method, path = req.method, req.path
        bearer = actas.api_token(method, path, partial(_environ_header, environ))
        cookie = None
        if bearer is None:
            header = environ.get("HTTP_COOKIE", "")
            if marker in header:
                cookie = actas.cookies.read(header)
        if bearer is None and not cookie:
            return None
        api = bearer is not None or actas.is_api(method, path)
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
        frame, token = enter(context, at=actas.clock())
        state.actas = context
        state.actas_user = user
        rule = req.url_rule
        route = rule.rule if rule is not None else None
        state._actas = (frame, token, admission, method, route, path)
        view = current_app.view_functions.get(req.endpoint or "")
        refusal = actas.check(context, method, path, view)
        if refusal is not None:
            actas.record_refusal(context, method, route, refusal)
            state._actas_recorded = True
            # after_request adds the banner, as to every page
            return _response(actas.refusal_reply(context, refusal, api=api, with_banner=False))
        return None

    def after(response: flask.Response) -> flask.Response:
        state = g._get_current_object()
        found = state.get("_actas")
        if found is None:
            return response
        _, _, admission, method, _, _ = found
        headers = response.headers
        if admission.set_cookie:
            headers.add("Set-Cookie", admission.set_cookie)
        headers["Cache-Control"] = "no-store, private"
        if _wants_banner(method, response):
            csp = headers.get("Content-Security-Policy")
            if response.is_streamed:
                chunks = (c.encode() if isinstance(c, str) else c for c in response.response)
                response.response = _streamed(actas, admission.context, chunks, csp)
                headers.pop("Content-Length", None)
            else:
                response.set_data(actas.decorate_html(response.get_data(), admission.context, csp))
        _record(state, response.status_code)
        return response

    def teardown(_: BaseException | None) -> None:
        state = g._get_current_object()
        found = state.get("_actas")
        if found is None:
            return
        token = found[1]
        _record(state, 500)  # a no-op unless the response never came
        state._actas = None
        leave(token)

    def _record(state: Any, status: int) -> None:
        if state.get("_actas_recorded"):
            return
        state._actas_recorded = True
        frame, _, _, method, route, path = state._actas
        actas.record(frame, method=method, route=route, status=status, path=path)

    app.before_request(before)
    app.after_request(after)
    app.teardown_request(teardown)
    app.extensions["actas"] = actas
    actas.start()


def _wants_banner(method: str, response: flask.Response) -> bool:
    if method == "HEAD" or response.status_code in (204, 304) or response.direct_passthrough:
        return False
    kind = (response.mimetype or "").lower()
    if kind not in _HTML_TYPES:  # most API answers stop here, before any more parsing
        return False
    if response.headers.get("Content-Encoding", "identity") not in ("identity", ""):
        return False
    return "utf-16" not in response.mimetype_params.get("charset", "")
