"""The audit chain: append-only in the database itself, every kind of tampering detected at the
right sequence number, one chain under concurrent writers, no change without its event."""

from __future__ import annotations

import json
import multiprocessing
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from actas.audit.index_check import check_index, index_agrees
from actas.audit.verify import verify_log
from actas.domain.audit import AuditEvent, VerifyReport, checkpoint_message, format_time, leaf_hash
from actas.domain.clock import FrozenClock, system_clock
from actas.domain.subjects import Application
from actas.keys import keyring
from actas.keys.keyring import KeySource
from actas.store import chain
from actas.store.chain import canonical_bytes
from actas.store.engine import make_engine
from actas.store.tables import applications, audit_checkpoints, audit_events, audit_head
from actas.store.uow import Store

EVENTS = 35
#: Transaction sizes: with checkpoint_every=10 the checkpoints land at 12, 23 and 33.
BATCHES = (3, 5, 4, 6, 5, 4, 6, 2)
CHECKPOINTS = (12, 23, 33)

SQLITE_TRIGGERS = (
    "audit_events_no_update",
    "audit_events_no_delete",
    "audit_checkpoints_no_update",
    "audit_checkpoints_no_delete",
    "audit_tree_tiles_no_update",
    "audit_tree_tiles_no_delete",
)


def make_event(n: int) -> AuditEvent:
    """Varied events: nulls, non-ASCII, escapes, and ``data`` holding decoy top-level keys."""
    return AuditEvent(
        type="impersonation.start" if n % 3 else "case.note",
        actor=f"staff-{n % 4}" if n % 5 else None,
        subject=f"user-{n}" if n % 7 else None,
        account=f"acct-{n % 3}" if n % 11 else None,
        case=f"case-{n}",
        reason='Kundin bat um Hilfe: Überweisung "hängt"\tseit gestern' if n % 2 else None,
        ticket=f"T-{1000 + n}",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (X11)",
        data={
            "n": n,
            "id": "decoy",
            "type": "decoy",
            "seq": n + 100,
            "nested": {"at": "x"},
            "application": f"app-{n % 2}",
        },
    )


@pytest.fixture
def key_path(tmp_path: Path, clock: FrozenClock) -> Path:
    path = tmp_path / "keys.json"
    keyring.ensure(path, clock())
    return path


@pytest.fixture
def signer(key_path: Path, clock: FrozenClock) -> KeySource:
    return KeySource(key_path, clock)


@pytest.fixture
def store(engine: Engine, clock: FrozenClock, signer: KeySource) -> Store:
    return Store(engine, clock=clock, signer=signer, checkpoint_every=10)


@pytest.fixture
def log(store: Store, clock: FrozenClock) -> Store:
    """A log of 35 events appended in 8 transactions, with checkpoints at 12, 23 and 33."""
    n = 0
    for size in BATCHES:
        clock.advance(61)
        with store.transaction() as uow:
            for _ in range(size):
                n += 1
                uow.audit.record(make_event(n))
    assert n == EVENTS
    return store


def verify(engine: Engine, checker: KeySource | None, **kwargs: Any) -> VerifyReport:
    with engine.connect() as conn:
        return verify_log(conn, checker=checker, **kwargs)


def bypass_triggers(conn: Connection) -> None:
    """What an attacker with database access does first: get past the append-only triggers."""
    if conn.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    else:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")


@contextmanager
def tampered(engine: Engine) -> Iterator[Connection]:
    """A transaction past the triggers whose changes are committed."""
    with engine.begin() as conn:
        bypass_triggers(conn)
        yield conn


@contextmanager
def tampered_then_undone(engine: Engine) -> Iterator[Connection]:
    """A transaction past the triggers that is rolled back at the end (triggers included)."""
    with engine.connect() as conn:
        tx = conn.begin()
        try:
            bypass_triggers(conn)
            yield conn
        finally:
            tx.rollback()


def event_row(conn: Connection, seq: int) -> dict[str, Any]:
    row = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).one()
    return dict(row._mapping)


