"""``GET /metrics`` (who may read it, what it counts) and the JSON logs (a request id in and
out, never a secret: a whole session's life is logged and searched for every secret issued)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from fastapi.testclient import TestClient
from sqlalchemy import select

from actas.app import create_app
from actas.bootstrap import Broker, build
from actas.domain.clock import FrozenClock
from actas.http import logs
from actas.keys import keyring
from actas.security.passwords import FastTestPasswords
from actas.settings import Settings, load_settings
from actas.store.tables import outbox
from tests.scenario import World, open_case, redeem, refresh, started_session

TOKEN = "m" * 40


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _local(broker: Broker) -> TestClient:
    return TestClient(create_app(broker), base_url="http://127.0.0.1", client=("127.0.0.1", 5000))


def test_metrics_are_for_this_host_only_by_default(world: World) -> None:
    # TestClient's peer is "testclient": not loopback.
    assert world.client.get("/metrics").status_code == 404
    with _local(world.broker) as local:
        answer = local.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        # A reverse proxy on this host forwards for someone else: not local.
        assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
        assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 404


@pytest.fixture
def token_broker(settings: Settings, clock: FrozenClock, tmp_path: Path) -> Iterator[Broker]:
    environ = {
        "ACTAS_DATABASE_URL": settings.database_url,
        "ACTAS_PUBLIC_URL": "https://broker.test",
        "ACTAS_KEY_FILE": str(settings.key_file),
        "ACTAS_METRICS_TOKEN": TOKEN,
    }
    keyring.ensure(settings.key_file, clock())
    made = build(load_settings(environ, cwd=tmp_path), clock=clock, passwords=FastTestPasswords())
    yield made
    made.engine.dispose()


def test_with_a_token_set_only_its_bearer_reads_metrics(token_broker: Broker) -> None:
    with _local(token_broker) as local:
        assert local.get("/metrics").status_code == 404  # loopback alone is not enough now
        wrong = {"Authorization": "Bearer " + "n" * 40}
        assert local.get("/metrics", headers=wrong).status_code == 404
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert local.get("/metrics", headers=right).status_code == 200
    with TestClient(create_app(token_broker)) as remote:  # any host, with the token
        assert remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).is_success


def test_a_short_metrics_token_is_refused(settings: Settings, tmp_path: Path) -> None:
    from actas.settings import SettingsError

    environ = {
        "ACTAS_DATABASE_URL": settings.database_url,
        "ACTAS_PUBLIC_URL": "https://broker.test",
        "ACTAS_KEY_FILE": str(settings.key_file),
        "ACTAS_METRICS_TOKEN": "short",
    }
    with pytest.raises(SettingsError, match="32 characters"):
        load_settings(environ, cwd=tmp_path)


def test_metrics_count_requests_sessions_and_gauges(world: World) -> None:
    with _local(world.broker) as local:
        before = local.get("/metrics").text
        session_id, code, headers = started_session(world)
        assert redeem(world, code).status_code == 200
        live = local.get("/metrics").text
        assert _sample(live, "actas_sessions_active") == 1
        assert _sample(live, "actas_sessions_started_total") == (
            _sample(before, "actas_sessions_started_total") + 1
        )
        ended = world.client.post(f"/v1/sessions/{session_id}/end", headers=headers)
        assert ended.status_code == 200, ended.text
        after = local.get("/metrics").text
    assert _sample(after, "actas_sessions_active") == 0
    assert _sample(after, "actas_sessions_ended_total", reason="ended_by_staff") == (
        _sample(before, "actas_sessions_ended_total", reason="ended_by_staff") + 1
    )
    # Requests by route template, never by path (the session id is not a label).
    route = "/v1/sessions/{session_id}/end"
    assert _sample(after, "actas_http_requests_total", route=route, status="200") >= 1
    assert session_id not in after
    assert _sample(after, "actas_audit_append_seconds_count") > _sample(
        before, "actas_audit_append_seconds_count"
    )
    assert "actas_approvals_pending 0.0" in after
    assert "actas_revocation_stream_clients 0.0" in after
    assert "actas_revocation_stream_lag 0.0" in after


# --- logs ------------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    kept = (root.handlers[:], root.level)
    buffer = io.StringIO()
    logs.configure(stream=buffer)
    yield buffer
    root.handlers, level = kept
    root.setLevel(level)
    structlog.reset_defaults()


def test_request_id_in_and_out(world: World, captured: io.StringIO) -> None:
    given = world.client.get("/healthz", headers={"X-Request-Id": "abc-12345-trace"})
    assert given.headers["x-request-id"] == "abc-12345-trace"
    made = world.client.get("/healthz", headers={"X-Request-Id": "bad id <script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    access = [line for line in lines if line.get("event") == "request"]
    assert {line["request_id"] for line in access} >= {
        "abc-12345-trace",
        made.headers["x-request-id"],
    }
    assert all(line["route"] == "/healthz" and line["status"] == 200 for line in access)


def test_a_whole_session_leaves_no_secret_in_the_logs(world: World, captured: io.StringIO) -> None:
    subject = {"account": "acme", "display_name": "Jane", "email": "jane@customer.test",
               "email_verified": True}  # fmt: skip
    assert world.client.put("/v1/subjects/u-1", headers=world.app_headers, json=subject).is_success
    secrets: list[str] = [world.alice.password, *world.app_headers.values()]
    headers = world.as_(world.alice)  # sign-in
    secrets.append(headers["Authorization"].split()[1])
    case = open_case(world, headers)
    sent = world.client.post(f"/v1/cases/{case}/verifications", headers=headers)  # code send
    assert sent.status_code == 202, sent.text
    issued = world.client.post(
        "/v1/links", headers=world.app_headers, json={"subject": "u-1", "purpose": "password_reset"}
    )  # link issue
    assert issued.status_code == 202, issued.text
    session_id, code, staff = started_session(world)  # request, start
    secrets.append(code)
    redeemed = redeem(world, code)
    assert redeemed.status_code == 200, redeemed.text
    body = redeemed.json()
    secrets += [v for v in body.values() if isinstance(v, str) and v.startswith(("actas_", "eyJ"))]
    handle = body["refresh_handle"]
    refreshed = refresh(world, session_id, handle)
    assert refreshed.status_code == 200, refreshed.text
    secrets += [
        v
        for v in refreshed.json().values()
        if isinstance(v, str) and v.startswith(("actas_", "eyJ"))
    ]
    assert world.client.post(f"/v1/sessions/{session_id}/end", headers=staff).status_code == 200
    # The emailed link and code, from the outbox rows the requests wrote.
    with world.broker.engine.connect() as conn:
        payloads = [row.payload for row in conn.execute(select(outbox.c.payload))]
    mailed = "\n".join(payloads)
    links = re.findall(r"actas_[a-z]{2,4}_[A-Za-z0-9_-]{20,}", mailed)
    # The customer's own pages carry their token in the path: open each one the mail links.
    pages = set(re.findall(r"https://broker\.test(/customer/[A-Za-z0-9_/-]+)", mailed))
    assert pages, "no customer page link in the outbox"
    for page in pages:
        assert world.client.get(page).status_code < 500
    assert '"route": "/customer/end/{token}"' in captured.getvalue()
    codes = re.findall(r"(?<![\d-])\d{6}(?![\d-])", mailed)
    assert any(t.startswith("actas_l") for t in links), "no link token in the outbox"
    assert any(t.startswith("actas_c") for t in links), "no customer page token in the outbox"
    assert codes, "no verification code found in the outbox"
    secrets += links + codes
    # Something did log: every request, each with its id.
    text = captured.getvalue()
    assert text.count('"event": "request"') >= 8
    assert len(secrets) >= 10, secrets  # password, credential, bearer, code, token, handles...
    for secret in secrets:
        assert secret not in text, f"a secret ({secret[:6]}...) is in the logs"


def test_scrub_removes_secrets_whoever_logged_them(captured: io.StringIO) -> None:
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLWJ5dGVz"
    logging.getLogger("actas.test").warning(
        "saw %s and %s and Bearer abcdefghijk", "actas_st_" + "x" * 40, jwt
    )
    structlog.get_logger("actas.test").info("login", password="hunter2", code="123456", ok=1)
    text = captured.getvalue()
    for secret in ("actas_st_xxxx", jwt, "abcdefghijk", "hunter2", "123456"):
        assert secret not in text
    assert '"ok": 1' in text


def test_alerts_and_outbox_outcomes_are_counted() -> None:
    from actas import metrics
    from actas.domain.audit import AuditEvent

    def value(name: str, **labels: str) -> float:
        return _sample(metrics.render({}).decode(), name, **labels)

    raised = value("actas_alerts_raised_total", rule="break_glass")
    ended = value("actas_sessions_ended_total", reason="revoked")
    metrics.committed(
        [
            AuditEvent(type="alert.raised", actor="system", data={"rule": "break_glass"}),
            AuditEvent(type="session.revoked", actor="x", data={"end_reason": "revoked"}),
        ],
        0.001,
    )
    assert value("actas_alerts_raised_total", rule="break_glass") == raised + 1
    assert value("actas_sessions_ended_total", reason="revoked") == ended + 1
    dead = value("actas_outbox_deliveries_total", channel="slack", outcome="dead")
    metrics.delivered("slack", "dead")
    assert value("actas_outbox_deliveries_total", channel="slack", outcome="dead") == dead + 1


def test_uvicorns_access_line_with_the_path_is_not_written(captured: io.StringIO) -> None:
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET",
                                             "/customer/end/plain-path-secret", 200)  # fmt: skip
    assert "plain-path-secret" not in captured.getvalue()
