"""Reading the log by a type prefix (``app.*``) and by what an event mentions (one session's
timeline), on SQLite and PostgreSQL. The prefix is matched literally: LIKE's own wildcards in
it (``_``, ``%``) are escaped, so ``app_*`` never matches ``appz``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actas.domain.audit import AuditEvent, AuditQuery, happened_at, in_time_order
from actas.domain.errors import InvalidInput
from actas.services import audit as audit_service
from tests.desk import Desk

TYPES = (
    "app.request",
    "app.refused",
    "application.added",
    "session.ended",
    "app_x.y",
    "appzx.y",
    "100%.done",
    "100x.done",
)


def _record(desk: Desk, *events: AuditEvent) -> None:
    with desk.ctx.uow() as uow:
        for event in events:
            uow.audit.record(event)


def _types(desk: Desk, **filters: object) -> list[str]:
    query = AuditQuery(limit=1000, **filters)  # type: ignore[arg-type]
    return [str(e["type"]) for e in audit_service.read_events(desk.ctx, query)]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("app.*", ["app.request", "app.refused"]),
        ("app", ["app.request", "app.refused"]),  # a bare word is its prefix with a dot
        ("app*", ["app.request", "app.refused", "application.added", "app_x.y", "appzx.y"]),
        ("app_*", ["app_x.y"]),  # "_" is not LIKE's any-character here
        ("session.*", ["session.ended"]),
        ("session.ended", ["session.ended"]),
        ("app.request", ["app.request"]),
        ("nothing.*", []),
    ],
)
def test_type_prefixes_match_literally(desk: Desk, filter_: str, expected: list[str]) -> None:
    _record(desk, *(AuditEvent(type=t, subject="prefix-test") for t in TYPES))
    assert _types(desk, type=filter_, subject="prefix-test") == expected


def test_a_percent_in_a_type_cannot_be_a_filter(desk: Desk) -> None:
    with pytest.raises(InvalidInput):
        AuditQuery(type="100%.*")
    with pytest.raises(InvalidInput):
        AuditQuery(type="app.*.*")


def test_events_of_a_session_or_its_requests(desk: Desk) -> None:
    sid, other = "5b1c0f9e-0000-4000-8000-000000000001", "5b1c0f9e-0000-4000-8000-000000000002"
    _record(
        desk,
        AuditEvent(type="access.requested", subject="s", data={"request": "req-1"}),
        AuditEvent(type="access.approved", subject="s", data={"request": "req-1"}),
        AuditEvent(type="access.requested", subject="s", data={"request": "req-10"}),
        AuditEvent(type="session.started", subject="s", session=sid, data={"request": "req-1"}),
        AuditEvent(type="app.request", subject="s", session=sid),
        AuditEvent(type="app.request", subject="s", session=other),
        AuditEvent(type="app.request", subject="s", data={"note": f'"session":"{sid}"'}),
    )
    found = _types(desk, subject="s", session=sid, requests=("req-1",))
    assert found == ["access.requested", "access.approved", "session.started", "app.request"]
    assert _types(desk, subject="s", session=sid) == ["session.started", "app.request"]
    assert _types(desk, subject="s", session="5b1c0f9e-%") == []


def test_events_sort_by_when_they_happened() -> None:
    """The End the app saw at :05 sorts before the session.ended the broker wrote at :06,
    though the app's event reached the log later (a higher seq)."""
    t = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ended = {"seq": 7, "type": "session.ended", "at": "2026-01-01T12:00:06.000000Z", "data": {}}
    end = {
        "seq": 8,
        "type": "app.request",
        "at": "2026-01-01T12:00:09.000000Z",
        "data": {"reported_at": (t + timedelta(seconds=5)).isoformat(), "route": "/actas/end"},
    }
    tie = {"seq": 6, "type": "x.y", "at": "2026-01-01T12:00:06.000000Z"}
    assert happened_at(end) == t + timedelta(seconds=5)
    assert happened_at(ended) == t + timedelta(seconds=6)
    assert [e["seq"] for e in in_time_order([ended, end, tie])] == [8, 6, 7]
    broken = {"seq": 1, "at": "not a time", "data": {"reported_at": "nor this"}}
    assert happened_at(broken) == datetime.min.replace(tzinfo=UTC)