def change_char(value: str, index: int, pick: int = 0) -> str:
    """``value`` with the character at ``index`` replaced by a different printable ASCII one."""
    index %= len(value)
    choices = [c for c in "abcdefghijklmnopqrstuvwxyz0123456789{}[]:,\"' " if c != value[index]]
    return value[:index] + choices[pick % len(choices)] + value[index + 1 :]


def flip_bit(value: bytes, index: int) -> bytes:
    index %= len(value) * 8
    data = bytearray(value)
    data[index // 8] ^= 1 << (index % 8)
    return bytes(data)


def set_canonical(conn: Connection, seq: int, canonical: str) -> None:
    conn.execute(update(audit_events).where(audit_events.c.seq == seq).values(canonical=canonical))


def assert_problem(report: VerifyReport, problem: str, seq: int) -> None:
    assert not report.ok, report
    assert (report.problem, report.first_bad_seq) == (problem, seq), report
    assert report.detail
    assert str(seq) in report.detail
    assert report.summary().startswith(f"audit log FAILED ({problem}) at seq {seq}: ")


# --- an untouched log -----------------------------------------------------------------------


def test_untouched_log_verifies(log: Store, signer: KeySource, engine: Engine) -> None:
    report = verify(engine, signer)
    assert report == VerifyReport(ok=True, events=EVENTS, checkpoints=len(CHECKPOINTS))
    assert report.summary() == "audit log OK: 35 events chained, 3 checkpoints verified"
    with engine.connect() as conn:
        seqs = conn.execute(select(audit_checkpoints.c.seq).order_by("seq")).scalars().all()
    assert tuple(seqs) == CHECKPOINTS
    # Without a checker the signatures are skipped, the checkpoint hashes still checked.
    assert verify(engine, None).ok
    # Chunk boundaries anywhere, including one row per query.
    for chunk in (1, 2, 7, 12, 35, 36):
        assert verify(engine, signer, chunk=chunk) == report


def test_empty_log_verifies(engine: Engine, signer: KeySource) -> None:
    assert verify(engine, signer) == VerifyReport(ok=True, events=0, checkpoints=0)


def test_verify_inside_callers_transaction_and_leaves_connection_usable(
    log: Store, signer: KeySource, engine: Engine
) -> None:
    with engine.connect() as conn:
        assert verify_log(conn, checker=signer).ok
        assert not conn.in_transaction()
        with conn.begin():
            assert verify_log(conn, checker=signer).ok
            assert conn.in_transaction()
    # The log still takes appends (on SQLite the verify held no write lock afterwards).
    with log.transaction() as uow:
        uow.audit.record(make_event(99))
    assert verify(engine, signer).events == EVENTS + 1


def test_index_fast_path_agrees_with_parsing(clock: FrozenClock) -> None:
    """The parse-free index check says "agrees" only when parsing agrees."""
    at = clock()
    for n in range(1, 40):
        event = make_event(n)
        event_id = str(uuid.uuid4())
        text_ = canonical_bytes(event.body(seq=n, event_id=event_id, at=at)).decode()
        later = at + timedelta(microseconds=1)
        sqlite_at = at.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        sqlite_later = later.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        columns = (
            n, event_id, event.type, event.actor, event.subject, event.account, event.application
        )  # fmt: skip
        # As psycopg gives it, as SQLite stores it, as PostgreSQL's to_char spells it.
        for stamp, wrong_stamp in (
            (at, later),
            (sqlite_at, sqlite_later),
            (format_time(at), format_time(later)),
        ):
            assert index_agrees(text_, *columns, stamp)
            check_index((n, text_, b"", b"", *columns[1:], stamp))
            seq, event_id, type_, actor, subject, account, app = columns
            for wrong in (
                (seq + 1, event_id, type_, actor, subject, account, app),
                (seq, "x", type_, actor, subject, account, app),
                (seq, event_id, "x", actor, subject, account, app),
                (seq, event_id, type_, "x", subject, account, app),
                (seq, event_id, type_, actor, "x", account, app),
                (seq, event_id, type_, actor, subject, "x", app),
                (seq, event_id, type_, actor, subject, account, "x"),
            ):
                assert not index_agrees(text_, *wrong, stamp)
            assert not index_agrees(text_, *columns, wrong_stamp)
            with pytest.raises(Exception, match="disagree with its hashed content: at"):
                check_index((n, text_, b"", b"", *columns[1:], wrong_stamp))
    # An equal instant in another spelling falls back to parsing, which accepts it.
    event = make_event(1)
    body = canonical_bytes(event.body(seq=1, event_id="e", at=at)).decode()
    columns = (1, "e", event.type, event.actor, event.subject, event.account, event.application)
    assert not index_agrees(body, *columns, "2026-11-23 12:00:00")
    check_index((1, body, b"", b"", *columns[1:], "2026-11-23 12:00:00"))
    with pytest.raises(Exception, match="disagree with its hashed content: at"):
        check_index((1, body, b"", b"", *columns[1:], "2026-11-23 12:00:01"))


# --- the database refuses changes to the log ------------------------------------------------


def run(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 5",
        "UPDATE audit_events SET canonical = canonical",
        "DELETE FROM audit_events WHERE seq = 35",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET seq = seq",
        "DELETE FROM audit_checkpoints WHERE seq = 12",
    ],
)
def test_database_refuses_update_and_delete(
    log: Store, signer: KeySource, engine: Engine, sql: str
) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        run(engine, sql)
    assert verify(engine, signer) == VerifyReport(ok=True, events=EVENTS, checkpoints=3)


