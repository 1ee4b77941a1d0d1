"""Audit log throughput: appends and verification, each against a plain baseline in the same run.

    python bench/audit_append.py [--rounds 5] [--events N] [--postgres URL | --no-postgres]

Measures, on SQLite (a temporary file, ``synchronous=FULL``) and on PostgreSQL (a scratch
database created on the server of ``--postgres``, default ``$ACTAS_TEST_DATABASE_URL``, and
dropped at the end):

(a) one event per transaction through ``Store.transaction``
    vs a plain INSERT of the same row into a plain table, one row per transaction;
(b) grouped commits (``--group`` events per transaction, default 1000)
    vs plain grouped INSERTs of the same rows;
(c) ``--writers`` concurrent writer processes (default 4), one event per transaction
    vs as many processes plain-inserting, one row per transaction;
(d) chain verification (``verify_log``, without and with signature checks) over the whole log
    vs a plain read of the same rows (SQLAlchemy Core, all columns) plus SHA-256 of each
    stored canonical text.

Every case runs beside its baseline in paired, interleaved rounds (``--rounds``, default 5;
they used to be timed one after the other); ratios are per round, reported as the median and
range. The targets are checked on the *lowest* round, so that they hold with margin.

The plain table has the same columns and the same indexes as ``audit_events`` but no chain,
head row, checkpoints or triggers, so each ratio is the cost of the chain itself. Appends sign
a checkpoint every 1000 events, as the broker does by default.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    MetaData,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.engine import Engine, make_url

from actas.audit.verify import verify_log
from actas.domain.audit import AuditEvent, leaf_hash
from actas.domain.clock import system_clock
from actas.keys import keyring
from actas.keys.keyring import KeySource
from actas.store.chain import canonical_bytes
from actas.store.engine import make_engine
from actas.store.migrate import upgrade
from actas.store.tables import audit_events
from actas.store.uow import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    Figure,
    Results,
    arguments,
    command_line,
    interleaved,
    machine,
    per_round,
    spread,
)

TARGET_GROUPED_SQLITE = 10_000
TARGET_VERIFY_RATIO = 0.80

plain_metadata = MetaData()
#: ``audit_events`` without the chain: its own columns and indexes, copied so they cannot drift.
plain = audit_events.to_metadata(plain_metadata, name="bench_plain")
for _named in (*plain.indexes, *plain.constraints):
    # Index and constraint names are global to a database: the copy's must not clash.
    if isinstance(_named.name, str):
        _named.name = _named.name.replace("audit_events", "bench_plain")


def sample_event(n: int) -> AuditEvent:
    """A realistic event: an impersonation step with its reason, ticket and client."""
    return AuditEvent(
        type="impersonation.start",
        actor=f"staff-{n % 40}",
        subject=f"user-{n % 9973}",
        account=f"acct-{n % 997}",
        application="bench",
        case=f"case-{n % 5000}",
        session=str(uuid.UUID(int=n)),
        reason="Customer asked for help: invoice export fails with an error",
        ticket=f"SUP-{10000 + n % 90000}",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        data={"scopes": ["read", "billing"], "ttl_seconds": 900, "n": n},
    )


EVENTS = [sample_event(n) for n in range(1000)]


def plain_row(seq: int, at: datetime) -> dict[str, Any]:
    """The row ``chain.append`` would write for an event, without the chain: its canonical text
    and hashes are computed once, outside the timed loop."""
    return {**_TEMPLATE, "seq": seq, "id": str(uuid.uuid4()), "at": at}


_body = EVENTS[0].body(seq=1, event_id=str(uuid.uuid4()), at=datetime(2026, 1, 1, tzinfo=UTC))
_canonical = canonical_bytes(_body)
_TEMPLATE: dict[str, Any] = {
    "type": EVENTS[0].type,
    "actor": EVENTS[0].actor,
    "subject": EVENTS[0].subject,
    "account": EVENTS[0].account,
    "canonical": _canonical.decode(),
    "prev_hash": bytes(32),
    "hash": leaf_hash(bytes(32), _canonical),
}


# --- the writers, shared by the in-process runs and the worker processes -------------------


def chain_single(store: Store, count: int, offset: int) -> None:
    for i in range(count):
        with store.transaction() as uow:
            uow.audit.record(EVENTS[(offset + i) % len(EVENTS)])


def chain_grouped(store: Store, count: int, group: int) -> None:
    done = 0
    while done < count:
        size = min(group, count - done)
        with store.transaction() as uow:
            for i in range(size):
                uow.audit.record(EVENTS[(done + i) % len(EVENTS)])
        done += size


def plain_single(engine: Engine, count: int, first_seq: int) -> None:
    for i in range(count):
        with engine.begin() as conn:
            conn.execute(insert(plain), plain_row(first_seq + i, system_clock()))


def plain_grouped(engine: Engine, count: int, group: int, first_seq: int) -> None:
    done = 0
    while done < count:
        size = min(group, count - done)
        now = system_clock()
        rows = [plain_row(first_seq + done + i, now) for i in range(size)]
        with engine.begin() as conn:
            conn.execute(insert(plain), rows)
        done += size


def _worker(
    kind: str,
    url: str,
    key_path: str,
    count: int,
    index: int,
    start: Any,
    results: Any,
    base: int = 10**12,
) -> None:
    engine = make_engine(url, synchronous="FULL")
    try:
        store = Store(engine, clock=system_clock, signer=KeySource(Path(key_path), system_clock))
        with engine.connect():
            pass  # connect before the clock starts
        start.wait(timeout=120)
        began = time.time()
        if kind == "chain":
            chain_single(store, count, offset=index * count)
        else:
            plain_single(engine, count, first_seq=base + index * 10**9)
        results.put((began, time.time()))
    finally:
        engine.dispose()


_ROUND = [0]


def concurrent(kind: str, url: str, key_path: Path, writers: int, count: int) -> float:
    """Events per second of ``writers`` processes, from the common start to the last finish."""
    _ROUND[0] += 1
    base = 10**12 + _ROUND[0] * 10**11  # the plain table's seqs: fresh every round
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(
            target=_worker, args=(kind, url, str(key_path), count, i, start, results, base)
        )
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    spans = [results.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        if process.exitcode != 0:
            raise RuntimeError(f"a {kind} writer failed with exit code {process.exitcode}")
    elapsed = max(end for _, end in spans) - min(began for began, _ in spans)
    return float(writers * count / elapsed)


# --- verification ----------------------------------------------------------------------------


def plain_read_and_hash(engine: Engine) -> int:
    rows = 0
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=5000).execute(
            select(audit_events).order_by(audit_events.c.seq)
        )
        for row in result:
            hashlib.sha256(row.canonical.encode("utf-8")).digest()
            rows += 1
    return rows


def verify(engine: Engine, checker: KeySource | None) -> int:
    with engine.connect() as conn:
        report = verify_log(conn, checker=checker)
    if not report.ok:
        raise RuntimeError(report.summary())
    return report.events


# --- one backend, every comparison paired round by round --------------------------------------


class Seqs:
    """Fresh sequence numbers for the plain table (its seq is its primary key)."""

    def __init__(self) -> None:
        self.next = 10**9

    def take(self, count: int) -> int:
        first = self.next
        self.next += count
        return first


def rate_of(run: Callable[[], object], count: int | None = None) -> Callable[[], float]:
    """A case for ``interleaved``: items per second of one call (``count`` items, or what
    the call returns)."""

    def case() -> float:
        began = time.perf_counter()
        done = run()
        elapsed = time.perf_counter() - began
        return (count if count is not None else int(done)) / elapsed  # type: ignore[call-overload]

    return case


def bench_backend(
    name: str, url: str, key_path: Path, args: argparse.Namespace, results: Results
) -> None:
    engine = make_engine(url, synchronous="FULL")
    try:
        upgrade(engine)
        plain_metadata.create_all(engine)
        signer = KeySource(key_path, system_clock)
        store = Store(engine, clock=system_clock, signer=signer)
        single, group, writers, per_writer = args.single, args.group, args.writers, args.per_writer
        seqs = Seqs()
        offset = [0]

        def chain_one() -> None:
            offset[0] += single
            chain_single(store, single, offset[0])

        cases = {
            "chain 1/txn": rate_of(chain_one, single),
            "plain 1/txn": rate_of(lambda: plain_single(engine, single, seqs.take(single)), single),
            "chain grouped": rate_of(lambda: chain_grouped(store, args.events, group), args.events),
            "plain grouped": rate_of(
                lambda: plain_grouped(engine, args.events, group, seqs.take(args.events)),
                args.events,
            ),
        }
        if writers:
            cases["chain writers"] = lambda: concurrent("chain", url, key_path, writers, per_writer)
            cases["plain writers"] = lambda: concurrent("plain", url, key_path, writers, per_writer)
        print(f"{name}: appends, {args.rounds} rounds", flush=True)
        appends = interleaved(cases, args.rounds)
        print(f"{name}: verification, {args.rounds} rounds", flush=True)
        verifying = interleaved(
            {
                "read": rate_of(lambda: plain_read_and_hash(engine)),
                "none": rate_of(lambda: verify(engine, None)),
                "signed": rate_of(lambda: verify(engine, signer)),
            },
            args.rounds,
        )
    finally:
        engine.dispose()

    def add(
        values: dict[str, list[float]],
        case: str,
        base: str,
        label: str,
        base_label: str,
        target: str | None = None,
        met: bool | None = None,
    ) -> None:
        ratio = per_round(values, case, lambda c, b: c / b, base)
        med, lo, hi = spread(ratio)
        results.add(
            Figure(
                section=f"audit log, {name}",
                name=label,
                value=spread(values[case])[0],
                unit="events/s",
                baseline_name=base_label,
                baseline=spread(values[base])[0],
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=len(ratio),
                target=target,
                met=met,
                note=f"case range {min(values[case]):,.0f}..{max(values[case]):,.0f}",
            )
        )

    grouped = spread(appends["chain grouped"])
    sqlite = name.startswith("SQLite")
    add(
        appends,
        "chain 1/txn",
        "plain 1/txn",
        "append, 1 event per transaction",
        "plain INSERT, 1 row/txn",
    )
    add(
        appends,
        "chain grouped",
        "plain grouped",
        f"append, {group} events per transaction",
        f"plain INSERT, {group} rows/txn",
        f">= {TARGET_GROUPED_SQLITE:,}/s, lowest round" if sqlite else None,
        grouped[1] >= TARGET_GROUPED_SQLITE if sqlite else None,
    )
    if writers:
        add(
            appends,
            "chain writers",
            "plain writers",
            f"append, {writers} processes, 1/txn",
            f"{writers} processes plain INSERT",
        )
    for case, label in (("none", "verify_log"), ("signed", "verify_log with signatures")):
        ratio_low = spread(per_round(verifying, case, lambda c, b: c / b, "read"))[1]
        add(
            verifying,
            case,
            "read",
            label,
            "plain read + sha256 of the stored text",
            f">= {TARGET_VERIFY_RATIO}, lowest round",
            ratio_low >= TARGET_VERIFY_RATIO,
        )


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="actas-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    if server_url.startswith("postgresql://"):
        server_url = "postgresql+psycopg://" + server_url.split("://", 1)[1]
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"actas_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def describe(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            commit = conn.execute(text("SHOW synchronous_commit")).scalar()
            fsync = conn.execute(text("SHOW fsync")).scalar()
        return f"PostgreSQL {version} (synchronous_commit={commit}, fsync={fsync})"
    finally:
        engine.dispose()


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="grouped events per round")
    parser.add_argument("--group", type=int, default=1000, help="events per transaction")
    parser.add_argument("--single", type=int, default=400, help="single events per round")
    parser.add_argument("--writers", type=int, default=4, help="processes (0: none)")
    parser.add_argument("--per-writer", type=int, default=150, help="events per process")
    parser.add_argument("--postgres", default=os.environ.get("ACTAS_TEST_DATABASE_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.events, args.group, args.single = 1, 200, 100, 20
        args.writers, args.per_writer = 2, 10
    results = Results("audit_append", command_line(sys.argv))
    began = time.perf_counter()
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {machine()}")
    with tempfile.TemporaryDirectory(prefix="actas-bench-keys-") as keys:
        key_path = Path(keys) / "keys.json"
        keyring.ensure(key_path, system_clock())
        with sqlite_database() as url:
            bench_backend("SQLite (synchronous=FULL)", url, key_path, args, results)
        if args.postgres and not args.no_postgres:
            with postgres_database(args.postgres) as url:
                results.notes.append(describe(url))
                bench_backend("PostgreSQL", url, key_path, args, results)
        else:
            results.notes.append("PostgreSQL skipped: no --postgres or ACTAS_TEST_DATABASE_URL")
    print(f"\nTotal time {time.perf_counter() - began:.0f} s")
    results.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
