"""The SDK's per-request CPU cost (cached token, new token, normal user) for ASGI, Flask and
Django, beside one bare Ed25519 verification measured in the same rounds.

Every round runs every case once, the order turned each round, and the bare verification is
one of the cases (it used to be measured once, before the runs, by wall clock: on a busy
machine that alone doubled or halved every ratio). Ratios are taken per round and reported
as the median and range over the rounds.

- **Under uvicorn** (ASGI; uvloop, httptools, one worker in a subprocess): a raw keep-alive
  HTTP/1.1 load generator in this process drives it over loopback; the figure is the
  *server process's* CPU time (all its threads, from ``/proc``) per request. After each case
  the server is left to ship its audit events (twice the ship interval) inside the measured
  window: what the impersonated requests cost in the background is theirs, and the next case
  starts clean (this was the "spill-over" onto normal users).
- **In process** (the ASGI app, the Flask app and the Django app called directly, no server):
  ``time.process_time`` per request, the audit flush of the case included.

Cases: ``none`` (no middleware, the baseline), ``normal`` (the middleware, no SDK cookie),
``same`` (impersonated, one token: the cache), ``new`` (impersonated, a new token every
request: full verification; more distinct tokens than the cache holds).

Targets (issue 15): ``same`` adds at most 0.1 of a bare verification, ``new`` at most 2,
``normal`` at most 2 % over ``none``.

    python bench/sdk_overhead.py [--rounds 5] [--seconds 1.5] [--requests 4000] [--smoke]
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import importlib.util
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    Figure,
    Results,
    arguments,
    command_line,
    interleaved,
    machine,
    per_round,
    process_cpu,
    spread,
)
from _load import Server, drive, endless, request_bytes

CREDENTIAL = "actas_ak_bench-credential"
HANDOFF = "http://127.0.0.1/actas/handoff"
SESSION_MINUTES = 60
CACHE = 4096  # the SDK's default token cache size: "new" tokens never come back within it
SHIP_INTERVAL = float(os.environ.get("ACTAS_BENCH_SHIP_INTERVAL", "0.25"))
DRAIN = 2 * min(SHIP_INTERVAL, 0.25)
#: The peers' packages (the `bench` extra) that are not installed: without them, no peers.
MISSING_PEERS = [
    name
    for name, module in (("django-hijack", "hijack"), ("clerk-backend-api", "clerk_backend_api"))
    if importlib.util.find_spec(module) is None
]


# --- the SDK against an in-memory broker --------------------------------------------------------


def make_actas(key: Ed25519PrivateKey, session_id: str, workdir: str) -> Any:
    """An ActAs talking to ``actas_sdk.testing.FakeBroker`` in this process: JWKS, revocation
    stream and audit shipping run for real, with their threads (the fake broker acknowledges
    audit batches unread: reading them is the real broker's work, in its own process)."""
    from actas_sdk import ActAs
    from actas_sdk.testing import FakeBroker, FakeSession

    fake = FakeBroker("notes", credential=CREDENTIAL)
    fake.record_events = False
    fake.key, fake.kid = key, "bench"
    fake.sessions[session_id] = FakeSession(
        id=session_id,
        subject="u-1",
        actor="staff-1",
        account="acct-1",
        scopes=("read",),
        expires_at=time.time() + SESSION_MINUTES * 60,
        refresh_handle="actas_rh_bench",
    )
    spool = Path(workdir) / f"spool-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    config = fake.config(
        handoff_url=HANDOFF, spool_dir=str(spool), ship_interval_seconds=SHIP_INTERVAL
    )
    actas = ActAs(config, transport=fake.transport())
    actas.start()
    if not actas.wait_ready(10):
        raise SystemExit("the SDK did not sync with its broker")
    return actas


