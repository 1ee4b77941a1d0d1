"""Announcements: the outbox worker, signed webhooks, Slack messages and Slack interactions.

Receivers are real HTTP servers (Starlette under uvicorn, in a thread, on 127.0.0.1); every
server and worker is stopped at the end of its test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from actas.app import create_app
from actas.bootstrap import Broker, build
from actas.domain.audit import AuditEvent, AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.ports import Channel
from actas.keys import keyring
from actas.notify import OutboxMessage, clean_error
from actas.notify.channels import channels_for, senders_for
from actas.notify.outbox import DEAD_LETTERED, OutboxRunner, OutboxWorker, backoff
from actas.notify.slack import (
    Interaction,
    SlackSender,
    build_message,
    parse_interaction,
    verify_interaction,
)
from actas.notify.webhooks import WebhookSender, signed_headers, webhook_body
from actas.security.passwords import FastTestPasswords
from actas.services.announce import announce
from actas.settings import load_settings
from actas.store.engine import make_engine
from actas.store.tables import outbox
from actas.store.uow import Store

SECRET = "whsec_" + base64.b64encode(b"actas-test-webhook-secret-32byte").decode()
SLACK_SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
REQUEST_ID = "6c1f0c1e-6f7e-4a53-9d0a-3c2f1b0e9a11"
SESSION_ID = "0b9a4f3e-2d1c-4b5a-8e7f-1a2b3c4d5e6f"


# --- a real local HTTP server ----------------------------------------------------------------


class LocalServer:
    """``app`` under uvicorn in a thread, on 127.0.0.1 and a free port."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_level="warning",
            access_log=False,
            ws="none",
            http="h11",
            loop="asyncio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                self.stop()
                raise RuntimeError("the local server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
        assert not self.thread.is_alive(), "the local server did not stop"

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Receiver:
    """Webhook, Slack incoming-webhook and Slack Web API receivers in one app."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: What the webhook receiver answers.
        self.status = 204
        #: Seconds to take over each webhook delivery.
        self.delay = 0.0
        self.deliveries: list[tuple[dict[str, str], Any]] = []
        self.rejected: list[str] = []
        self.slack: list[dict[str, Any]] = []
        self.api_calls: list[tuple[str, dict[str, Any]]] = []
        self.api_error: str | None = None
        self.webhook = Webhook(SECRET)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        try:
            data = self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.rejected.append(str(exc))
            return Response(status_code=401)
        if self.delay:
            time.sleep(self.delay)  # blocks this server's loop on purpose: a slow receiver
        with self.lock:
            self.deliveries.append((headers, data))
        return Response(status_code=self.status)

    async def slack_webhook(self, request: Request) -> Response:
        with self.lock:
            self.slack.append(await request.json())
        return Response("ok", media_type="text/plain")

    async def slack_api(self, request: Request) -> Response:
        payload = await request.json()
        with self.lock:
            self.api_calls.append((request.headers.get("authorization", ""), payload))
        if self.api_error:
            return JSONResponse({"ok": False, "error": self.api_error})
        return JSONResponse({"ok": True, "channel": payload.get("channel"), "ts": "1.000100"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/hook", self.hook, methods=["POST"]),
                Route("/slack/T000/B000/secretpath", self.slack_webhook, methods=["POST"]),
                Route("/api/chat.postMessage", self.slack_api, methods=["POST"]),
            ]
        )

    def ids(self) -> list[str]:
        with self.lock:
            return [headers["webhook-id"] for headers, _ in self.deliveries]


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    made = Receiver()
    with LocalServer(made.app()) as server:
        yield made, server.url


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# --- helpers over the broker ------------------------------------------------------------------


def session_payload(**extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session": SESSION_ID,
        "case": "case-1",
        "staff": "staff-1",
        "staff_email": "agent@staff.test",
        "application": "notes",
        "subject": "user-42",
        "account": "acme",
        "kind": "impersonate",
        "scopes": ["read"],
        "expires_at": "2026-11-23T12:30:00+00:00",
        "console_url": f"https://broker.test/console/sessions/{SESSION_ID}",
    }
    payload.update(extra)
    return payload


def request_payload(**extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "request": REQUEST_ID,
        "case": "case-1",
        "staff": "staff-1",
        "staff_email": "agent@staff.test",
        "application": "notes",
        "subject": "user-42",
        "account": "acme",
        "kind": "assist",
        "scopes": ["admin:reset_mfa"],
        "minutes": 30,
        "reasons": ["the account is regulated: a lead must approve"],
        "outcome": "needs_approval",
        "high_risk": False,
        "console_url": f"https://broker.test/console/requests/{REQUEST_ID}",
    }
    payload.update(extra)
    return payload


def announce_one(
    broker: Broker,
    channels: tuple[Channel, ...],
    event_type: str = "session.started",
    payload: dict[str, Any] | None = None,
    *,
    audit_type: str | None = None,
) -> None:
    with broker.store.transaction() as uow:
        if audit_type:
            uow.audit.record(AuditEvent(type=audit_type, actor="staff-1"))
        announce(uow, channels, event_type, payload or session_payload(), at=broker.clock())


def outbox_rows(broker: Broker) -> list[Any]:
    with broker.engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.created_at, outbox.c.id)))


def audit_events(broker: Broker, event_type: str) -> list[dict[str, Any]]:
    with broker.store.read() as uow:
        return uow.audit.query(AuditQuery(type=event_type))


@pytest.fixture
def hook_url(receiver: tuple[Receiver, str]) -> str:
    return receiver[1] + "/hook"


@pytest.fixture
def worker(broker: Broker, clock: FrozenClock, hook_url: str) -> Iterator[OutboxWorker]:
    made = OutboxWorker(
        broker.store, {"webhook": WebhookSender(SECRET, allowed_urls=[hook_url])}, clock=clock
    )
    yield made
    made.close()


# --- signed webhooks ----------------------------------------------------------------------------


def test_webhook_is_delivered_signed_once(
    broker: Broker,
    clock: FrozenClock,
    receiver: tuple[Receiver, str],
    hook_url: str,
    worker: OutboxWorker,
) -> None:
    got, _ = receiver
    announce_one(broker, (Channel("webhook", hook_url),))
    [row] = outbox_rows(broker)

    stats = worker.deliver_due()

    assert (stats.claimed, stats.delivered, stats.retried, stats.dead) == (1, 1, 0, 0)
    assert got.rejected == []
    [(headers, body)] = got.deliveries
    assert headers["webhook-id"] == row.id
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    assert body == {
        "type": "session.started",
        "timestamp": "2026-11-23T12:00:00Z",
        "data": session_payload(),
    }
    [row] = outbox_rows(broker)
    assert row.delivered_at == clock()
    assert (row.attempts, row.dead_at, row.last_error) == (1, None, None)
    clock.advance(3600)
    assert worker.deliver_due().claimed == 0
    assert len(got.deliveries) == 1


def test_signature_matches_the_spec_by_hand() -> None:
    """The library's signature is HMAC-SHA256 over ``id.timestamp.body`` (Standard Webhooks)."""
    from datetime import UTC, datetime

    at = datetime(2026, 11, 23, 12, 0, 5, 999999, tzinfo=UTC)
    message = OutboxMessage(
        id="msg_1",
        channel="webhook",
        target="https://example.test/hook",
        event_type="session.ended",
        payload={"session": "s1", "end_reason": "expired"},
        created_at=at,
        attempts=0,
    )
    body = webhook_body(message)
    headers = signed_headers(Webhook(SECRET), "msg_1", body, at)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"msg_1.{headers['webhook-timestamp']}.{body}".encode(), "sha256")
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected.digest()).decode()


