"""Audit log throughput: appends and verification, each against a plain baseline in the same run.

    python bench/audit_append.py [--events N] [--postgres URL | --no-postgres]

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
    stored canonical text. Best of ``--repeat`` interleaved rounds (default 5)
    for each side.

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
from dataclasses import dataclass
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
    kind: str, url: str, key_path: str, count: int, index: int, start: Any, results: Any
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
            plain_single(engine, count, first_seq=10**12 + index * 10**9)
        results.put((began, time.time()))
    finally:
        engine.dispose()


def concurrent(kind: str, url: str, key_path: Path, writers: int, count: int) -> float:
    """Events per second of ``writers`` processes, from the common start to the last finish."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(writers)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(kind, url, str(key_path), count, i, start, results))
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


def best_rates(runs: dict[str, Callable[[], int]], repeat: int) -> dict[str, float]:
    """The best rate of each run over ``repeat`` rounds. Rounds interleave the runs, so that a
    busy moment of the machine does not fall on one side of a comparison only."""
    best = dict.fromkeys(runs, 0.0)
    for _ in range(repeat):
        for name, run in runs.items():
            began = time.perf_counter()
            count = run()
            best[name] = max(best[name], count / (time.perf_counter() - began))
    return best


# --- one backend -----------------------------------------------------------------------------


@dataclass
class Line:
    backend: str
    what: str
    rate: float
    baseline: float
    baseline_what: str

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline


def timed(run: Callable[[], None], count: int) -> float:
    began = time.perf_counter()
    run()
    return count / (time.perf_counter() - began)


def bench_backend(
    name: str, url: str, key_path: Path, args: argparse.Namespace, log: Callable[[str], None]
) -> list[Line]:
    engine = make_engine(url, synchronous="FULL")
    try:
        upgrade(engine)
        plain_metadata.create_all(engine)
        signer = KeySource(key_path, system_clock)
        store = Store(engine, clock=system_clock, signer=signer)
        lines: list[Line] = []
        single, group, writers, per_writer = args.single, args.group, args.writers, args.per_writer

        log(f"{name}: (a) {single} events, one per transaction")
        rate = timed(lambda: chain_single(store, single, 0), single)
        base = timed(lambda: plain_single(engine, single, 1), single)
        lines.append(Line(name, "(a) append, 1 event/txn", rate, base, "plain INSERT, 1 row/txn"))

        log(f"{name}: (b) {args.events} events, {group} per transaction")
        rate = timed(lambda: chain_grouped(store, args.events, group), args.events)
        base = timed(lambda: plain_grouped(engine, args.events, group, 10**9), args.events)
        lines.append(
            Line(
                name,
                f"(b) append, {group} events/txn",
                rate,
                base,
                f"plain INSERT, {group} rows/txn",
            )
        )

        log(f"{name}: (c) {writers} processes x {per_writer} events, one per transaction")
        rate = concurrent("chain", url, key_path, writers, per_writer)
        base = concurrent("plain", url, key_path, writers, per_writer)
        lines.append(
            Line(
                name,
                f"(c) append, {writers} procs, 1 event/txn",
                rate,
                base,
                f"{writers} procs plain INSERT, 1 row/txn",
            )
        )

        total = single + args.events + writers * per_writer
        log(f"{name}: (d) verifying {total} events, best of {args.repeat}")
        rates = best_rates(
            {
                "read": lambda: plain_read_and_hash(engine),
                "none": lambda: verify(engine, None),
                "signed": lambda: verify(engine, signer),
            },
            args.repeat,
        )
        base, rate, signed = rates["read"], rates["none"], rates["signed"]
        read = "plain read + sha256 of canonical"
        lines.append(Line(name, "(d) verify_log, checker=None", rate, base, read))
        lines.append(Line(name, "(d) verify_log, with signatures", signed, base, read))
        if verify(engine, signer) != total:
            raise RuntimeError("the log does not hold every event appended")
        return lines
    finally:
        engine.dispose()


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


def print_table(lines: list[Line]) -> None:
    header = (
        f"{'backend':<12} {'measurement':<38} {'events/s':>10} "
        f"{'baseline/s':>11} {'ratio':>6}  baseline"
    )
    print(header)
    print("-" * len(header) + "-" * 30)
    for line in lines:
        print(
            f"{line.backend:<12} {line.what:<38} {line.rate:>10,.0f} {line.baseline:>11,.0f} "
            f"{line.ratio:>6.2f}  {line.baseline_what}"
        )


def print_targets(lines: list[Line]) -> bool:
    ok = True
    print("\nTargets:")
    for line in lines:
        if line.backend == "sqlite FULL" and line.what.startswith("(b)"):
            passed = line.rate >= TARGET_GROUPED_SQLITE
            ok &= passed
            print(
                f"  [{'PASS' if passed else 'FAIL'}] grouped appends on SQLite FULL "
                f">= {TARGET_GROUPED_SQLITE:,} events/s: {line.rate:,.0f}"
            )
    for line in lines:
        if line.what.startswith("(d)"):
            passed = line.ratio >= TARGET_VERIFY_RATIO
            ok &= passed
            print(
                f"  [{'PASS' if passed else 'FAIL'}] {line.backend}: {line.what[4:]} "
                f">= {TARGET_VERIFY_RATIO:.0%} of plain read-and-hash: {line.ratio:.0%}"
            )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000, help="events for (b)")
    parser.add_argument("--group", type=int, default=1000, help="events per transaction in (b)")
    parser.add_argument("--single", type=int, default=2000, help="events for (a)")
    parser.add_argument("--writers", type=int, default=4, help="processes in (c)")
    parser.add_argument("--per-writer", type=int, default=500, help="events per process in (c)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of (d), best taken")
    parser.add_argument("--postgres", default=os.environ.get("ACTAS_TEST_DATABASE_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(f"  ... {message}", file=sys.stderr, flush=True)

    began = time.perf_counter()
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}"
    )
    lines: list[Line] = []
    with tempfile.TemporaryDirectory(prefix="actas-bench-keys-") as keys:
        key_path = Path(keys) / "keys.json"
        keyring.ensure(key_path, system_clock())
        with sqlite_database() as url:
            lines += bench_backend("sqlite FULL", url, key_path, args, log)
        if args.postgres and not args.no_postgres:
            with postgres_database(args.postgres) as url:
                print(describe(url))
                lines += bench_backend("postgresql", url, key_path, args, log)
        else:
            print("PostgreSQL skipped: pass --postgres URL or set ACTAS_TEST_DATABASE_URL")
    print()
    print_table(lines)
    ok = print_targets(lines)
    print(f"\nTotal time {time.perf_counter() - began:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
