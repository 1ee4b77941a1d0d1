"""The revocation feed: the bus, the catch-up list, the SSE stream, and replicas on PostgreSQL.

SSE is tested against real uvicorn servers on 127.0.0.1 (in a thread, or in subprocesses for
the cross-replica tests), read by an httpx client running on its own event loop, because the
TestClient does not stream. Every wait is bounded; no assertion is about speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from actas.api.routes.revocations import StreamCursor
from actas.app import create_app
from actas.bootstrap import Broker, initialise
from actas.domain.access import Revocation
from actas.domain.clock import Clock, FrozenClock, system_clock
from actas.revocation.bus import RevocationBus, Subscription
from actas.revocation.pg_listener import PgRevocationListener, libpq_url, parse_payload
from actas.settings import Settings
from actas.store.uow import Store

WAIT = 10.0  # generous bound for anything that should take milliseconds


def _revocation(seq: int, app: str = "notes") -> Revocation:
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    return Revocation(
        seq=seq,
        session_id=f"s{seq}",
        application_id=app,
        reason="staff_ended",
        at=at,
        session_expires_at=at + timedelta(hours=1),
    )


def revoke(store: Store, clock: Clock, *, app: str = "notes", reason: str = "staff_ended") -> str:
    """Commit one revocation through ``store`` (the code path of a replica); its session id."""
    session_id = str(uuid.uuid4())
    now = clock()
    with store.transaction() as uow:
        uow.revocations.add(
            session_id=session_id,
            application_id=app,
            reason=reason,
            at=now,
            session_expires_at=now + timedelta(hours=1),
        )
    return session_id


# --- the bus ----------------------------------------------------------------------------------


def test_bus_passes_each_seq_once_and_only_to_its_application() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        bus = RevocationBus()
        notes = bus.subscribe("notes")
        everything = bus.subscribe()
        for r in (_revocation(1), _revocation(2, app="other"), _revocation(1), _revocation(3)):
            bus.publish(r)
        await asyncio.sleep(0)

        async def take(subscription: Subscription, n: int) -> list[int]:
            got = [await asyncio.wait_for(subscription.get(), WAIT) for _ in range(n)]
            subscription.close()  # what is left is dropped: the client is gone
            assert await subscription.get() is None
            return [r.seq for r in got if r is not None]

        return await take(notes, 2), await take(everything, 3)

    notes, everything = asyncio.run(scenario())
    assert notes == [1, 3]
    assert everything == [1, 2, 3]


def test_bus_delivers_from_other_threads() -> None:
    async def scenario() -> list[int]:
        bus = RevocationBus()
        received: list[int] = []
        with bus.subscribe() as subscription:
            workers = [
                threading.Thread(target=bus.publish, args=(_revocation(seq),))
                for seq in range(1, 51)
            ]
            for w in workers:
                w.start()
            for _ in range(50):
                got = await asyncio.wait_for(subscription.get(), WAIT)
                assert got is not None
                received.append(got.seq)
            for w in workers:
                w.join(WAIT)
        assert bus.subscriber_count == 0
        return received

    assert sorted(asyncio.run(scenario())) == list(range(1, 51))


def test_a_slow_subscriber_is_dropped_without_holding_up_the_others() -> None:
    async def scenario() -> tuple[bool, list[int], bool, int]:
        bus = RevocationBus(queue_size=3)
        slow = bus.subscribe()
        fast = bus.subscribe()
        seen: list[int] = []
        for seq in range(1, 6):
            bus.publish(_revocation(seq))
            await asyncio.sleep(0)  # the fast one reads each as it comes
            got = await asyncio.wait_for(fast.get(), WAIT)
            assert got is not None
            seen.append(got.seq)
        ended = [r async for r in slow]  # its stream ends; the client would reconnect
        fast.close()
        return slow.dropped, seen, ended == [], bus.subscriber_count

    dropped, seen, slow_ended_empty, left = asyncio.run(scenario())
    assert dropped
    assert seen == [1, 2, 3, 4, 5]
    assert slow_ended_empty
    assert left == 0


def test_the_bus_remembers_a_bounded_number_of_seqs() -> None:
    bus = RevocationBus(remember=2)
    for seq in (1, 2, 3):
        bus.publish(_revocation(seq))
    assert bus.highest_seq == 3
    assert len(bus._seen) == 2


def test_the_stream_cursor_never_repeats_and_its_id_only_grows() -> None:
    cursor = StreamCursor(after=5)
    late = cursor.event(_revocation(4))  # committed after 5 although numbered before it
    assert late is not None
    assert late.id is None
    first = cursor.event(_revocation(7))
    assert first is not None
    assert first.id == "7"
    assert cursor.event(_revocation(7)) is None
    out_of_order = cursor.event(_revocation(6))
    assert out_of_order is not None
    assert out_of_order.id is None
    assert cursor.event(_revocation(6)) is None
    assert cursor.highest == 7


def test_payload_round_trip_and_libpq_url() -> None:
    r = _revocation(42)
    assert parse_payload(r.payload()) == r
    assert (
        libpq_url("postgresql+psycopg://u:p%40ss@db.example:5433/actas?sslmode=require")
        == "postgresql://u:p%40ss@db.example:5433/actas?sslmode=require"
    )
    with pytest.raises(ValueError):
        libpq_url("sqlite:///x.db")


# --- the catch-up list (TestClient) -------------------------------------------------------------


def test_json_catch_up_lists_only_the_callers_revocations(
    client: TestClient, broker: Broker, demo_app: tuple[str, dict[str, str]], clock: FrozenClock
) -> None:
    app_id, headers = demo_app
    first = revoke(broker.store, clock, app=app_id)
    revoke(broker.store, clock, app="someone-else")
    second = revoke(broker.store, clock, app=app_id)
    # An expired session needs no revocation any more: it is left out.
    with broker.store.transaction() as uow:
        uow.revocations.add(
            session_id="long-gone",
            application_id=app_id,
            reason="expired",
            at=clock() - timedelta(hours=2),
            session_expires_at=clock() - timedelta(hours=1),
        )

    response = client.get("/v1/revocations", headers={**headers, "Accept": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["session"] for r in body["revocations"]] == [first, second]
    assert {r["application"] for r in body["revocations"]} == {app_id}
    seqs = [r["seq"] for r in body["revocations"]]
    assert body["last_seq"] == seqs[-1]

    after = client.get(f"/v1/revocations?format=json&after={seqs[0]}", headers=headers).json()
    assert [r["session"] for r in after["revocations"]] == [second]
    none = client.get(f"/v1/revocations?format=json&after={seqs[1]}", headers=headers).json()
    assert none == {"revocations": [], "last_seq": seqs[1]}
    # A header wins over ?after= (an EventSource reconnect keeps its first URL); a blank one
    # is no header at all.
    resumed = client.get(
        "/v1/revocations?format=json&after=0", headers={**headers, "Last-Event-ID": str(seqs[0])}
    ).json()
    assert [r["session"] for r in resumed["revocations"]] == [second]
    blank = client.get("/v1/revocations?format=json", headers={**headers, "Last-Event-ID": " "})
    assert blank.json() == body


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("abc", "not a revocation sequence number"),
        ("-1", "not a revocation sequence number"),
        ("1e3", "not a revocation sequence number"),
        ("99999999999999999999", "not a revocation sequence number"),
        ("12345", "not known here"),
    ],
)
def test_a_bad_or_unknown_last_event_id_is_a_problem(
    client: TestClient, demo_app: tuple[str, dict[str, str]], header: str, detail: str
) -> None:
    _, headers = demo_app
    response = client.get("/v1/revocations", headers={**headers, "Last-Event-ID": header})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert detail in response.json()["detail"]


def test_bad_query_parameters_are_problems(
    client: TestClient, demo_app: tuple[str, dict[str, str]]
) -> None:
    _, headers = demo_app
    for query in ("after=-1", "after=x", "format=xml", "after=999"):
        response = client.get(f"/v1/revocations?{query}", headers=headers)
        assert response.status_code == 422, query
        assert response.headers["content-type"].startswith("application/problem+json")


def test_the_feed_needs_an_application_credential(client: TestClient) -> None:
    assert client.get("/v1/revocations?format=json").status_code == 401
    bad = {"Authorization": "Bearer not-a-credential"}
    assert client.get("/v1/revocations?format=json", headers=bad).status_code == 401


def test_no_listener_thread_runs_on_sqlite(broker: Broker, backend: str) -> None:
    with TestClient(create_app(broker)):
        names = {t.name for t in threading.enumerate()}
    assert ("actas-revocation-listener" in names) == (backend == "postgres")


# --- SSE against real servers ----------------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    kind: str  # "revocation", or "ready" for the comment that ends the catch-up
    id: str | None = None
    data: dict[str, Any] | None = None


class SseClient:
    """Reads one event stream on its own thread and event loop; ``close()`` cancels it."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url = url
        self.headers = headers
        self.events: queue.Queue[SseEvent] = queue.Queue()
        self.status: int | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SseClient:
        self._thread.start()
        assert self._started.wait(WAIT)
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(WAIT)
        assert not self._thread.is_alive(), "the SSE client did not stop"

    def next(self, timeout: float = WAIT) -> SseEvent:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no event within {timeout}s (status {self.status}, error {self.error!r})"
            ) from None

    def until_ready(self) -> list[SseEvent]:
        """The catch-up: every event before the ``ready`` comment."""
        got: list[SseEvent] = []
        while (event := self.next()).kind != "ready":
            got.append(event)
        return got

    def assert_quiet(self, seconds: float = 0.3) -> None:
        try:
            extra = self.events.get(timeout=seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event {extra}")

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started.set()
        try:
            await self._read()
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            self.error = exc

    async def _read(self) -> None:
        timeout = httpx.Timeout(WAIT, read=None)
        async with (
            httpx.AsyncClient(timeout=timeout) as http,
            http.stream("GET", self.url, headers=self.headers) as response,
        ):
            self.status = response.status_code
            if response.status_code != 200:
                await response.aread()
                return
            fields: dict[str, str] = {}
            async for line in response.aiter_lines():
                if line == "":
                    if "data" in fields:
                        self.events.put(
                            SseEvent(
                                kind=fields.get("event", "message"),
                                id=fields.get("id"),
                                data=json.loads(fields["data"]),
                            )
                        )
                    fields = {}
                elif line.startswith(":"):
                    if line[1:].strip() == "ready":
                        self.events.put(SseEvent(kind="ready"))
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class ServerThread:
    """A uvicorn server for ``app`` on 127.0.0.1, in a thread of this process."""

    def __init__(self, app: FastAPI) -> None:
        self.sock = _listening_socket()
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, log_level="warning", lifespan="on", timeout_graceful_shutdown=3
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + WAIT
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert self.thread.is_alive(), "the server thread died"
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)
        self.sock.close()
        assert not self.thread.is_alive(), "the server did not stop"