def test_failing_receiver_retries_with_backoff_then_dead_letters_without_undoing_the_action(
    broker: Broker,
    clock: FrozenClock,
    receiver: tuple[Receiver, str],
    hook_url: str,
    worker: OutboxWorker,
) -> None:
    got, _ = receiver
    got.status = 500
    announce_one(broker, (Channel("webhook", hook_url),), audit_type="test.action_announced")
    [row] = outbox_rows(broker)

    delays = [5, 10, 20, 40, 80, 160, 320]
    for attempt, delay in enumerate(delays, start=1):
        stats = worker.deliver_due()
        assert (stats.claimed, stats.retried) == (1, 1)
        [row] = outbox_rows(broker)
        assert row.attempts == attempt
        assert row.last_error == "HTTP 500"
        assert row.next_attempt_at == clock() + timedelta(seconds=delay)
        assert (row.delivered_at, row.dead_at) == (None, None)
        # Not due yet: nothing is claimed, nothing is sent.
        assert worker.deliver_due().claimed == 0
        clock.advance(delay - 1)
        assert worker.deliver_due().claimed == 0
        clock.advance(1)

    stats = worker.deliver_due()
    assert (stats.claimed, stats.dead) == (1, 1)
    [row] = outbox_rows(broker)
    assert row.attempts == 8
    assert row.dead_at == clock()
    assert row.delivered_at is None
    assert row.last_error == "HTTP 500"
    assert len(got.deliveries) == 8
    assert set(got.ids()) == {row.id}

    # The dead letter stays put: never claimed again.
    clock.advance(7 * 24 * 3600)
    assert worker.deliver_due().claimed == 0

    [event] = audit_events(broker, DEAD_LETTERED)
    assert event["data"] == {
        "id": row.id,
        "channel": "webhook",
        "event_type": "session.started",
        "attempts": 8,
        "last_error": "HTTP 500",
    }
    assert event["session"] == SESSION_ID
    assert event["case"] == "case-1"
    # The action the announcement was about is committed, whatever the receiver did.
    assert len(audit_events(broker, "test.action_announced")) == 1


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 12)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        640,
        1280,
        2560,
        3600,
    ]
    assert backoff(10_000).total_seconds() == 3600


