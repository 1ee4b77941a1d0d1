"""Audit shipping: batches, an outage, a restart, a resend after a crash, refused batches,
and a full spool that pauses impersonation (never a silent loss)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from actas_sdk import ActAs, errors
from actas_sdk.context import Frame
from actas_sdk.testing import FakeBroker
from tests.sdk.conftest import WAIT, MakeActAs


def record(actas: ActAs, fake: FakeBroker, count: int, session: str | None = None) -> str:
    session = session or fake.codes[fake.handoff()][0]
    token, _ = fake.session_token(fake.sessions[session])
    context = actas.verifier.verify(token, actas.clock()).context
    for i in range(count):
        frame = Frame(context)
        frame.resource = f"note:{i}"
        actas.record(frame, method="GET", route="/notes/{id}", status=200)
    return session


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("seg-*.json"))


def test_events_are_shipped_in_batches_of_at_most_500(actas: ActAs, fake: FakeBroker) -> None:
    record(actas, fake, 1200)
    assert actas.flush()
    assert len(fake.events) == 1200
    posts = [c for c in fake.calls if c[1] == "/v1/audit/app-events"]
    assert len(posts) == 3  # one segment, one POST per 500
    assert len({e["id"] for e in fake.events}) == 1200


def test_the_background_thread_ships_without_being_asked(actas: ActAs, fake: FakeBroker) -> None:
    record(actas, fake, 3)
    assert fake.wait_for_events(lambda events: len(events) == 3, WAIT)


def test_an_outage_keeps_events_on_disk_across_a_restart(
    make_actas: MakeActAs, fake: FakeBroker, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    first = make_actas(spool_dir=str(spool))
    first.keys.refresh()
    fake.available = False
    calls = len(fake.calls)
    record(first, fake, 7)
    assert len(fake.calls) == calls  # recording never calls the broker
    assert not first.flush()
    first.close()
    assert segments(spool)
    assert not fake.events
    fake.available = True
    second = make_actas(spool_dir=str(spool))  # the process restarted
    assert second.flush()
    assert len(fake.events) == 7
    assert not segments(spool)


def test_a_resend_after_a_crash_appends_nothing_twice(
    actas: ActAs, fake: FakeBroker, tmp_path: Path
) -> None:
    record(actas, fake, 5)
    actas.shipper._spool_queue()
    (segment,) = segments(actas.config.spool_path)
    copy = tmp_path / "copy.json"
    shutil.copy(segment, copy)
    assert actas.flush()
    shutil.copy(copy, segment)  # the crash came after the POST, before the delete
    assert actas.flush()
    assert len(fake.events) == 5
    posts = [c for c in fake.calls if c[1] == "/v1/audit/app-events"]
    assert len(posts) == 2


def test_a_batch_the_broker_refuses_is_kept_aside_not_lost(actas: ActAs, fake: FakeBroker) -> None:
    good = record(actas, fake, 2)
    forgotten = record(actas, fake, 1)
    del fake.sessions[forgotten]  # the broker no longer knows it: the mixed batch gets a 404
    assert actas.flush()
    assert [e["session"] for e in fake.events] == [good, good]
    (dead,) = actas.config.spool_path.glob("dead-*.json")
    assert [e["session"] for e in json.loads(dead.read_text())["events"]] == [forgotten]


def test_segments_of_a_dead_process_are_claimed(actas: ActAs, fake: FakeBroker) -> None:
    record(actas, fake, 2)
    actas.shipper._spool_queue()
    (segment,) = segments(actas.config.spool_path)
    dead_pid = _dead_pid()
    orphan = segment.with_name(
        segment.name.replace(f"-{actas.shipper.spool.pid}-", f"-{dead_pid}-")
    )
    segment.rename(orphan)
    assert actas.flush()
    assert len(fake.events) == 2


def _dead_pid() -> int:
    import os

    for pid in range(4_000_000, 4_100_000):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            continue
    raise AssertionError("no free pid")


def test_a_full_spool_pauses_impersonation_until_it_drains(
    make_actas: MakeActAs, fake: FakeBroker
) -> None:
    actas = make_actas(spool_max_bytes=600)
    actas.start()
    assert actas.wait_ready(WAIT)
    session = fake.codes[fake.handoff()][0]
    token, _ = fake.session_token(fake.sessions[session])
    actas.admit_bearer(token)
    fake.available = False
    record(actas, fake, 10, session)
    assert not actas.flush()
    assert not _accepting(actas)
    with pytest.raises(errors.AuditUnavailable):
        actas.admit_bearer(token)
    fake.available = True
    assert actas.flush()
    assert actas.flush()
    assert _accepting(actas)
    assert len(fake.events) == 10
    actas.admit_bearer(token)


def test_event_fields_are_kept_within_the_broker_limits() -> None:
    from actas_sdk.spool import Event

    body: dict[str, Any] = Event(
        kind="request",
        session="s",
        at=0.0,
        method="M-SEARCH",
        route="/r" * 400,
        status=999,
        resource="x" * 500,
        detail="d" * 500,
        suppressed={f"k{i}": 1 for i in range(30)},
    ).as_json("0123456789abcdef-0")
    assert body["method"] == "OTHER"
    assert len(body["route"]) == 300
    assert "status" not in body
    assert len(body["resource"]) == 200
    assert len(body["detail"]) == 300
    assert len(body["suppressed"]) == 20


def test_event_ids_are_unique_and_fit_the_broker() -> None:
    import re

    from actas_sdk.spool import EventIds

    first, second = EventIds(), EventIds()
    ids = first.take(1000) + second.take(1000)
    assert len(set(ids)) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9-]{8,36}", i) for i in ids)


def test_a_segment_on_disk_is_always_whole(actas: ActAs, fake: FakeBroker) -> None:
    record(actas, fake, 3)
    actas.shipper._spool_queue()
    (segment,) = segments(actas.config.spool_path)
    assert len(json.loads(segment.read_bytes())["events"]) == 3
    assert not list(actas.config.spool_path.glob(".*partial"))


def _accepting(actas: ActAs) -> bool:
    """Read afresh each time: mypy would narrow a repeated attribute read to its last check."""
    return actas.shipper.accepting