@pytest.fixture
def server(broker: Broker) -> Iterator[ServerThread]:
    with ServerThread(create_app(broker)) as running:
        yield running


@pytest.fixture
def other_replica(broker: Broker, backend: str) -> Iterator[Store]:
    """Where revocations are committed from: on PostgreSQL a store that tells no local bus (so
    the event can only arrive through LISTEN/NOTIFY); on SQLite the broker's own store."""
    if backend == "sqlite":
        yield broker.store
        return
    yield Store(broker.engine, clock=broker.clock)


def test_sse_client_hears_a_revocation_committed_after_it_connected(
    server: ServerThread,
    broker: Broker,
    other_replica: Store,
    demo_app: tuple[str, dict[str, str]],
    clock: FrozenClock,
) -> None:
    app_id, headers = demo_app
    with SseClient(f"{server.base}/v1/revocations", headers) as sse:
        assert sse.until_ready() == []
        revoke(other_replica, clock, app="someone-else")
        session = revoke(other_replica, clock, app=app_id)
        event = sse.next()
        assert event.kind == "revocation"
        assert event.data is not None
        assert event.data["session"] == session
        assert event.data["application"] == app_id
        assert event.id == str(event.data["seq"])
        sse.assert_quiet()
        assert broker.bus.subscriber_count == 1
    assert sse.status == 200
    deadline = time.monotonic() + WAIT
    while broker.bus.subscriber_count:  # the closed stream let go of its subscription
        assert time.monotonic() < deadline, "the stream's subscription leaked"
        time.sleep(0.01)