def test_rolled_back_action_announces_nothing(broker: Broker, hook_url: str) -> None:
    def act() -> None:
        with broker.store.transaction() as uow:
            uow.audit.record(AuditEvent(type="test.action_announced", actor="staff-1"))
            announce(
                uow,
                (Channel("webhook", hook_url),),
                "session.started",
                session_payload(),
                at=broker.clock(),
            )
            raise RuntimeError("the action failed after announcing")

    with pytest.raises(RuntimeError):
        act()
    assert outbox_rows(broker) == []
    assert audit_events(broker, "test.action_announced") == []


def test_unreachable_receiver_is_a_failure_with_a_short_error(
    broker: Broker, clock: FrozenClock
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook?token=s3cret"
    sender = WebhookSender(SECRET, allowed_urls=[url])
    worker = OutboxWorker(broker.store, {"webhook": sender}, clock=clock)
    try:
        announce_one(broker, (Channel("webhook", url),))
        stats = worker.deliver_due()
    finally:
        worker.close()
    assert stats.retried == 1
    [row] = outbox_rows(broker)
    assert row.last_error == "ConnectError"
    assert row.next_attempt_at == clock() + timedelta(seconds=5)


def test_a_target_no_longer_configured_is_dead_lettered_at_once(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str], worker: OutboxWorker
) -> None:
    got, base = receiver
    announce_one(broker, (Channel("webhook", base + "/elsewhere"),))
    stats = worker.deliver_due()
    assert stats.dead == 1
    [row] = outbox_rows(broker)
    assert (row.attempts, row.last_error) == (1, "receiver is not configured")
    assert row.dead_at == clock()
    assert got.deliveries == []
    assert len(audit_events(broker, DEAD_LETTERED)) == 1


def test_a_channel_without_a_sender_and_a_broken_sender_are_retried(
    broker: Broker, clock: FrozenClock
) -> None:
    class Exploding:
        def send(self, message: OutboxMessage) -> Any:
            raise RuntimeError(f"boom with {message.target}")

        def close(self) -> None:
            pass

    worker = OutboxWorker(broker.store, {"webhook": Exploding()}, clock=clock)
    announce_one(broker, (Channel("webhook", "https://hooks.example/x"), Channel("slack", "#s")))
    stats = worker.deliver_due()
    worker.close()
    assert (stats.claimed, stats.retried) == (2, 2)
    errors = {row.channel: row.last_error for row in outbox_rows(broker)}
    assert errors == {"webhook": "RuntimeError", "slack": "no slack sender configured"}