class NoopMiddleware:
    """The floor any pure ASGI middleware pays: one more coroutine call per request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


NOOP = object()  # passed as ``actas``: the framework's no-op middleware instead of the SDK's


def asgi_app(actas: Any) -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    pairs = VerifyPairs()

    async def verify(request: Any) -> PlainTextResponse:
        pairs.one()  # one bare Ed25519 verification, then the same trivial answer
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", home), Route("/verify", verify)])
    if actas is NOOP:
        app.add_middleware(NoopMiddleware)
    elif actas is not None:
        from actas_sdk.asgi import ActAsMiddleware

        app.add_middleware(ActAsMiddleware, actas=actas)
    return app


def flask_app(actas: Any) -> Any:
    from flask import Flask

    app = Flask(f"bench{id(actas)}")

    @app.get("/")
    def home() -> Any:
        # text/plain, as the ASGI and Django routes answer: a bare "ok" would be text/html
        # in Flask, and only there would the SDK read the body for scripts and a <body>
        return app.response_class("ok", mimetype="text/plain")

    if actas is NOOP:
        app.before_request(lambda: None)
        app.after_request(lambda response: response)
    elif actas is not None:
        from actas_sdk.flask import init_app

        init_app(app, actas)
    return app


_django_sdk: list[Any] = []


def _current_sdk() -> Any:
    return _django_sdk[-1]


def django_app(actas: Any) -> Any:
    """One trivial view; the SDK middleware only when ``actas`` is given (Django reads
    MIDDLEWARE when a handler is made, so both handlers share one configuration)."""
    import django
    from django.conf import settings

    if not settings.configured:
        # Sessions, auth and django-hijack for the peers (bench/_peers.py); the SDK's own cases
        # use none of them.
        database = Path(tempfile.mkdtemp(prefix="actas-bench-django-"))
        atexit.register(shutil.rmtree, database, True)
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],
            SECRET_KEY="bench-" + "x" * 40,
            ROOT_URLCONF=__name__,
            MIDDLEWARE=[],
            INSTALLED_APPS=[
                "django.contrib.contenttypes",
                "django.contrib.auth",
                "django.contrib.sessions",
                *(["hijack"] if not MISSING_PEERS else []),
            ],
            DATABASES={
                "default": {
                    "ENGINE": "django.db.backends.sqlite3",
                    "NAME": str(database / "django.sqlite3"),
                    "CONN_MAX_AGE": None,  # persistent, as in production: no connect per request
                }
            },
            PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
            ACTAS_SDK=f"{__name__}._current_sdk",
        )
        django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    settings.MIDDLEWARE = (
        [f"{__name__}.DjangoNoop"]
        if actas is NOOP
        else ["actas_sdk.django.ActAsMiddleware"]
        if actas is not None
        else []
    )
    if actas is not None and actas is not NOOP:
        _django_sdk.append(actas)
    return WSGIHandler()


class DjangoNoop:
    """The floor any Django middleware pays."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        return self.get_response(request)


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # Django's ROOT_URLCONF, read lazily
        from django.http import HttpResponse
        from django.urls import path

        return [
            path("", lambda request: HttpResponse("ok", content_type="text/plain")),
            path(  # the peers' view: who is the user?
                "me",
                lambda request: HttpResponse(
                    request.user.get_username(), content_type="text/plain"
                ),
            ),
        ]
    raise AttributeError(name)


# --- tokens -------------------------------------------------------------------------------------


def cookies(key: Ed25519PrivateKey, session_id: str, count: int) -> list[str]:
    """``count`` cookie values of one session, each with its own (5-minute) token."""
    from actas_sdk._cookie import SEPARATOR, CookieJar, Sealed
    from actas_sdk.testing import FakeBroker

    fake = FakeBroker("notes", credential=CREDENTIAL)
    fake.key, fake.kid = key, "bench"
    jar = CookieJar(fake.config(handoff_url=HANDOFF))
    sealed = jar.seal(session_id, Sealed("actas_rh_bench", time.time() + SESSION_MINUTES * 60))
    return [
        fake.mint(subject="u-1", actor="staff-1", session_id=session_id, ttl=300)
        + SEPARATOR
        + sealed
        for _ in range(count)
    ]


class Tokens:
    """New tokens for the "new" case, minted in batches as they are used (they live five
    minutes), never one the SDK's cache could still hold."""

    def __init__(self, key: Ed25519PrivateKey, session_id: str, batch: int) -> None:
        self.key, self.session_id, self.batch = key, session_id, max(batch, CACHE + 100)
        self._items: list[str] = []

    def refill(self) -> None:
        self._items = cookies(self.key, self.session_id, self.batch)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


# --- the bare verification, as a case ------------------------------------------------------------


class VerifyPairs:
    """1,000 token-sized messages signed by one key; :meth:`one` verifies the next."""

    def __init__(self) -> None:
        key = Ed25519PrivateKey.generate()
        self.public = key.public_key()
        self.pairs = []
        for _ in range(1000):
            message = os.urandom(330)
            self.pairs.append((key.sign(message), message))
        self._next = 0

    def one(self) -> None:
        signature, message = self.pairs[self._next]
        self._next = (self._next + 1) % len(self.pairs)
        self.public.verify(signature, message)