def test_a_reconnect_with_last_event_id_gets_what_it_missed_exactly_once(
    server: ServerThread,
    other_replica: Store,
    demo_app: tuple[str, dict[str, str]],
    clock: FrozenClock,
) -> None:
    app_id, headers = demo_app
    url = f"{server.base}/v1/revocations"
    before = revoke(other_replica, clock, app=app_id)
    with SseClient(url, headers) as sse:
        snapshot = sse.until_ready()
        assert [e.data["session"] for e in snapshot if e.data] == [before]
        live = revoke(other_replica, clock, app=app_id)
        event = sse.next()
        assert event.data is not None
        assert event.data["session"] == live
        last_id = event.id
    assert last_id is not None

    missed = [revoke(other_replica, clock, app=app_id) for _ in range(3)]
    with SseClient(url, {**headers, "Last-Event-ID": last_id}) as sse:
        caught_up = sse.until_ready()
        assert [e.data["session"] for e in caught_up if e.data] == missed
        ids = [e.id for e in caught_up]
        assert len(set(ids)) == len(ids) == 3
        after = revoke(other_replica, clock, app=app_id)
        event = sse.next()
        assert event.data is not None
        assert event.data["session"] == after
        sse.assert_quiet()

    # ?after= works the same for clients that cannot set the header.
    with SseClient(f"{url}?after={ids[-1]}", headers) as sse:
        assert [e.data["session"] for e in sse.until_ready() if e.data] == [after]