def test_a_result_is_not_recorded_over_another_workers_lease(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str], hook_url: str
) -> None:
    """A worker whose lease ran out (another took the row) does not overwrite the row."""

    real = WebhookSender(SECRET)

    class TakenOver:
        def send(self, message: OutboxMessage) -> Any:
            with broker.engine.begin() as conn:
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == message.id)
                    .values(next_attempt_at=clock() + timedelta(minutes=30))
                )
            return real.send(message)

        def close(self) -> None:
            real.close()

    worker = OutboxWorker(broker.store, {"webhook": TakenOver()}, clock=clock)
    announce_one(broker, (Channel("webhook", hook_url),))
    try:
        stats = worker.deliver_due()
    finally:
        worker.close()
    assert (stats.claimed, stats.delivered, stats.lost) == (1, 0, 1)
    [row] = outbox_rows(broker)
    assert (row.delivered_at, row.attempts) == (None, 0)


def test_a_batch_hands_back_what_it_cannot_send_within_its_lease(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str], hook_url: str
) -> None:
    got, _ = receiver
    worker = OutboxWorker(
        broker.store, {"webhook": WebhookSender(SECRET, allowed_urls=[hook_url])}, clock=clock
    )
    ticks = iter([0.0, 10_000.0])
    worker.monotonic = lambda: next(ticks, 10_000.0)
    channels = (Channel("webhook", hook_url),)
    with broker.store.transaction() as uow:
        for n in range(4):
            announce(uow, channels, "session.ended", session_payload(n=n), at=clock())
    try:
        stats = worker.deliver_due(limit=10)
        assert (stats.claimed, stats.delivered, stats.released) == (4, 1, 3)
        assert len(got.deliveries) == 1
        # Handed back, not leased: due again at once, and sent once each.
        worker.monotonic = time.monotonic
        assert worker.deliver_due(limit=10).delivered == 3
    finally:
        worker.close()
    assert sorted(Counter(got.ids()).values()) == [1, 1, 1, 1]
    assert [row.attempts for row in outbox_rows(broker)] == [1, 1, 1, 1]


def test_two_workers_deliver_each_row_exactly_once(
    broker: Broker,
    settings: Any,
    clock: FrozenClock,
    receiver: tuple[Receiver, str],
    hook_url: str,
) -> None:
    """Two replicas (own engines, own workers) drain one outbox concurrently."""
    got, _ = receiver
    got.delay = 0.005
    channels = (Channel("webhook", hook_url),)
    with broker.store.transaction() as uow:
        for n in range(40):
            announce(uow, channels, "session.ended", session_payload(n=n), at=clock())

    engines = [make_engine(settings.database_url) for _ in range(2)]
    workers = [
        OutboxWorker(
            Store(engine, clock=clock),
            {"webhook": WebhookSender(SECRET, allowed_urls=[hook_url])},
            clock=clock,
        )
        for engine in engines
    ]
    delivered = [0, 0]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def drain(index: int) -> None:
        try:
            start.wait(10)
            for _ in range(200):
                stats = workers[index].deliver_due(limit=3)
                delivered[index] += stats.delivered
                if stats.claimed == 0:
                    return
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for made in workers:
            made.close()
        for engine in engines:
            engine.dispose()

    assert errors == []
    counts = Counter(got.ids())
    assert len(counts) == 40
    assert set(counts.values()) == {1}
    assert sum(delivered) == 40
    assert min(delivered) > 0, f"one worker did everything: {delivered}"
    with broker.engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.delivered_at.is_(None))
        ).scalar_one()
    assert pending == 0


