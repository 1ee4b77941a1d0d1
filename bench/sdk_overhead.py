"""The SDK middleware's per-request cost under load, as a multiple of one bare Ed25519
verification measured in the same run.

A Starlette app (one plain-text route) runs under uvicorn in a subprocess (uvloop, httptools,
one worker); a raw asyncio HTTP/1.1 keep-alive load generator in this process drives it over
loopback. Four cases:

- ``none``: no middleware (the baseline);
- ``normal``: the SDK middleware, a request without the SDK cookie (a normal user);
- ``same``: during impersonation, the same valid token on every request (the cache);
- ``new``: during impersonation, a new valid token on every request (full verification).

The SDK talks to an in-memory broker (``actas_sdk.testing.FakeBroker``) inside the server
process: JWKS, revocation stream and audit shipping run for real, with their threads (the
fake broker acknowledges audit batches unread: parsing them is the real broker's work, in
its own process). The cases are interleaved over several rounds and each reports its best
round, since load from other processes only ever slows a round down. A second table gives
the same cases in process, as CPU time per request, which other load hardly disturbs.

    python bench/sdk_overhead.py [--seconds 1.5] [--rounds 6] [--connections 8]

Targets: ``same`` at most 0.1 of a bare verification, ``new`` at most 2, ``normal`` at most
2 % slower than ``none``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

CREDENTIAL = "actas_ak_bench-credential"
HANDOFF = "http://127.0.0.1/actas/handoff"
SESSION_MINUTES = 60


# --- the server (subprocess) ---------------------------------------------------------------------


def build_app(
    variant: str, key: Ed25519PrivateKey, session_id: str, workdir: str
) -> tuple[Any, Any]:
    """The benchmark's app: one plain-text route, with the SDK middleware for ``sdk``."""
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/", home)])
    if variant == "sdk":
        from actas_sdk import ActAs
        from actas_sdk.asgi import ActAsMiddleware
        from actas_sdk.testing import FakeBroker, FakeSession

        fake = FakeBroker("notes", credential=CREDENTIAL)
        fake.record_events = False  # the broker's own work happens in the broker's process
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
        spool = Path(workdir) / f"spool-{os.getpid()}"
        config = fake.config(handoff_url=HANDOFF, spool_dir=str(spool))
        actas = ActAs(config, transport=fake.transport())
        actas.start()
        if not actas.wait_ready(10):
            raise SystemExit("the SDK did not sync with its broker")
        app.add_middleware(ActAsMiddleware, actas=actas)
        return app, actas
    return app, None


def serve(variant: str, port: int, key_hex: str, session_id: str, workdir: str) -> None:
    import uvicorn

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key_hex))
    app, actas = build_app(variant, key, session_id, workdir)
    if actas is not None:
        atexit.register(actas.close)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --- the load generator  ----------------------------------------------------------------------


class Connection(asyncio.Protocol):
    """One keep-alive connection: send a request, read the whole response, send the next."""

    def __init__(self, requests: Any, done: asyncio.Future[None], deadline: float) -> None:
        self.requests = requests
        self.done = done
        self.deadline = deadline
        self.buffer = b""
        self.count = 0
        self.errors = 0
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses
        self.transport.write(next(self.requests))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            if not head.startswith(b"http/1.1 200"):
                self.errors += 1
            self.buffer = self.buffer[end:]
            self.count += 1
            if time.perf_counter() >= self.deadline:
                self.transport.close()
                if not self.done.done():
                    self.done.set_result(None)
                return
            self.transport.write(next(self.requests))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def load(port: int, requests: Any, seconds: float, connections: int) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    protocols: list[Connection] = []
    waits: list[asyncio.Future[None]] = []
    for _ in range(connections):
        done: asyncio.Future[None] = loop.create_future()
        _, protocol = await loop.create_connection(
            lambda done=done: Connection(requests, done, deadline), "127.0.0.1", port
        )
        protocols.append(protocol)
        waits.append(done)
    await asyncio.wait_for(asyncio.gather(*waits), seconds + 30)
    elapsed = time.perf_counter() - started
    return sum(p.count for p in protocols) / elapsed, sum(p.errors for p in protocols)