@pytest.mark.parametrize("table", ["audit_events", "audit_checkpoints"])
def test_postgres_refuses_truncate(
    log: Store, signer: KeySource, engine: Engine, backend: str, table: str
) -> None:
    if backend != "postgres":
        # SQLite has no TRUNCATE; its "DELETE FROM t" (the truncate optimisation) still fires
        # the delete trigger.
        with pytest.raises(DBAPIError, match="append-only"):
            run(engine, f"DELETE FROM {table}")
    else:
        with pytest.raises(DBAPIError, match="append-only"):
            run(engine, f"TRUNCATE {table}")
        with pytest.raises(DBAPIError, match="append-only"):
            run(engine, f"TRUNCATE {table} CASCADE")
    assert verify(engine, signer).ok


# --- tampering, each kind detected at the right seq -----------------------------------------


def test_edited_canonical_byte(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        original = event_row(conn, 17)["canonical"]
        set_canonical(conn, 17, original.replace('"n":17', '"n":18'))
    assert_problem(verify(engine, signer), "edited", 17)
    report = verify(engine, signer)
    assert report.detail == "event 17 was edited: its stored hash does not match its content"
    assert report.events == 16
    assert report.checkpoints == 1


@pytest.mark.parametrize("column", ["prev_hash", "hash"])
def test_edited_hash_columns(log: Store, signer: KeySource, engine: Engine, column: str) -> None:
    with tampered(engine) as conn:
        value = event_row(conn, 9)[column]
        conn.execute(
            update(audit_events).where(audit_events.c.seq == 9).values({column: flip_bit(value, 3)})
        )
    assert_problem(verify(engine, signer), "edited", 9)


def test_edited_and_rehashed_event_breaks_the_next_link(
    log: Store, signer: KeySource, engine: Engine
) -> None:
    with tampered(engine) as conn:
        row = event_row(conn, 11)
        forged = row["canonical"].replace('"n":11', '"n":99')
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 11)
            .values(canonical=forged, hash=leaf_hash(row["prev_hash"], forged.encode()))
        )
    report = verify(engine, signer)
    assert_problem(report, "edited", 11)
    assert report.detail == (
        "event 11 was edited: event 12 no longer links to it, so event 11 was changed and "
        "re-hashed or event 12 was re-linked"
    )


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory"),
        ("actor", None),
        ("subject", "user-999"),
        ("account", "acct-other"),
        ("type", "case.note"),
        ("id", "00000000-0000-0000-0000-000000000000"),
        ("at", None),
    ],
)
def test_edited_index_column(
    log: Store, signer: KeySource, engine: Engine, column: str, value: Any
) -> None:
    seq = 8  # actor staff-0, subject user-8, account acct-2, type impersonation.start
    with tampered(engine) as conn:
        if column == "at":
            value = event_row(conn, seq)["at"] - timedelta(minutes=5)
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values({column: value}))
    report = verify(engine, signer)
    assert_problem(report, "index_mismatch", seq)
    assert report.detail is not None
    assert report.detail.endswith(f"disagree with its hashed content: {column}")