def test_runner_delivers_in_the_background_and_stops(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str], hook_url: str
) -> None:
    got, _ = receiver
    worker = OutboxWorker(
        broker.store, {"webhook": WebhookSender(SECRET, allowed_urls=[hook_url])}, clock=clock
    )
    runner = OutboxRunner(worker, interval=0.05)
    with runner:
        assert runner.running
        announce_one(broker, (Channel("webhook", hook_url),))
        assert wait_for(lambda: len(got.deliveries) == 1)
    assert not any(t.name == "actas-outbox" for t in threading.enumerate())
    assert runner.stop() is True
    [row] = outbox_rows(broker)
    assert row.delivered_at is not None


# --- wiring: settings to channels and senders, and the app's lifespan -------------------------


def test_app_lifespan_runs_delivery_when_asked(
    database_url: str, tmp_path: Path, clock: FrozenClock, receiver: tuple[Receiver, str]
) -> None:
    got, base = receiver
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.test",
            "ACTAS_KEY_FILE": str(tmp_path / "keys.json"),
            "ACTAS_WEBHOOK_URLS": f"{base}/hook",
            "ACTAS_WEBHOOK_SECRET": SECRET,
        },
        cwd=tmp_path,
    )
    keyring.ensure(settings.key_file, clock())
    broker = build(settings, clock=clock, passwords=FastTestPasswords())
    assert broker.channels == (Channel("webhook", f"{base}/hook"),)
    assert broker.services.channels == broker.channels
    try:
        with TestClient(create_app(broker, deliver_outbox=True), base_url="https://broker.test"):
            announce_one(broker, broker.services.channels)
            assert wait_for(lambda: len(got.deliveries) == 1)
        assert [t.name for t in threading.enumerate() if t.name == "actas-outbox"] == []
    finally:
        broker.engine.dispose()


def test_channels_and_senders_follow_the_settings(tmp_path: Path) -> None:
    base = {"ACTAS_KEY_FILE": str(tmp_path / "k.json")}

    def settings(**env: str) -> Any:
        return load_settings({**base, **env}, cwd=tmp_path)

    assert channels_for(settings()) == ()
    # Customer email always has a sender: the maildir when no SMTP server is configured.
    assert sorted(senders_for(settings())) == ["email"]
    hook = "https://hooks.slack.com/services/T/B/x"
    assert channels_for(settings(ACTAS_SLACK_WEBHOOK_URL=hook)) == (
        Channel("slack", "incoming-webhook"),
    )
    bot = settings(ACTAS_SLACK_BOT_TOKEN="xoxb-1", ACTAS_SLACK_CHANNEL="#support-access")
    assert channels_for(bot) == (Channel("slack", "#support-access"),)
    assert channels_for(settings(ACTAS_SLACK_BOT_TOKEN="xoxb-1")) == ()
    both = settings(
        ACTAS_SLACK_WEBHOOK_URL=hook,
        ACTAS_WEBHOOK_URLS="https://a.example/hook, https://b.example/hook",
        ACTAS_WEBHOOK_SECRET=SECRET,
    )
    assert channels_for(both) == (
        Channel("slack", "incoming-webhook"),
        Channel("webhook", "https://a.example/hook"),
        Channel("webhook", "https://b.example/hook"),
    )
    senders = senders_for(both)
    try:
        assert sorted(senders) == ["email", "slack", "webhook"]
    finally:
        for sender in senders.values():
            sender.close()


# --- Slack messages -------------------------------------------------------------------------------


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def test_slack_webhook_gets_approve_and_deny_buttons(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str]
) -> None:
    got, base = receiver
    sender = SlackSender(webhook_url=f"{base}/slack/T000/B000/secretpath")
    worker = OutboxWorker(broker.store, {"slack": sender}, clock=clock)
    try:
        announce_one(
            broker, (Channel("slack", "incoming-webhook"),), "access.requested", request_payload()
        )
        assert worker.deliver_due().delivered == 1
    finally:
        worker.close()
    [message] = got.slack
    assert "agent@staff.test" in message["text"]
    assert "user-42" in message["text"]
    found = buttons(message)
    assert [(b["action_id"], b["value"], b.get("style")) for b in found] == [
        ("approve", REQUEST_ID, "primary"),
        ("deny", REQUEST_ID, "danger"),
    ]
    assert all("url" not in b for b in found)
    shown = json.dumps(message)
    assert "the account is regulated" in shown
    assert REQUEST_ID in shown