def test_a_stream_refuses_an_unknown_last_event_id(
    server: ServerThread, demo_app: tuple[str, dict[str, str]]
) -> None:
    _, headers = demo_app
    with SseClient(f"{server.base}/v1/revocations", {**headers, "Last-Event-ID": "77"}) as sse:
        deadline = time.monotonic() + WAIT
        while sse.status is None and sse.error is None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert sse.status == 422


# --- PostgreSQL: the listener, and replicas in separate processes ---------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_the_listener_reconnects_and_catches_up_what_it_missed(
    broker: Broker, clock: FrozenClock
) -> None:
    bus = RevocationBus()
    heard: queue.Queue[Revocation] = queue.Queue()

    class Spy(RevocationBus):
        def publish(self, revocation: Revocation) -> None:
            heard.put(revocation)
            bus.publish(revocation)

    silent = Store(broker.engine, clock=clock)  # nothing local: only NOTIFY or catch-up tell
    listener = PgRevocationListener(
        broker.settings.database_url,
        Spy(),
        backlog=lambda after: _backlog(silent, clock, after),
    )
    listener.start()
    try:
        assert listener.wait_listening(WAIT)
        first = revoke(silent, clock)
        assert heard.get(timeout=WAIT).session_id == first

        with psycopg.connect(libpq_url(broker.settings.database_url), autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'actas-revocation-listener' "
                "AND datname = current_database()"
            )
        missed = revoke(silent, clock)  # almost surely while it is away: NOTIFY never reaches it
        deadline = time.monotonic() + WAIT
        sessions: set[str] = set()
        while missed not in sessions:
            assert time.monotonic() < deadline, "the missed revocation never arrived"
            with contextlib.suppress(queue.Empty):
                sessions.add(heard.get(timeout=0.1).session_id)
        assert listener.connections >= 2
        assert bus.highest_seq >= 2
    finally:
        started = time.monotonic()
        listener.stop()
        assert time.monotonic() - started < 2.0, "stop() should not wait out a poll timeout"
        assert not listener.listening