def request_bytes(cookie: str | None) -> bytes:
    lines = [b"GET / HTTP/1.1", b"Host: 127.0.0.1", b"User-Agent: bench", b"Accept: */*"]
    if cookie is not None:
        lines.append(b"Cookie: actas_sdk=" + cookie.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"


def cycle(items: list[bytes]) -> Any:
    while True:
        yield from items


def measure(port: int, requests: Any, seconds: float, connections: int) -> float:
    """Requests per second; ``requests`` is an endless iterator of request bytes."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(load(port, requests, min(1.0, seconds / 2), connections))  # warm-up
    rate, errors = runner(load(port, requests, seconds, connections))
    if errors:
        raise SystemExit(f"{errors} requests did not answer 200")
    return float(rate)


# --- tokens  ----------------------------------------------------------------------------------


def cookies(key: Ed25519PrivateKey, session_id: str, count: int) -> list[str]:
    """``count`` cookie values of one session, each with its own token."""
    from actas_sdk._cookie import SEPARATOR, CookieJar, Sealed
    from actas_sdk.testing import FakeBroker

    fake = FakeBroker("notes", credential=CREDENTIAL)
    fake.key, fake.kid = key, "bench"
    jar = CookieJar(fake.config(handoff_url=HANDOFF))
    sealed = jar.seal(session_id, Sealed("actas_rh_bench", time.time() + SESSION_MINUTES * 60))
    values = []
    for _ in range(count):
        token = fake.mint(subject="u-1", actor="staff-1", session_id=session_id, ttl=300)
        values.append(token + SEPARATOR + sealed)
    return values


def bare_verify_rate(seconds: float = 2.0) -> float:
    """Ed25519 verifications per second with ``cryptography``: one key (as with a JWKS) and
    1,000 distinct token-sized messages in turn (as with new tokens); best of three."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    pairs = []
    for _ in range(1000):
        message = os.urandom(330)
        pairs.append((key.sign(message), message))
    best = 0.0
    for _ in range(3):
        count = 0
        started = time.perf_counter()
        deadline = started + seconds / 3
        while time.perf_counter() < deadline:
            for signature, message in pairs:
                public.verify(signature, message)
            count += len(pairs)
        best = max(best, count / (time.perf_counter() - started))
    return best


# --- the run  ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, variant: str, key_hex: str, session_id: str, workdir: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                variant,
                str(self.port),
                key_hex,
                session_id,
                workdir,
            ],
            cwd=Path(__file__).resolve().parents[1],
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("the server exited")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the server did not start")

    def __exit__(self, *_: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def in_process(
    key: Ed25519PrivateKey, session_id: str, requests: int, workdir: str
) -> dict[str, float]:
    """CPU microseconds per request with the ASGI app called directly (no server, no
    client): ``time.process_time`` counts this process only, background threads included,
    so other load on the machine hardly matters."""
    import gc

    apps = {}
    sdks = []
    for name in ("none", "sdk"):
        apps[name], actas = build_app(name, key, session_id, workdir)
        sdks.append(actas)
    pool = max(requests, 3 * 4096)  # more distinct tokens than the SDK's cache holds
    fresh = cookies(key, session_id, pool + 1)

    def scope(cookie: str | None) -> dict[str, Any]:
        headers = [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*")]
        if cookie is not None:
            headers.append((b"cookie", b"actas_sdk=" + cookie.encode()))
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"",
            "root_path": "", "headers": headers, "server": ("127.0.0.1", 80),
            "client": ("127.0.0.1", 5000),
        }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def run(app: Any, cookie_for: Any) -> float:
        for i in range(min(500, requests)):  # warm-up, on tokens the timed loop reaches last
            await app(scope(cookie_for(-1 - i)), receive, send)
        gc.collect()
        started = time.process_time()
        for i in range(requests):
            await app(scope(cookie_for(i)), receive, send)
        return (time.process_time() - started) / requests * 1e6

    cases = {
        "none": (apps["none"], lambda i: None),
        "normal": (apps["sdk"], lambda i: None),
        "same": (apps["sdk"], lambda i: fresh[0]),
        "new": (apps["sdk"], lambda i: fresh[1 + (i + round_no[0] * requests) % pool]),
    }
    best = {name: float("inf") for name in cases}
    round_no = [0]
    for round_no[0] in range(3):
        for name, (app, cookie_for) in cases.items():
            best[name] = min(best[name], asyncio.run(run(app, cookie_for)))
    for actas in sdks:
        if actas is not None:
            actas.close()
    return best


def report(title: str, per_request: dict[str, float], bare_us: float) -> None:
    """``per_request``: microseconds per request of each case."""
    base = per_request["none"]
    print(f"\n{title}")
    print(f"{'case':<8} {'us/req':>8} {'extra us':>9} {'x bare verify':>14}  target")
    targets = {"normal": "<= 2 % slower", "same": "<= 0.1", "new": "<= 2"}
    for name in ("none", "normal", "same", "new"):
        extra = per_request[name] - base
        print(
            f"{name:<8} {per_request[name]:>8.1f} {extra:>9.1f} {extra / bare_us:>14.3f}  "
            f"{targets.get(name, 'baseline')}"
        )
    slower = (per_request["normal"] / base - 1) * 100
    print(f"normal users: {slower:+.2f} % vs no middleware (target <= 2 %)")
    print(f"same token:   {(per_request['same'] - base) / bare_us:.3f} x bare verify (<= 0.1)")
    print(f"new token:    {(per_request['new'] - base) / bare_us:.3f} x bare verify (<= 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="per case and round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=30_000, help="distinct tokens for 'new'")
    parser.add_argument("--in-process", type=int, default=20_000, help="requests per case")
    parser.add_argument("--serve", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        variant, port, key_hex, session_id, workdir = args.serve
        serve(variant, int(port), key_hex, session_id, workdir)
        return
    workdir = tempfile.mkdtemp(prefix="actas-bench-")
    try:
        run(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: str) -> None:
    key = Ed25519PrivateKey.generate()
    key_hex = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    session_id = str(uuid.uuid4())
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.2f}; uvicorn (uvloop, httptools), 1 worker"
    )
    verify = bare_verify_rate()
    bare_us = 1e6 / verify
    print(f"bare Ed25519 verify (cryptography): {verify:,.0f}/s = {bare_us:.1f} us")

    fresh = cookies(key, session_id, args.tokens)  # valid for 5 minutes: the run is shorter
    # One endless iterator per case, kept across rounds: a "new" token comes back only after
    # len(fresh) requests, long after the SDK's cache (4096) has forgotten it.
    requests = {
        "none": cycle([request_bytes(None)]),
        "normal": cycle([request_bytes(None)]),
        "same": cycle([request_bytes(fresh[0])]),
        "new": cycle([request_bytes(c) for c in fresh[1:]]),
    }
    rates: dict[str, list[float]] = {name: [] for name in requests}
    print(
        f"under load: {args.rounds} rounds x {args.seconds:g} s per case, "
        f"{args.connections} keep-alive connections, cases interleaved"
    )
    with (
        Server("none", key_hex, session_id, workdir) as plain,
        Server("sdk", key_hex, session_id, workdir) as sdk,
    ):
        for _ in range(args.rounds):
            for name, lines in requests.items():
                port = plain.port if name == "none" else sdk.port
                rates[name].append(measure(port, lines, args.seconds, args.connections))
    for name, values in rates.items():
        print(f"  {name:<7} " + " ".join(f"{v:,.0f}" for v in values) + " rps")
    best = {name: max(values) for name, values in rates.items()}
    if len(fresh) < 3 * 4096:
        print("  (warning: --tokens is close to the SDK's cache size; 'new' may hit the cache)")
    report(
        "under load (best round of each case; rps "
        + ", ".join(f"{k} {v:,.0f}" for k, v in best.items())
        + ")",
        {name: 1e6 / rate for name, rate in best.items()},
        bare_us,
    )
    report(
        f"in process, CPU time ({args.in_process:,} requests per case, best of 3)",
        in_process(key, session_id, args.in_process, workdir),
        bare_us,
    )


if __name__ == "__main__":
    main()