def test_high_risk_request_gets_only_a_console_link(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str]
) -> None:
    got, base = receiver
    sender = SlackSender(webhook_url=f"{base}/slack/T000/B000/secretpath")
    worker = OutboxWorker(broker.store, {"slack": sender}, clock=clock)
    try:
        announce_one(
            broker,
            (Channel("slack", "incoming-webhook"),),
            "access.requested",
            request_payload(high_risk=True),
        )
        assert worker.deliver_due().delivered == 1
    finally:
        worker.close()
    [message] = got.slack
    [button] = buttons(message)
    assert button["url"] == f"https://broker.test/console/requests/{REQUEST_ID}"
    assert button["text"]["text"] == "Review in console"
    assert "value" not in button
    action_ids = {b["action_id"] for b in buttons(message)}
    assert action_ids == {"open_console"}


def test_slack_bot_posts_through_the_web_api(
    broker: Broker, clock: FrozenClock, receiver: tuple[Receiver, str]
) -> None:
    got, base = receiver
    sender = SlackSender(bot_token="xoxb-test-token", base_url=f"{base}/api/")
    worker = OutboxWorker(broker.store, {"slack": sender}, clock=clock)
    try:
        announce_one(broker, (Channel("slack", "#support-access"),), "session.started")
        assert worker.deliver_due().delivered == 1
        got.api_error = "channel_not_found"
        announce_one(broker, (Channel("slack", "#support-access"),), "session.ended")
        assert worker.deliver_due().retried == 1
    finally:
        worker.close()
    [(auth, first), _] = got.api_calls
    assert auth == "Bearer xoxb-test-token"
    assert first["channel"] == "#support-access"
    assert "Session started" in first["text"]
    [revoke] = buttons(first)
    assert (revoke["action_id"], revoke["value"], revoke["style"]) == (
        "revoke",
        SESSION_ID,
        "danger",
    )
    failed = [row for row in outbox_rows(broker) if row.delivered_at is None]
    assert [row.last_error for row in failed] == ["Slack API error channel_not_found"]


def test_slack_webhook_url_never_lands_in_last_error(broker: Broker, clock: FrozenClock) -> None:
    secret_url = f"http://127.0.0.1:{closed_port()}/services/T000/B000/XXXXsecretXXXX"
    worker = OutboxWorker(broker.store, {"slack": SlackSender(webhook_url=secret_url)}, clock=clock)
    try:
        announce_one(broker, (Channel("slack", "incoming-webhook"),), "session.ended")
        assert worker.deliver_due().retried == 1
    finally:
        worker.close()
    [row] = outbox_rows(broker)
    assert row.last_error == "ConnectError"
    assert row.target == "incoming-webhook"
    assert "secret" not in json.dumps([str(v) for v in row._mapping.values()])


def test_message_builders_escape_and_ignore_unknown_keys() -> None:
    message = build_message(
        "session.started",
        session_payload(subject="<!channel> <https://evil.test|click> & co", mystery={"x": 1.5}),
    ).as_json()
    text = json.dumps(message)
    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text
    assert "evil.test|click>" not in text
    assert "mystery" not in text

    ended = build_message("session.ended", {"session": SESSION_ID, "end_reason": "expired"})
    assert buttons(ended.as_json()) == []
    assert "expired" in json.dumps(ended.blocks)

    allowed = build_message("access.requested", request_payload(outcome="allow"))
    assert buttons(allowed.as_json()) == []

    break_glass = build_message("access.break_glass", request_payload(outcome="allow"))
    assert "Break-glass" in break_glass.text

    unknown = build_message("something.else", {"weird": object(), "staff": 7})
    assert unknown.blocks
    assert build_message("session.extended", {}).blocks


# --- Slack interactions ---------------------------------------------------------------------------