def test_deleted_middle_row(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == 20))
    report = verify(engine, signer)
    assert_problem(report, "missing", 20)
    assert report.detail == "event 20 is missing: the log jumps from event 19 to 21"


def test_deleted_first_rows(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq <= 3))
    assert_problem(verify(engine, signer), "missing", 1)


def test_deleted_and_renumbered_first_row(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == 1))
        conn.execute(update(audit_events).values(seq=audit_events.c.seq + 1000))
        conn.execute(update(audit_events).values(seq=audit_events.c.seq - 1001))
    report = verify(engine, signer)
    assert not report.ok
    assert report.first_bad_seq == 1


def test_swapped_rows(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        rows = audit_events.c.seq
        conn.execute(update(audit_events).where(rows == 14).values(seq=-1))
        conn.execute(update(audit_events).where(rows == 15).values(seq=14))
        conn.execute(update(audit_events).where(rows == -1).values(seq=15))
    report = verify(engine, signer)
    assert_problem(report, "reordered", 14)
    assert report.detail == "event 14 is out of order: the row at seq 14 holds event 15"


def test_inserted_event_with_renumbering(
    log: Store, signer: KeySource, engine: Engine, clock: FrozenClock
) -> None:
    at = clock()
    with tampered(engine) as conn:
        prev = event_row(conn, 17)["hash"]
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq >= 18)
            .values(seq=audit_events.c.seq + 1000)
        )
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq >= 1000)
            .values(seq=audit_events.c.seq - 999)
        )
        event = AuditEvent(
            type="case.note", actor="mallory", subject="user-1", account="acct-1", application="a"
        )
        body = event.body(seq=18, event_id=str(uuid.uuid4()), at=at)
        forged = canonical_bytes(body)
        conn.execute(
            insert(audit_events).values(
                seq=18,
                id=body["id"],
                at=at,
                type=event.type,
                actor=event.actor,
                subject=event.subject,
                account=event.account,
                application=event.application,
                canonical=forged.decode(),
                prev_hash=prev,
                hash=leaf_hash(prev, forged),
            )
        )
    report = verify(engine, signer)
    assert_problem(report, "inserted", 18)


def test_deleted_tail(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq > 33))
    report = verify(engine, signer)
    assert_problem(report, "truncated", 34)
    assert report.detail == (
        "the log ends at event 33 but its head names event 35: events 34 to 35 were deleted"
    )
    assert report.events == 33
    assert report.checkpoints == 3


def test_deleted_tail_below_a_checkpoint_with_the_head_moved_back(
    log: Store, signer: KeySource, engine: Engine
) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq > 30))
        new_last = event_row(conn, 30)["hash"]
        conn.execute(update(audit_head).values(seq=30, hash=new_last))
    report = verify(engine, signer)
    assert_problem(report, "truncated", 31)
    assert report.detail is not None
    assert report.detail.startswith("log truncated after checkpoint at seq 33")