def _replica_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTAS_")}
    env.update(
        {
            "ACTAS_DATABASE_URL": settings.database_url,
            "ACTAS_PUBLIC_URL": settings.public_url,
            "ACTAS_KEY_FILE": str(settings.key_file),
        }
    )
    return env


_REPLICA = """
import socket, sys, uvicorn
from actas.app import create_app
from actas.bootstrap import build
from actas.settings import load_settings
sock = socket.socket(fileno=int(sys.argv[1]))
config = uvicorn.Config(create_app(build(load_settings())), log_level="warning",
                        timeout_graceful_shutdown=2)
uvicorn.Server(config).run(sockets=[sock])
"""


class Replica:
    """A broker process (uvicorn) on 127.0.0.1; always terminated on exit."""

    def __init__(self, settings: Settings, workdir: Path, name: str) -> None:
        self.settings = settings
        self.workdir = workdir
        self.log = workdir / f"replica-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base = ""

    def __enter__(self) -> Replica:
        sock = _listening_socket()
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _REPLICA, str(sock.fileno())],
                pass_fds=(sock.fileno(),),
                env=_replica_env(self.settings),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        sock.close()
        return self

    def wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + 3 * WAIT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"replica died:\n{self.log.read_text()}"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"replica did not start:\n{self.log.read_text()}")

    def __exit__(self, *_: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(WAIT)


@contextlib.contextmanager
def _started(*replicas: Replica) -> Iterator[None]:
    """Wait for replicas spawned side by side (they start in parallel)."""
    for each in replicas:
        each.wait_healthy()
    yield


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_revocation_on_one_process_reaches_sse_clients_of_others(
    settings: Settings,
    broker: Broker,
    demo_app: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    initialise(settings)
    app_id, headers = demo_app
    # This test process is a third replica: it commits the way any broker process does, and
    # with no publisher of its own, so only PostgreSQL can carry the news to A and B.
    third = Store(broker.engine, clock=system_clock)
    with (
        Replica(settings, tmp_path, "a") as a,
        Replica(settings, tmp_path, "b") as b,
        _started(a, b),
        SseClient(f"{a.base}/v1/revocations", headers) as on_a,
        SseClient(f"{b.base}/v1/revocations", headers) as on_b,
    ):
        assert on_a.until_ready() == []
        assert on_b.until_ready() == []
        sessions = [revoke(third, system_clock, app=app_id) for _ in range(3)]
        for client in (on_a, on_b):
            got = [client.next() for _ in sessions]
            assert [e.data["session"] for e in got if e.data] == sessions
            assert len({e.id for e in got}) == 3
            client.assert_quiet()
        last_id = got[-1].id
        assert last_id is not None

        # A client of B that resumes on A, having missed one, gets exactly that one.
        missed = revoke(third, system_clock, app=app_id)
        assert on_b.next().data == on_a.next().data
        with SseClient(f"{a.base}/v1/revocations", {**headers, "Last-Event-ID": last_id}) as again:
            caught_up = again.until_ready()
            assert [e.data["session"] for e in caught_up if e.data] == [missed]


def _backlog(store: Store, clock: Clock, after: int) -> list[Revocation]:
    with store.read() as uow:
        return uow.revocations.current(now=clock(), after_seq=after)