def interaction_body(**overrides: Any) -> bytes:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": "U012AB3CD", "username": "lead"},
        "team": {"id": "T0001"},
        "response_url": "https://hooks.slack.com/actions/T0001/123/abc",
        "actions": [
            {
                "type": "button",
                "action_id": "approve",
                "block_id": "actas_actions",
                "value": REQUEST_ID,
                "action_ts": "1795435200.123456",
            }
        ],
    }
    payload.update(overrides)
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_headers(
    body: bytes, timestamp: int, secret: str = SLACK_SIGNING_SECRET
) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def test_verify_interaction_accepts_a_signed_body_within_five_minutes() -> None:
    body = interaction_body()
    ts = 1_795_435_200
    headers = slack_headers(body, ts)
    assert verify_interaction(headers, body, SLACK_SIGNING_SECRET, now=lambda: float(ts))
    assert verify_interaction(headers, body, SLACK_SIGNING_SECRET, now=lambda: ts + 300.0)
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify_interaction(lowered, body, SLACK_SIGNING_SECRET, now=lambda: float(ts))


@pytest.mark.parametrize(
    "case",
    [
        "bad_signature",
        "other_secret",
        "tampered_body",
        "too_old",
        "too_new",
        "no_headers",
        "bad_timestamp",
        "empty_secret",
        "not_utf8",
        "huge",
    ],
)
def test_verify_interaction_rejects(case: str) -> None:
    ts = 1_795_435_200
    body = interaction_body()
    headers = slack_headers(body, ts)
    secret = SLACK_SIGNING_SECRET
    now = float(ts)
    if case == "bad_signature":
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
    elif case == "other_secret":
        headers = slack_headers(body, ts, secret="another-secret")
    elif case == "tampered_body":
        body = interaction_body(user={"id": "U999EVIL"})
    elif case == "too_old":
        now = ts + 301.0
    elif case == "too_new":
        now = ts - 301.0
    elif case == "no_headers":
        headers = {}
    elif case == "bad_timestamp":
        headers["X-Slack-Request-Timestamp"] = "1_795_435_200"
    elif case == "empty_secret":
        secret = " "
    elif case == "not_utf8":
        body = b"payload=\xff\xfe"
        headers = slack_headers(body, ts)
    elif case == "huge":
        body = b"payload=" + b"a" * (200 * 1024)
        headers = slack_headers(body, ts)
    assert verify_interaction(headers, body, secret, now=lambda: now) is False


def test_parse_interaction_reads_a_button_click() -> None:
    assert parse_interaction(interaction_body()) == Interaction(
        user_id="U012AB3CD",
        action_id="approve",
        value=REQUEST_ID,
        response_url="https://hooks.slack.com/actions/T0001/123/abc",
        action_ts="1795435200.123456",
    )
    link_click = interaction_body(
        actions=[{"type": "button", "action_id": "open_console", "action_ts": "1795435200.1"}]
    )
    assert parse_interaction(link_click).value == ""


def _payload(value: Any) -> bytes:
    return urlencode({"payload": value if isinstance(value, str) else json.dumps(value)}).encode()


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"garbage",
        b"\xff\xfe\x00",
        b"payload=%FF",
        b"payload=not-json",
        b"payload=1&payload=2",
        b"other=1",
        b"&".join(b"f%d=1" % i for i in range(50)),
        _payload([1, 2]),
        _payload("[" * 5000 + "]" * 5000),
        _payload({"type": "view_submission", "user": {"id": "U1X"}}),
        interaction_body(user={"id": "u lower"}),
        interaction_body(user="U012AB3CD"),
        interaction_body(actions=[]),
        interaction_body(actions="approve"),
        interaction_body(actions=[{"action_id": "approve", "value": "x"}]),
        interaction_body(actions=[{"action_id": "a" * 300, "action_ts": "1.1"}]),
        interaction_body(actions=[{"action_id": "approve", "value": 7, "action_ts": "1.1"}]),
        interaction_body(response_url="https://evil.test/steal"),
        interaction_body(response_url="http://hooks.slack.com/actions/x"),
        b"payload=" + b"a" * (200 * 1024),
    ],
)
def test_parse_interaction_rejects_garbage(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_interaction(body)


def test_clean_error_keeps_one_short_safe_line() -> None:
    assert clean_error("HTTP 500\n<script>") == "HTTP 500 ?script?"
    assert len(clean_error("x" * 1000)) == 200
