"""The alert rules as truth tables: each pure test, at and around its threshold."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from actas.domain import alerts as rules
from actas.domain.alerts import EPOCH, ONCE, WorkingHours

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


@pytest.mark.parametrize(
    ("count", "limit", "fires"),
    [(0, 5, False), (5, 5, False), (6, 5, True), (1, 0, True), (100, 99, True)],
)
def test_too_many_sessions(count: int, limit: int, fires: bool) -> None:
    assert rules.too_many_sessions(count=count, limit=limit) is fires


@pytest.mark.parametrize(
    ("mine", "total", "percent", "minimum", "fires"),
    [
        (9, 10, 80, 10, True),  # 90 % of enough sessions
        (8, 10, 80, 10, False),  # exactly 80 % is not above it
        (9, 9, 80, 10, False),  # too few sessions to mean anything
        (0, 0, 80, 0, False),  # no sessions at all
        (81, 100, 80, 10, True),
        (10, 10, 100, 1, False),  # nobody holds more than all of them
    ],
)
def test_dominant_staff(mine: int, total: int, percent: int, minimum: int, fires: bool) -> None:
    assert (
        rules.dominant_staff(
            staff_sessions=mine, total=total, percent=percent, min_sessions=minimum
        )
        is fires
    )


OFFICE = WorkingHours(start=time(8), end=time(18), days=frozenset(range(5)), zone="Europe/Berlin")
NIGHTS = WorkingHours(start=time(22), end=time(6), days=frozenset(range(7)), zone="UTC")


@pytest.mark.parametrize(
    ("at", "hours", "fires"),
    [
        (datetime(2026, 11, 23, 7, 0, tzinfo=UTC), OFFICE, False),  # 08:00 in Berlin
        (datetime(2026, 11, 23, 6, 59, tzinfo=UTC), OFFICE, True),  # 07:59 in Berlin
        (datetime(2026, 11, 23, 16, 59, tzinfo=UTC), OFFICE, False),  # 17:59
        (datetime(2026, 11, 23, 17, 0, tzinfo=UTC), OFFICE, True),  # 18:00: the end is out
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), OFFICE, True),  # a Saturday
        (datetime(2026, 11, 23, 23, 0, tzinfo=UTC), NIGHTS, False),
        (datetime(2026, 11, 23, 5, 59, tzinfo=UTC), NIGHTS, False),
        (datetime(2026, 11, 23, 12, 0, tzinfo=UTC), NIGHTS, True),
        (T0, WorkingHours(zone="Not/AZone"), False),  # unknown zone: UTC
    ],
)
def test_outside_hours(at: datetime, hours: WorkingHours, fires: bool) -> None:
    assert rules.outside_hours(at=at, hours=hours) is fires


@pytest.mark.parametrize(
    ("count", "threshold", "fires"), [(2, 3, False), (3, 3, True), (4, 3, True)]
)
def test_repeated(count: int, threshold: int, fires: bool) -> None:
    assert rules.repeated(count=count, threshold=threshold) is fires


@pytest.mark.parametrize(
    ("kind", "method", "write"),
    [
        ("request", "POST", True),
        ("request", "delete", True),
        ("request", "GET", False),
        ("request", None, False),
        ("write", None, True),
        ("refused", "POST", False),
        ("job", "POST", False),
    ],
)
def test_is_write(kind: str, method: str | None, write: bool) -> None:
    assert rules.is_write(kind=kind, method=method) is write


@pytest.mark.parametrize(("writes", "fires"), [(50, False), (51, True)])
def test_too_many_writes(writes: int, fires: bool) -> None:
    assert rules.too_many_writes(writes=writes, limit=50) is fires


@pytest.mark.parametrize(
    ("ticket", "missing"),
    [
        (None, True),
        ("", True),
        ("  ", True),
        ("N/A", True),
        ("none", True),
        ("-", True),
        ("ZD-1", False),
        ("JIRA-42", False),
    ],
)
def test_missing_ticket(ticket: str | None, missing: bool) -> None:
    assert rules.missing_ticket(ticket=ticket) is missing


@pytest.mark.parametrize(("seconds", "fires"), [(0, True), (29, True), (30, False), (600, False)])
def test_too_fast(seconds: int, fires: bool) -> None:
    decided = T0 + timedelta(seconds=seconds)
    assert rules.too_fast(asked_at=T0, decided_at=decided, within=timedelta(seconds=30)) is fires


@pytest.mark.parametrize(
    ("approved", "decided", "fires"),
    [
        (18, 20, False),
        (19, 20, True),
        (20, 20, True),
        (19, 19, False),
        (95, 100, True),
        (94, 100, False),
        (0, 0, False),
    ],
)
def test_rubber_stamp(approved: int, decided: int, fires: bool) -> None:
    assert (
        rules.rubber_stamp(approved=approved, decided=decided, percent=95, min_decisions=20)
        is fires
    )


@pytest.mark.parametrize(("hours", "overdue"), [(23, False), (24, True), (49, True)])
def test_review_overdue(hours: int, overdue: bool) -> None:
    now = T0 + timedelta(hours=hours)
    assert rules.review_overdue(used_at=T0, now=now, after=timedelta(days=1)) is overdue


def test_windows_are_fixed_and_shared() -> None:
    day = timedelta(days=1)
    start = rules.window_start(at=T0, window=day)
    assert start == datetime(2026, 11, 23, tzinfo=UTC)
    assert rules.window_start(at=T0 + timedelta(hours=11, minutes=59), window=day) == start
    assert rules.window_start(at=T0 + timedelta(hours=12), window=day) == start + day
    assert rules.window_start(at=T0, window=ONCE) == EPOCH
