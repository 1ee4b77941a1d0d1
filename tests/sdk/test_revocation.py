"""The revocation feed: follows the stream, resumes with Last-Event-ID, survives junk, stops."""

from __future__ import annotations

import pytest

from actas_sdk import ActAs, errors
from actas_sdk.testing import FakeBroker
from tests.sdk.conftest import WAIT, ManualClock


def session_of(fake: FakeBroker) -> str:
    return fake.codes[fake.handoff()][0]


def test_a_revocation_reaches_the_feed(actas: ActAs, fake: FakeBroker) -> None:
    session = session_of(fake)
    actas.feed.check(session, actas.clock())
    fake.revoke(session, "revoked_by_security")
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(session), WAIT)
    with pytest.raises(errors.SessionRevoked) as caught:
        actas.feed.check(session, actas.clock())
    assert caught.value.reason == "revoked_by_security"


def test_a_reconnect_resumes_after_the_last_event(actas: ActAs, fake: FakeBroker) -> None:
    first, missed = session_of(fake), session_of(fake)
    fake.revoke(first)
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(first), WAIT)
    connections = actas.feed.connections
    fake.available = False
    fake.drop_streams()
    assert actas.feed.wait_for(lambda: not actas.feed.connected, WAIT)
    fake.revoke(missed)  # while the SDK was away
    fake.available = True
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(missed), WAIT)
    assert actas.feed.connections == connections + 1
    assert fake.resumed_from[0] is None
    assert fake.resumed_from[-1] == "1"


def test_an_unknown_resume_point_falls_back_to_a_snapshot(actas: ActAs, fake: FakeBroker) -> None:
    old = session_of(fake)
    fake.revoke(old)
    assert actas.feed.wait_for(lambda: actas.feed.is_revoked(old), WAIT)
    actas.feed.last_event_id = "999"  # e.g. the broker's database was restored
    fake.drop_streams()
    assert actas.feed.wait_for(lambda: len(fake.resumed_from) >= 3 and actas.feed.connected, WAIT)
    assert fake.resumed_from[:3] == [None, "999", None]


def test_staleness_is_counted_from_the_last_line_heard(
    actas: ActAs, fake: FakeBroker, sdk_clock: ManualClock
) -> None:
    session = session_of(fake)
    fake.available = False
    fake.drop_streams()
    assert actas.feed.wait_for(lambda: not actas.feed.connected, WAIT)
    sdk_clock.advance(30)
    actas.feed.check(session, actas.clock())  # exactly at the limit: still fine
    sdk_clock.advance(1)
    with pytest.raises(errors.FeedStale, match=r"31\.0 s > staleness limit 30 s") as caught:
        actas.feed.check(session, actas.clock())
    assert caught.value.silent_for == 31


def test_junk_on_the_stream_is_skipped(actas: ActAs, fake: FakeBroker) -> None:
    feed = actas.feed
    feed._dispatch({"event": "revocation", "data": "{not json"})
    feed._dispatch({"event": "revocation", "data": "[1, 2]"})
    feed._dispatch({"event": "other", "data": '{"session": "s-1"}'})
    feed._dispatch({"event": "revocation", "data": '{"session": "s-2"}', "id": "x"})
    assert not feed.is_revoked("s-1")
    assert feed.is_revoked("s-2")
    assert feed.last_event_id != "x"
    assert feed.synced


def test_before_the_first_catch_up_nothing_is_admitted(
    make_actas: object, fake: FakeBroker
) -> None:
    fake.available = False
    actas = make_actas(timeout_seconds=0.2)  # type: ignore[operator]
    with pytest.raises(errors.FeedStale) as caught:
        actas.feed.check("s-1", actas.clock())
    assert caught.value.silent_for is None


def test_close_stops_the_thread(make_actas: object, fake: FakeBroker) -> None:
    actas = make_actas()  # type: ignore[operator]
    actas.start()
    assert actas.wait_ready(WAIT)
    thread = actas.feed._thread
    actas.close()
    assert thread is not None
    assert not thread.is_alive()
