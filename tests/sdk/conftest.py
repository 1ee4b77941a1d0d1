"""Fixtures of the SDK tests: a clock shared by the SDK and its broker, a FakeBroker, and
``ActAs`` instances that are always closed.

The broker-backed tests (``test_live_broker.py``) reuse the broker fixtures of
``tests/conftest.py`` on SQLite only: the SDK does not care which store the broker uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actas_sdk import ActAs
from actas_sdk.testing import FakeBroker

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC).timestamp()
#: Upper bound for waiting on a background thread (never a pass/fail threshold).
WAIT = 10.0


class ManualClock:
    """Epoch seconds that only move when told to."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def database_url(tmp_path: Path, sqlite_template: Path) -> str:
    """The broker's store for the SDK tests: SQLite only."""
    import shutil

    target = tmp_path / "actas.db"
    shutil.copyfile(sqlite_template, target)
    target.chmod(0o600)  # the broker refuses a database file others may read
    return f"sqlite:///{target}"


@pytest.fixture
def sdk_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(sdk_clock: ManualClock) -> FakeBroker:
    return FakeBroker("notes", clock=sdk_clock)


MakeActAs = Callable[..., ActAs]


def advance(clock: ManualClock, fake: FakeBroker, actas: ActAs, seconds: float) -> None:
    """Move the test clock on and let the revocation feed hear a ping at the new time, as
    it would have while the time passed."""
    clock.advance(seconds)
    fake.ping()
    assert actas.feed.wait_for(lambda: (actas.feed.last_contact or 0) >= clock(), WAIT)


@pytest.fixture
def make_actas(fake: FakeBroker, sdk_clock: ManualClock, tmp_path: Path) -> Iterator[MakeActAs]:
    made: list[ActAs] = []

    def make(**overrides: Any) -> ActAs:
        overrides.setdefault("spool_dir", str(tmp_path / "spool"))
        actas = ActAs(fake.config(**overrides), transport=fake.transport(), clock=sdk_clock)
        made.append(actas)
        return actas

    yield make
    for actas in made:
        actas.close()


@pytest.fixture
def actas(make_actas: MakeActAs) -> ActAs:
    made = make_actas()
    made.start()
    assert made.wait_ready(WAIT)
    return made
