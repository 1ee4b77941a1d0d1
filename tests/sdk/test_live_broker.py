"""The SDK against the real broker, over real HTTP both ways: the broker under uvicorn, the
host app (Starlette) under uvicorn, a browser that is an httpx client.

The SDK shares the broker's frozen clock, so time moves only when the test says so. The
revocation feed's staleness is tested with the FakeBroker (the real broker pings on real
time); here it is set high.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from actas.app import create_app
from actas.bootstrap import Broker
from actas.domain.clock import FrozenClock
from actas_sdk import ActAs, Config
from tests.scenario import HANDOFF, World, started_session
from tests.sdk import apps
from tests.sdk.conftest import WAIT
from tests.sdk.servers import UvicornThread


@pytest.fixture
def broker_server(broker: Broker) -> Iterator[UvicornThread]:
    with UvicornThread(create_app(broker)) as server:
        yield server


@pytest.fixture
def sdk(world: World, broker_server: UvicornThread, tmp_path: Path) -> Iterator[ActAs]:
    credential = world.app_headers["Authorization"].removeprefix("Bearer ")
    config = Config(
        broker_url=broker_server.url,
        issuer="https://broker.test",
        application_id="notes",
        credential=credential,
        handoff_url=HANDOFF,
        cookie_secure=False,  # the test app is served over plain http on 127.0.0.1
        staleness_seconds=3600,
        spool_dir=str(tmp_path / "spool"),
        **apps.APP_CONFIG,
    )
    clock: FrozenClock = world.clock
    actas = ActAs(config, clock=lambda: clock().timestamp())
    actas.start()
    assert actas.wait_ready(WAIT)
    yield actas
    actas.close()


@pytest.fixture
def browser(sdk: ActAs) -> Iterator[httpx.Client]:
    with (
        UvicornThread(apps.starlette_app(sdk)) as app,
        httpx.Client(base_url=app.url, follow_redirects=True) as client,
    ):
        yield client


def test_a_session_from_handoff_to_revocation(
    world: World, sdk: ActAs, browser: httpx.Client
) -> None:
    session, code, alice = started_session(world)
    landing = browser.get("/actas/handoff", params={"code": code})
    assert landing.history[0].status_code == 303
    assert landing.status_code == 200
    assert 'Staff <b>Alice</b> is acting as <b title="u-1">' in landing.text
    assert browser.get("/notes/7").json() == {"note": "7"}
    assert browser.post("/notes").status_code == 403

    # refreshed by the broker while the session lives
    world.clock.advance(250)
    before = browser.cookies["actas_sdk"]
    assert browser.get("/whoami").json()["session"] == session
    assert browser.cookies["actas_sdk"] != before

    # the events reach the broker's audit log, attributed to alice acting for u-1
    assert sdk.flush()
    requests = world.events(type="app.request")
    refused = world.events(type="app.refused")
    assert [e["data"]["route"] for e in requests] == ["/", "/notes/{note_id}", "/whoami"]
    assert {e["actor"] for e in requests + refused} == {world.alice.id}
    assert {e["subject"] for e in requests} == {"u-1"}
    assert refused[0]["data"]["status"] == 403
    assert "session.refreshed" in world.types_for_session(session)

    # revoked at the broker: the stream tells the SDK, the next request ends
    response = world.client.post(
        f"/v1/sessions/{session}/revoke", headers=world.as_(world.sam), json={"reason": "done"}
    )
    assert response.status_code == 200, response.text
    assert sdk.feed.wait_for(lambda: sdk.feed.is_revoked(session), WAIT)
    ended = browser.get("/")
    assert ended.status_code == 401
    assert "actas-banner" not in ended.text
    assert "actas_sdk" not in browser.cookies
    # alice's own console session was never the SDK's business
    assert world.client.get(f"/v1/sessions/{session}", headers=alice).status_code == 200


def test_the_end_button_ends_the_session_at_the_broker(
    world: World, sdk: ActAs, browser: httpx.Client
) -> None:
    session, code, alice = started_session(world)
    page = browser.get("/actas/handoff", params={"code": code}).text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    # The same link again: the broker's answer ("unknown, used, expired or not yours") is
    # named on the page, and the live session keeps its banner.
    again = browser.get("/actas/handoff", params={"code": code})
    assert again.status_code == 400
    assert 'data-cause="used_or_expired"' in again.text
    assert again.text.count("<actas-banner") == 1
    response = browser.post("/actas/end", data={"csrf": csrf}, follow_redirects=False)
    assert response.status_code == 303
    state = world.client.get(f"/v1/sessions/{session}", headers=alice).json()
    assert state["end_reason"] == "ended_by_staff"
    assert browser.get("/").text == apps.page(None)


def test_a_resume_point_the_broker_does_not_know_falls_back_to_a_snapshot(sdk: ActAs) -> None:
    """The broker's database was restored to before the SDK's last event: it refuses the
    Last-Event-ID (422); the SDK starts over instead of retrying it, failing closed, forever."""
    before = sdk.feed.connections
    sdk.feed.last_event_id = "999"
    sdk.feed._interrupt()  # the connection drops; the SDK reconnects with Last-Event-ID 999
    assert sdk.feed.wait_for(
        lambda: (
            sdk.feed.connected and sdk.feed.connections > before and sdk.feed.last_event_id != "999"
        ),
        WAIT,
    )