class BareVerify:
    """Ed25519 verifications with ``cryptography``: one key (as with a JWKS), 1,000 distinct
    token-sized messages in turn (as with new tokens). CPU microseconds per verification."""

    def __init__(self, count: int) -> None:
        key = Ed25519PrivateKey.generate()
        self.public = key.public_key()
        self.pairs = []
        for _ in range(1000):
            message = os.urandom(330)
            self.pairs.append((key.sign(message), message))
        self.count = count

    def __call__(self) -> float:
        verify = self.public.verify
        rounds = max(1, self.count // len(self.pairs))
        started = time.process_time()
        for _ in range(rounds):
            for signature, message in self.pairs:
                verify(signature, message)
        return (time.process_time() - started) / (rounds * len(self.pairs)) * 1e6


# --- in process ---------------------------------------------------------------------------------


def asgi_scope(cookie: str | None) -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
    if cookie is not None:
        headers.append((b"cookie", b"actas_sdk=" + cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }


def asgi_driver(app: Any) -> Callable[[list[str | None]], None]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"ASGI answered {message['status']}")

    async def run(cookies_: list[str | None]) -> None:
        for cookie in cookies_:
            await app(asgi_scope(cookie), receive, send)

    return lambda cookies_: asyncio.run(run(cookies_))


def wsgi_driver(app: Any, path: str = "/") -> Callable[[list[str | None]], None]:
    """Calls ``app`` once per cookie: an SDK cookie's value, or a whole ``name=value`` pair
    (the peers' Django session cookies)."""
    import io

    base = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_USER_AGENT": "bench",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        if not status.startswith("200"):
            raise SystemExit(f"WSGI answered {status}")
        return None

    def run(cookies_: list[str | None]) -> None:
        for cookie in cookies_:
            environ = dict(base)
            environ["wsgi.input"] = io.BytesIO(b"")
            if cookie is not None:
                named = cookie.startswith("sessionid=")
                environ["HTTP_COOKIE"] = cookie if named else "actas_sdk=" + cookie
            body = app(environ, start_response)
            for _ in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()

    return run


def in_process(
    framework: str, key: Ed25519PrivateKey, session_id: str, workdir: str, args: Any, bare: Any
) -> dict[str, list[float]]:
    builders = {
        "asgi": (asgi_app, asgi_driver),
        "flask": (flask_app, wsgi_driver),
        "django": (django_app, wsgi_driver),
    }
    build, driver = builders[framework]
    actas = make_actas(key, session_id, workdir)
    plain = driver(build(None))
    noop = driver(build(NOOP))
    sdk = driver(build(actas))
    n = args.requests
    same = cookies(key, session_id, 1)[0]
    tokens = Tokens(key, session_id, n + 200)

    def timed(
        run: Callable[[list[str | None]], None],
        batch: Callable[[], tuple[list[str | None], list[str | None]]],
        sdk_case: bool,
    ) -> Callable[[], float]:
        """``batch()`` gives (warm-up requests, measured requests)."""

        def case() -> float:
            warm, measured = batch()
            run(warm)  # outside the measure
            if sdk_case:
                actas.flush()
            gc.collect()
            started = time.process_time()
            run(measured)
            if sdk_case:
                actas.flush()  # the case's own audit work, inside its measure
            return (time.process_time() - started) / len(measured) * 1e6

        return case

    def fresh() -> tuple[list[str | None], list[str | None]]:
        tokens.refill()  # new tokens every round: none of them is in the cache
        items: list[str | None] = list(tokens)
        return items[n : n + 200], items[:n]

    def repeat(cookie: str | None) -> Callable[[], tuple[list[str | None], list[str | None]]]:
        return lambda: ([cookie] * 200, [cookie] * n)

    cases = {
        "bare": bare,
        "none": timed(plain, repeat(None), False),
        "noop": timed(noop, repeat(None), False),
        "normal": timed(sdk, repeat(None), True),
        "same": timed(sdk, repeat(same), True),
        "new": timed(sdk, fresh, True),
    }
    if framework == "django" and not args.no_peers and not MISSING_PEERS:  # the same rounds
        import _peers
        from actas_sdk._cookie import SEPARATOR

        cases |= _peers.django_cases(wsgi_driver, timed, same, n)
        count = min(n, 2000)
        clerk = _peers.ClerkTokens(count)

        def new_tokens() -> list[str]:
            tokens.refill()
            return [c.partition(SEPARATOR)[0] for c in list(tokens)[:count]]

        cases["verify_actas"] = _peers.actas_verify_case(actas, new_tokens)
        cases["verify_clerk"] = clerk.case()
    try:
        return interleaved(cases, args.rounds)
    finally:
        actas.close()


# --- under uvicorn ------------------------------------------------------------------------------


def serve(variant: str, port: int, key_hex: str, session_id: str, workdir: str) -> None:
    import uvicorn

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_hex))
    actas = make_actas(key, session_id, workdir) if variant == "sdk" else None
    if actas is not None:
        atexit.register(actas.close)
    uvicorn.run(
        asgi_app(actas),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def under_uvicorn(
    key: Ed25519PrivateKey, session_id: str, workdir: str, args: Any, bare: Any
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(CPU µs per request of the server, requests per second) per case and round."""
    key_hex = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    same = endless([request_bytes(cookies(key, session_id, 1)[0])])
    tokens = Tokens(key, session_id, int(args.seconds * 4000))
    rates: dict[str, list[float]] = {n: [] for n in ("verify", "none", "normal", "same", "new")}
    with (
        Server(__file__, "none", key_hex, session_id, workdir) as plain,
        Server(__file__, "sdk", key_hex, session_id, workdir) as sdk,
    ):

        def case(name: str, server: Server, requests: Callable[[], Iterator[bytes]]):
            def run() -> float:
                lines = requests()
                drive(server.port, lines, min(0.3, args.seconds / 3), args.connections)  # warm
                time.sleep(DRAIN)
                before = process_cpu(server.process.pid)
                started = time.perf_counter()
                count = drive(server.port, lines, args.seconds, args.connections)
                rates[name].append(count / (time.perf_counter() - started))
                time.sleep(DRAIN)  # the audit shipping of this case, counted here
                return (process_cpu(server.process.pid) - before) / count * 1e6

            return run

        def fresh() -> Iterator[bytes]:
            tokens.refill()  # more than the cache holds: each comes back after it is evicted
            return endless([request_bytes(c) for c in tokens])

        # The baseline verification runs in the same server under the same load: a route
        # that does one bare verify, less the plain route. (A verify timed in this process
        # while the server idles is cheaper than one timed beside the load.)
        cases = {
            "verify": case("verify", plain, lambda: endless([request_bytes(None, b"/verify")])),
            "none": case("none", plain, lambda: endless([request_bytes(None)])),
            "normal": case("normal", sdk, lambda: endless([request_bytes(None)])),
            "same": case("same", sdk, lambda: same),
            "new": case("new", sdk, fresh),
        }
        cpu = interleaved(cases, args.rounds)
    cpu["bare"] = per_round(cpu, "verify", lambda v, n: v - n, "none")
    return cpu, rates


# --- the report ---------------------------------------------------------------------------------


def figures(results: Results, section: str, cpu: dict[str, list[float]], note: str) -> None:
    rounds = len(cpu["none"])

    def add(name: str, label: str, ratio: list[float], means: str, target: str, ok: bool):
        med, lo, hi = spread(ratio)
        results.add(
            Figure(
                section=section,
                name=label,
                unit="µs CPU/req",
                value=spread(per_round(cpu, name, lambda c, n: c - n, "none"))[0]
                if name != "normal"
                else spread(cpu[name])[0],
                baseline_name="bare Ed25519 verify" if name != "normal" else "no middleware",
                baseline=spread(cpu["bare" if name != "normal" else "none"])[0],
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=rounds,
                ratio_means=means,
                target=target,
                met=ok,
                note=note,
            )
        )

    def over_bare(c: float, none: float, bare: float) -> float:
        return (c - none) / bare

    same = per_round(cpu, "same", over_bare, "none", "bare")
    new = per_round(cpu, "new", over_bare, "none", "bare")
    normal = per_round(cpu, "normal", lambda n, b: n / b, "none")
    results.add(
        Figure(
            section=section,
            name="no middleware (baseline)",
            value=spread(cpu["none"])[0],
            unit="µs CPU/req",
            baseline_name="bare Ed25519 verify",
            baseline=spread(cpu["bare"])[0],
            ratio=spread(per_round(cpu, "none", lambda n, b: n / b, "bare"))[0],
            ratio_low=0,
            ratio_high=0,
            rounds=rounds,
            ratio_means="case / baseline",
            note=note,
        )
    )
    add(
        "same",
        "cached token: extra CPU",
        same,
        "(same - none) / bare verify",
        "<= 0.1",
        spread(same)[0] <= 0.1,
    )
    add(
        "new",
        "new token: extra CPU",
        new,
        "(new - none) / bare verify",
        "<= 2",
        spread(new)[0] <= 2,
    )
    add("normal", "normal user", normal, "normal / none", "<= 1.02", spread(normal)[0] <= 1.02)
    if "noop" in cpu:  # the floor of any middleware in this framework, for comparison
        floor = per_round(cpu, "noop", lambda n, b: n / b, "none")
        med, lo, hi = spread(floor)
        results.add(
            Figure(
                section=section,
                name="no-op middleware (the floor)",
                unit="µs CPU/req",
                value=spread(cpu["noop"])[0],
                baseline_name="no middleware",
                baseline=spread(cpu["none"])[0],
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=rounds,
                ratio_means="noop / none",
                note=note,
            )
        )
    if "login" in cpu:
        peers(results, cpu)


def peers(results: Results, cpu: dict[str, list[float]]) -> None:
    """django-hijack and Clerk beside actas (bench/_peers.py), from the Django rounds."""
    rounds = len(cpu["login"])
    section = "peers, Django in process, CPU"
    for case, label in (
        ("actas_login", "actas impersonation, cached token, user loaded"),
        ("hijack", "django-hijack, hijacked request"),
    ):
        med, lo, hi = spread(per_round(cpu, "login", lambda b, c: b / c, case))
        results.add(
            Figure(
                section=section,
                name=label,
                unit="µs CPU/req",
                value=spread(cpu[case])[0],
                baseline_name="plain logged-in request (sessions + auth)",
                baseline=spread(cpu["login"])[0],
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=rounds,
                ratio_means="requests per CPU-second, case / plain login",
                note="the view reads request.user; each case runs its tool's middleware",
            )
        )
    med, lo, hi = spread(per_round(cpu, "verify_actas", lambda a, c: a / c, "verify_clerk"))
    results.add(
        Figure(
            section=section,
            name="actas verifier, new token",
            unit="µs CPU/token",
            value=spread(cpu["verify_actas"])[0],
            baseline_name="Clerk authenticate_request, networkless (jwt_key)",
            baseline=spread(cpu["verify_clerk"])[0],
            ratio=med,
            ratio_low=lo,
            ratio_high=hi,
            rounds=rounds,
            ratio_means="CPU per token, actas / Clerk",
            note="actas: Ed25519 and every claim check; Clerk: RS256 (2048-bit), PEM key given",
        )
    )


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per case and round (uvicorn)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--requests", type=int, default=4000, help="per case and round, in process")
    parser.add_argument("--frameworks", default="asgi,flask,django")
    parser.add_argument("--no-server", action="store_true", help="in-process figures only")
    parser.add_argument("--no-peers", action="store_true", help="without django-hijack and Clerk")
    parser.add_argument("--serve", nargs=5, help=argparse_hidden())
    args = parser.parse_args()
    if args.serve:
        variant, port, key_hex, session_id, workdir = args.serve
        serve(variant, int(port), key_hex, session_id, workdir)
        return
    if args.smoke:
        args.rounds, args.seconds, args.requests = 1, 0.2, 150
    results = Results("sdk_overhead", command_line(sys.argv))
    workdir = tempfile.mkdtemp(prefix="actas-bench-")
    try:
        key = Ed25519PrivateKey.generate()
        session_id = str(uuid.uuid4())
        bare = BareVerify(200 if args.smoke else 2000)
        print(f"python {sys.version.split()[0]}, {machine()}")
        if not args.no_server:
            print(
                f"\nASGI under uvicorn: {args.rounds} rounds x {args.seconds:g} s per case, "
                f"{args.connections} connections; server CPU per request"
            )
            cpu, rates = under_uvicorn(key, session_id, workdir, args, bare)
            for name, values in rates.items():
                print(f"  {name:<7} " + " ".join(f"{v:,.0f}" for v in values) + " req/s")
            results.extra["uvicorn_rps"] = rates
            figures(
                results,
                "ASGI (Starlette) under uvicorn, server CPU",
                cpu,
                "server process CPU (all threads) per request",
            )
        for framework in filter(None, args.frameworks.split(",")):
            print(f"\n{framework} in process: {args.rounds} rounds x {args.requests} requests")
            cpu = in_process(framework, key, session_id, workdir, args, bare)
            figures(
                results,
                f"{framework} in process, CPU",
                cpu,
                "process CPU per request, audit flush included",
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if MISSING_PEERS and "django" in args.frameworks and not args.no_peers:
        results.notes.append(
            f"The peers were not measured: {', '.join(MISSING_PEERS)} not installed "
            "(pip install -e '.[bench]', as `make bench` does)."
        )
    results.save(args.json)


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