def test_head_not_at_the_last_event(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(update(audit_head).values(hash=bytes(32)))
    assert_problem(verify(engine, signer), "head_mismatch", 35)
    with tampered(engine) as conn:
        conn.execute(update(audit_head).values(seq=30, hash=event_row(conn, 30)["hash"]))
    assert_problem(verify(engine, signer), "head_mismatch", 31)


def test_rechained_after_an_edit(log: Store, signer: KeySource, engine: Engine) -> None:
    """An attacker without the key re-hashes everything after an edit: only the signed
    checkpoints give it away."""
    with tampered(engine) as conn:
        rows = conn.execute(
            select(audit_events.c.seq, audit_events.c.canonical, audit_events.c.prev_hash)
            .where(audit_events.c.seq >= 15)
            .order_by(audit_events.c.seq)
        ).all()
        prev = rows[0].prev_hash
        for row in rows:
            canonical = row.canonical
            if row.seq == 15:
                canonical = canonical.replace('"n":15', '"n":51')
            digest = leaf_hash(prev, canonical.encode())
            conn.execute(
                update(audit_events)
                .where(audit_events.c.seq == row.seq)
                .values(canonical=canonical, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(update(audit_head).values(hash=prev))
    report = verify(engine, signer)
    assert_problem(report, "checkpoint_mismatch", 23)
    assert report.detail == (
        "checkpoint at seq 23 does not match event 23: the chain was rewritten "
        "after event 12 and at or before event 23"
    )
    assert report.checkpoints == 1


def test_forged_checkpoint_signature(
    log: Store, signer: KeySource, engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    with tampered(engine) as conn:
        signature = conn.execute(
            select(audit_checkpoints.c.signature).where(audit_checkpoints.c.seq == 23)
        ).scalar_one()
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 23)
            .values(signature=flip_bit(signature, 100))
        )
    assert_problem(verify(engine, signer), "checkpoint_signature", 23)
    # Without a checker only the hashes are checked, and they are intact.
    assert verify(engine, None).ok


def test_rechained_log_with_checkpoints_signed_by_another_key(
    log: Store, signer: KeySource, engine: Engine, tmp_path: Path, clock: FrozenClock
) -> None:
    other_path = tmp_path / "other.json"
    keyring.ensure(other_path, clock())
    other = KeySource(other_path, clock)
    with tampered(engine) as conn:
        row = event_row(conn, 33)
        kid, signature = other.sign(checkpoint_message(33, row["hash"]))
        conn.execute(
            update(audit_checkpoints)
            .where(audit_checkpoints.c.seq == 33)
            .values(kid=kid, signature=signature)
        )
    assert_problem(verify(engine, signer), "checkpoint_signature", 33)


def test_forged_checkpoint_past_the_end(log: Store, signer: KeySource, engine: Engine) -> None:
    with tampered(engine) as conn:
        conn.execute(
            insert(audit_checkpoints).values(
                seq=90, hash=bytes(32), at=log.clock(), kid="nobody", signature=bytes(64)
            )
        )
    assert_problem(verify(engine, signer), "checkpoint_signature", 90)
    # Unchecked, a checkpoint past the end is taken at its word: the log was truncated.
    assert_problem(verify(engine, None), "truncated", 36)


FIELDS = ["canonical", "prev_hash", "hash", "id", "type", "actor", "subject", "account", "at"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seq=st.integers(1, EVENTS),
    field=st.sampled_from(FIELDS),
    index=st.integers(0, 10_000),
    pick=st.integers(0, 100),
    chunk=st.integers(1, 40),
)
def test_any_single_edit_is_detected_at_its_seq(
    log: Store,
    signer: KeySource,
    engine: Engine,
    seq: int,
    field: str,
    index: int,
    pick: int,
    chunk: int,
) -> None:
    """One character, bit or instant changed in any stored field of any event: detected, at
    exactly that seq. Each example is rolled back, so they all start from the same log."""
    with tampered_then_undone(engine) as conn:
        value = event_row(conn, seq)[field]
        if isinstance(value, bytes):
            changed: Any = flip_bit(value, index)
        elif isinstance(value, datetime):
            changed = value + timedelta(microseconds=1 + index)
        elif value is None:
            changed = "x" * (1 + pick % 5)
        else:
            changed = change_char(value, index, pick)
        conn.execute(update(audit_events).where(audit_events.c.seq == seq).values({field: changed}))
        report = verify_log(conn, checker=signer, chunk=chunk)
    expected = "edited" if field in ("canonical", "prev_hash", "hash") else "index_mismatch"
    assert (report.problem, report.first_bad_seq) == (expected, seq), report


# --- concurrent writers ---------------------------------------------------------------------


def _append_worker(url: str, key_path: str, worker: int, count: int, start: Any) -> None:
    engine = make_engine(url)
    try:
        store = Store(
            engine,
            clock=system_clock,
            signer=KeySource(Path(key_path), system_clock),
            checkpoint_every=10,
        )
        start.wait(timeout=60)
        for i in range(count):
            with store.transaction() as uow:
                uow.audit.record(
                    AuditEvent(type="test.concurrent", actor=f"worker-{worker}", data={"i": i})
                )
    finally:
        engine.dispose()


@pytest.mark.slow
def test_concurrent_appends_form_one_chain(
    engine: Engine, database_url: str, key_path: Path, signer: KeySource
) -> None:
    workers, count = 4, 50
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(workers)
    processes = [
        context.Process(
            target=_append_worker, args=(database_url, str(key_path), worker, count, start)
        )
        for worker in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers

    report = verify(engine, signer)
    assert report.ok, report
    assert report.events == workers * count
    assert report.checkpoints >= 1
    with engine.connect() as conn:
        rows = conn.execute(
            select(audit_events.c.seq, audit_events.c.prev_hash, audit_events.c.canonical).order_by(
                audit_events.c.seq
            )
        ).all()
        head = conn.execute(select(audit_head.c.seq)).scalar_one()
    assert [r.seq for r in rows] == list(range(1, workers * count + 1))
    assert len({r.prev_hash for r in rows}) == len(rows)
    assert head == workers * count
    bodies = [json.loads(r.canonical) for r in rows]
    for worker in range(workers):
        mine = [b["data"]["i"] for b in bodies if b["actor"] == f"worker-{worker}"]
        assert mine == list(range(count))


# --- no change without its event, no event without its change -------------------------------


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(table)).all())


def test_failure_after_recording_leaves_no_event(
    store: Store, engine: Engine, signer: KeySource
) -> None:
    def change_then_fail() -> None:
        with store.transaction() as uow:
            uow.audit.record(AuditEvent(type="test.event"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        change_then_fail()
    assert count(engine, audit_events) == 0
    with engine.connect() as conn:
        assert conn.execute(select(audit_head.c.seq)).scalar_one() == 0
    assert verify(engine, signer) == VerifyReport(ok=True, events=0, checkpoints=0)


def test_failed_append_leaves_no_change(
    store: Store,
    engine: Engine,
    signer: KeySource,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("append failed")

    monkeypatch.setattr(chain, "append", boom)
    app = Application(
        id="billing",
        name="Billing",
        handoff_url="https://billing.example/h",
        created_at=clock(),
        disabled_at=None,
    )

    def add_application() -> None:
        with store.transaction() as uow:
            uow.applications.add(app, credential_hash="0" * 64)
            uow.audit.record(AuditEvent(type="application.created", subject="billing"))

    with pytest.raises(RuntimeError, match="append failed"):
        add_application()
    assert count(engine, applications) == 0
    assert count(engine, audit_events) == 0

    monkeypatch.undo()
    add_application()
    assert count(engine, applications) == 1
    assert verify(engine, signer) == VerifyReport(ok=True, events=1, checkpoints=0)


def test_equal_instant_in_another_spelling_or_time_zone(
    log: Store, signer: KeySource, engine: Engine, backend: str
) -> None:
    """A stored time that names the same instant is not a mismatch, however it is spelled or
    whatever the session's time zone."""
    if backend == "sqlite":
        with tampered(engine) as conn:
            # Drop the ".000000" (the clock is on whole seconds), or add precision.
            conn.execute(text("UPDATE audit_events SET at = substr(at, 1, 19) WHERE seq = 3"))
            conn.execute(text("UPDATE audit_events SET at = at || '000' WHERE seq = 4"))
        assert verify(engine, signer).ok
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("SET TIME ZONE 'Asia/Kolkata'")
        conn.commit()
        assert verify_log(conn, checker=signer).ok


def test_forged_last_event_claiming_another_seq(
    log: Store, signer: KeySource, engine: Engine, clock: FrozenClock
) -> None:
    """A re-hashed last event links and hashes fine; its content still has to say its seq."""
    with tampered(engine) as conn:
        row = event_row(conn, 35)
        forged = row["canonical"].replace('"seq":35,', '"seq":36,')
        digest = leaf_hash(row["prev_hash"], forged.encode())
        conn.execute(
            update(audit_events)
            .where(audit_events.c.seq == 35)
            .values(canonical=forged, hash=digest)
        )
        conn.execute(update(audit_head).values(hash=digest))
    report = verify(engine, signer)
    assert_problem(report, "index_mismatch", 35)
    assert report.detail is not None
    assert report.detail.endswith(": seq")


@pytest.mark.parametrize("chunk", [3, 5000])
def test_gap_wider_than_a_chunk(log: Store, signer: KeySource, engine: Engine, chunk: int) -> None:
    with tampered(engine) as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq.between(5, 30)))
    report = verify(engine, signer, chunk=chunk)
    assert_problem(report, "missing", 5)
    assert report.detail == (
        "event 5 is missing, with 25 more after it: the log jumps from event 4 to 31"
    )


@pytest.mark.parametrize("seq", [0, -7, 36, 10**12])
def test_event_outside_the_chain(
    log: Store, signer: KeySource, engine: Engine, clock: FrozenClock, seq: int
) -> None:
    """A row put before event 1 or far past the head is found (without walking the gap)."""
    at = clock()
    event = AuditEvent(type="case.note", actor="mallory")
    body = event.body(seq=seq, event_id=str(uuid.uuid4()), at=at)
    forged = canonical_bytes(body)
    with tampered(engine) as conn:
        # Right after the last event it even links to it: only the head gives it away.
        prev = event_row(conn, 35)["hash"] if seq == 36 else bytes(32)
        conn.execute(
            insert(audit_events).values(
                seq=seq,
                id=body["id"],
                at=at,
                type=event.type,
                actor=event.actor,
                canonical=forged.decode(),
                prev_hash=prev,
                hash=leaf_hash(prev, forged),
            )
        )
    report = verify(engine, signer, chunk=4)
    if seq < 1:
        assert_problem(report, "inserted", seq)
    elif seq == 36:
        assert_problem(report, "head_mismatch", 36)
    else:
        assert_problem(report, "missing", 36)


def test_verify_while_appends_go_on(log: Store, signer: KeySource, engine: Engine) -> None:
    """The walk reads one snapshot: appends committed meanwhile are no false alarm."""
    done = threading.Event()
    failures: list[BaseException] = []

    def append() -> None:
        try:
            for n in range(60):
                with log.transaction() as uow:
                    uow.audit.record(make_event(n))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=append)
    thread.start()
    reports = []
    while not done.is_set():
        reports.append(verify(engine, signer, chunk=4))
    thread.join()
    assert not failures
    assert reports
    assert all(r.ok for r in reports), [r for r in reports if not r.ok]
    assert verify(engine, signer).events == EVENTS + 60


def test_events_before_0015_are_indexed_by_the_application_their_data_named(
    clock: FrozenClock,
) -> None:
    """An event appended before migration 0015 has no top-level ``application``: the fast check
    cannot vouch for its column, and parsing compares the column with ``data.application``."""
    body = make_event(1).body(seq=1, event_id="e", at=clock())
    del body["application"]
    text_ = canonical_bytes(body).decode()
    stamp = format_time(clock())
    columns = (1, "e", body["type"], body["actor"], body["subject"], body["account"])
    assert not index_agrees(text_, *columns, "app-1", stamp)
    check_index((1, text_, b"", b"", *columns[1:], "app-1", stamp))
    for wrong in (None, "app-0"):
        with pytest.raises(Exception, match="disagree with its hashed content: application"):
            check_index((1, text_, b"", b"", *columns[1:], wrong, stamp))


def test_a_grouped_append_links_each_account_of_each_application(
    store: Store, engine: Engine
) -> None:
    """One transaction of 1,000 events over 500 (application, account) pairs, twice: more pairs
    than one lookup statement takes. Each event names the previous event of its own account of
    its own application, the same account id in the other application being another account."""
    for _ in range(2):
        with store.transaction() as uow:
            for n in range(1000):
                uow.audit.record(
                    AuditEvent(
                        type="case.note", account=f"acct-{n % 250}", application=f"app-{n // 500}"
                    )
                )
    with engine.connect() as conn:
        rows = conn.execute(select(audit_events.c.seq, audit_events.c.canonical)).all()
    last: dict[tuple[str, str], int] = {}
    for seq, canonical in sorted(rows):
        body = json.loads(canonical)
        key = (body["application"], body["account"])
        assert body["account_prev"] == last.get(key), seq
        last[key] = seq
    assert len(last) == 500
