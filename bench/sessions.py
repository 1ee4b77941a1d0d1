"""Handoff redemptions per second (redeem + token signing + audit event, one durable
transaction each) on SQLite and PostgreSQL with one, two and four broker processes and 4, 8
and 16 redemptions in flight, each beside a durable one-row insert (its own transaction, same
processes, same concurrency) measured in the same round; and how the rate scales from one
process to two. Also the memory of a broker process: at start (with the real Argon2 hasher,
whose dummy hash takes 64 MiB), idle, and at its peak under load.

Each "broker process" is a worker process with its own engine and services calling
``handoff.redeem_handoff`` from ``in_flight / processes`` threads (no HTTP: this measures the
store and the audit chain, which is where processes contend). Cases are interleaved round by
round; ratios are per round, median and range.

    python bench/sessions.py [--rounds 5] [--per-run 300] [--postgres URL] [--smoke]

PostgreSQL comes from --postgres or ACTAS_TEST_DATABASE_URL; the script creates a scratch
database there and drops it at the end.

Target (issue 15): on PostgreSQL, two processes redeem at least 1.4x what one does, at 8 and
at 16 in flight.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from actas.bootstrap import build
from actas.domain.access import HANDOFF_TTL, AccessSession
from actas.domain.audit import Actor
from actas.domain.subjects import Account, AccountFlag, Subject
from actas.domain.tokens import HANDOFF_PREFIX, new_token, token_hash
from actas.keys import keyring
from actas.security.passwords import FastTestPasswords
from actas.services import applications as app_service
from actas.services import handoff as handoff_service
from actas.settings import load_settings
from actas.store.migrate import upgrade

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (
    Figure,
    Results,
    arguments,
    command_line,
    interleaved,
    machine,
    process_cpu,
    rss_mib,
    spread,
)

HANDOFF = "https://notes.bench/actas/handoff"


def prepare(database_url: str, workdir: Path, codes: int) -> tuple[Any, list[str], Any]:
    """A migrated database with one application and ``codes`` started sessions, each with an
    unused handoff code. Returns (broker, codes, application)."""
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.bench",
            "ACTAS_KEY_FILE": str(workdir / "keys.json"),
            "ACTAS_CHECKPOINT_EVERY": "1000",
        },
        cwd=workdir,
    )
    keyring.ensure(settings.key_file, datetime.now(UTC))
    broker = build(settings, passwords=FastTestPasswords())
    upgrade(broker.engine)
    app = app_service.add_application(
        broker.services, app_id="notes", name="Notes", handoff_url=HANDOFF, by=Actor(id="bench")
    ).application
    staff_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    plain: list[str] = []
    with broker.store.transaction() as uow:
        from actas.domain.roles import Role
        from actas.domain.staff import Staff

        uow.staff.add(
            Staff(
                id=staff_id,
                email="bench@staff.test",
                display_name="Bench",
                roles=frozenset({Role.AGENT}),
                password_hash="-",
                totp_secret="-",
                totp_last_step=None,
                disabled_at=None,
                created_at=now,
            )
        )
        uow.accounts.upsert(
            Account(
                application_id="notes",
                id="acme",
                name="Acme",
                flags=frozenset[AccountFlag](),
                handoff_url=None,
                updated_at=now,
            )
        )
        uow.subjects.upsert(
            Subject(
                application_id="notes",
                id="u-1",
                account_id="acme",
                email=None,
                email_verified=False,
                display_name="Jane",
                privileged=False,
                updated_at=now,
            )
        )
    # Sessions need a case and a request row (foreign keys); a raw insert keeps setup fast.
    with broker.engine.begin() as conn:
        from actas.store.tables import access_requests, cases

        conn.execute(
            cases.insert().values(
                id="case-bench",
                application_id="notes",
                subject_id="u-1",
                account_id="acme",
                staff_id=staff_id,
                ticket="B-1",
                reason_code="bug_reproduction",
                reason_text="bench",
                status="open",
                opened_at=now,
            )
        )
        conn.execute(
            access_requests.insert(),
            [
                {
                    "id": f"req-{i}",
                    "case_id": "case-bench",
                    "staff_id": staff_id,
                    "application_id": "notes",
                    "subject_id": "u-1",
                    "account_id": "acme",
                    "kind": "impersonate",
                    "scopes": "read",
                    "minutes": 20,
                    "break_glass": False,
                    "state": "started",
                    "outcome": "allow",
                    "reasons": "[]",
                    "approvals_required": 0,
                    "approver_roles": "",
                    "high_risk": False,
                    "review_required": False,
                    "created_at": now,
                    "expires_at": now + timedelta(hours=1),
                }
                for i in range(codes)
            ],
        )
    with broker.store.transaction() as uow:
        for i in range(codes):
            session = AccessSession(
                id=f"ses-{i}",
                request_id=f"req-{i}",
                case_id="case-bench",
                staff_id=staff_id,
                application_id="notes",
                subject_id="u-1",
                account_id="acme",
                kind="impersonate",
                scopes=("read",),
                started_at=now,
                expires_at=now + timedelta(minutes=20),
                idle_seconds=900,
                last_active_at=now,
                handoff_url=HANDOFF,
                review_required=False,
            )
            uow.sessions.add(session)
            code = new_token(HANDOFF_PREFIX)
            uow.handoffs.add(
                code_hash=token_hash(code),
                session_id=session.id,
                application_id="notes",
                handoff_url=HANDOFF,
                issued_at=now,
                # Long enough for the benchmark itself; production codes live HANDOFF_TTL.
                expires_at=now + HANDOFF_TTL * 60,
            )
            plain.append(code)
    return broker, plain, app


# --- the worker processes -----------------------------------------------------------------------


def _settings(database_url: str, workdir: Path) -> Any:
    return load_settings(
        {
            "ACTAS_DATABASE_URL": database_url,
            "ACTAS_PUBLIC_URL": "https://broker.bench",
            "ACTAS_KEY_FILE": str(workdir / "keys.json"),
            "ACTAS_CHECKPOINT_EVERY": "1000",
        },
        cwd=workdir,
    )


def _worker(database_url: str, workdir: str, pipe: Any) -> None:
    """One broker process: its own engine and services (the real Argon2 hasher, as a broker
    starts), then commands from the pipe until None."""
    import threading

    from sqlalchemy import insert

    rss_before = rss_mib()
    broker = build(_settings(database_url, Path(workdir)))
    with broker.store.read() as uow:
        app = uow.applications.by_id("notes")
    started = rss_mib()
    pipe.send(("ready", {"before_build": rss_before[0], "at_start": started[0]}))
    rows = bench_rows_table()
    while True:
        command = pipe.recv()
        if command is None:
            break
        kind, items, threads, start_at = command

        def redeem(mine: list[Any]) -> None:
            for code in mine:
                handoff_service.redeem_handoff(
                    broker.services, app=app, code=code, handoff_url=HANDOFF, by=Actor(id="app")
                )

        def insert_rows(mine: list[Any]) -> None:
            for body in mine:
                with broker.engine.begin() as conn:
                    conn.execute(insert(rows).values(body=body))

        work = redeem if kind == "redeem" else insert_rows
        slices = [items[i::threads] for i in range(threads)]
        pool = [threading.Thread(target=work, args=(part,)) for part in slices]
        time.sleep(max(0.0, start_at - time.time()))
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        pipe.send(("done", {"count": len(items), "ended": time.time(), "rss": rss_mib()}))
    broker.engine.dispose()


def bench_rows_table() -> Any:
    from sqlalchemy import Column, Integer, MetaData, Table, Text

    return Table(
        "bench_rows",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("body", Text, nullable=False),
    )


class LockSampler:
    """Counts, every 20 ms, the connections of the benchmark's database waiting on a lock
    (the audit head row, chiefly); :meth:`stop` gives the mean."""

    def __init__(self, database_url: str) -> None:
        import threading

        self.engine = create_engine(database_url, poolclass=NullPool)
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        with self.engine.connect() as conn:
            while not self._stop.wait(0.02):
                self.samples.append(int(conn.execute(query).scalar() or 0))
                conn.commit()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        self.engine.dispose()
        return statistics.mean(self.samples) if self.samples else 0.0


class Workers:
    def __init__(self, database_url: str, workdir: Path, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.database_url = database_url
        self.usage: dict[str, list[tuple[float, float | None]]] = {}
        self.pipes = []
        self.processes = []
        self.memory: list[dict[str, float]] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker, args=(database_url, str(workdir), theirs))
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            kind, info = pipe.recv()
            assert kind == "ready"
            self.memory.append(info)

    def run(self, kind: str, items: list[Any], processes: int, in_flight: int) -> float:
        """Spread ``items`` over ``processes`` workers with ``in_flight`` threads in all;
        items per second from the common start to the last finish. Also notes the CPU the
        workers used (cores busy) and, on PostgreSQL, how many connections waited on a lock."""
        start_at = time.time() + 0.2
        threads = max(1, in_flight // processes)
        pids = [p.pid for p in self.processes[:processes] if p.pid is not None]
        cpu_before = sum(process_cpu(pid) for pid in pids)
        sampler = (
            LockSampler(self.database_url) if self.database_url.startswith("postgres") else None
        )
        for i in range(processes):
            self.pipes[i].send((kind, items[i::processes], threads, start_at))
        ended = []
        for i in range(processes):
            _, info = self.pipes[i].recv()
            ended.append(info["ended"])
            self.memory[i]["peak"] = max(self.memory[i].get("peak", 0.0), info["rss"][1])
            self.memory[i]["after_load"] = info["rss"][0]
        elapsed = max(ended) - start_at
        waiting = sampler.stop() if sampler is not None else None
        cores = (sum(process_cpu(pid) for pid in pids) - cpu_before) / elapsed
        key = f"{kind} {processes}p {in_flight}"
        self.usage.setdefault(key, []).append((cores, waiting))
        return len(items) / elapsed

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(30)


# --- the run ------------------------------------------------------------------------------------


def bench_backend(
    label: str, database_url: str, configs: list[tuple[int, int]], args: Any, results: Results
) -> dict[tuple[int, int], list[float]]:
    per_run = args.per_run
    needed = per_run * args.rounds * len(configs)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        print(f"\n{label}: preparing {needed:,} sessions with unused handoff codes ...")
        broker, codes, _ = prepare(database_url, workdir, needed)
        bench_rows_table().metadata.create_all(broker.engine)
        broker.engine.dispose()
        workers = Workers(database_url, workdir, max(p for p, _ in configs))
        idle_before = [rss_mib(p.pid)[0] for p in workers.processes]
        pool = iter(codes)
        cases: dict[str, Any] = {}
        for processes, in_flight in configs:

            def redeem(p: int = processes, t: int = in_flight) -> float:
                return workers.run("redeem", [next(pool) for _ in range(per_run)], p, t)

            def insert(p: int = processes, t: int = in_flight) -> float:
                return workers.run("insert", ["x" * 246] * per_run, p, t)

            cases[f"redeem {processes}p {in_flight}"] = redeem
            cases[f"insert {processes}p {in_flight}"] = insert
        try:
            values = interleaved(cases, args.rounds)
        finally:
            memory = workers.memory
            usage = workers.usage
            workers.close()
    rates: dict[tuple[int, int], list[float]] = {}
    for processes, in_flight in configs:
        key = f"{processes}p {in_flight}"
        redeem_values, insert_values = values[f"redeem {key}"], values[f"insert {key}"]
        rates[(processes, in_flight)] = redeem_values
        ratio = [r / i for r, i in zip(redeem_values, insert_values, strict=True)]
        med, lo, hi = spread(ratio)
        results.add(
            Figure(
                section=f"handoff redemptions, {label}",
                name=f"{processes} process(es), {in_flight} in flight",
                value=spread(redeem_values)[0],
                unit="/s",
                baseline_name="durable one-row insert",
                baseline=spread(insert_values)[0],
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=len(ratio),
                ratio_means="redemptions / inserts",
                note=usage_note(usage.get(f"redeem {key}", []))
                + f"; range {min(redeem_values):,.0f}..{max(redeem_values):,.0f}/s",
            )
        )
    for in_flight in sorted({t for _, t in configs}):
        one = rates.get((1, in_flight))
        for processes in (2, 4):
            more = rates.get((processes, in_flight))
            if one is None or more is None:
                continue
            scaling = [m / o for m, o in zip(more, one, strict=True)]
            med, lo, hi = spread(scaling)
            target = (
                ">= 1.4" if processes == 2 and in_flight in (8, 16) and "Postgre" in label else None
            )
            results.add(
                Figure(
                    section=f"scaling, {label}",
                    name=f"{processes} processes vs 1, {in_flight} in flight",
                    value=spread(more)[0],
                    unit="/s",
                    baseline_name="1 process",
                    baseline=spread(one)[0],
                    ratio=med,
                    ratio_low=lo,
                    ratio_high=hi,
                    rounds=len(scaling),
                    ratio_means=f"{processes} processes / 1 process",
                    target=target,
                    met=(med >= 1.4) if target else None,
                )
            )
    results.extra.setdefault("memory", {})[label] = {
        "before_build_mib": statistics.median(m["before_build"] for m in memory),
        "at_start_mib": statistics.median(m["at_start"] for m in memory),
        "idle_mib": statistics.median(idle_before),
        "after_load_mib": statistics.median(m.get("after_load", 0.0) for m in memory),
        "peak_mib": max(m.get("peak", 0.0) for m in memory),
    }
    print("  memory (MiB):", results.extra["memory"][label])
    results.extra.setdefault("throughput", {})[label] = {
        f"{p},{t}": spread(v)[0] for (p, t), v in rates.items()
    }
    return rates


def usage_note(samples: list[tuple[float, float | None]]) -> str:
    """What the workers used while redeeming: CPU cores busy, connections waiting on a lock."""
    if not samples:
        return ""
    cores = statistics.median(c for c, _ in samples)
    note = f"workers busy {cores:.2f} of {os.cpu_count()} cores"
    waits = [w for _, w in samples if w is not None]
    if waits:
        note += f", {statistics.median(waits):.2f} connections waiting on a lock"
    return note


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"actas_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--per-run", type=int, default=300, help="redemptions per case and round")
    parser.add_argument("--postgres", default=os.environ.get("ACTAS_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.per_run = 1, 16
    results = Results("sessions", command_line(sys.argv))
    print(f"python {sys.version.split()[0]}, {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        bench_backend("SQLite", f"sqlite:///{tmp}/bench.db", SQLITE_CONFIGS, args, results)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            bench_backend("PostgreSQL", url, POSTGRES_CONFIGS, args, results)
    else:
        results.notes.append("PostgreSQL skipped: no ACTAS_TEST_DATABASE_URL or --postgres")
        print(results.notes[-1])
    results.save(args.json)


#: (processes, in flight): one, two and four processes; the scaling pairs at 4, 8 and 16.
POSTGRES_CONFIGS = [(1, 4), (2, 4), (1, 8), (2, 8), (4, 8), (1, 16), (2, 16)]
SQLITE_CONFIGS = [(1, 8), (2, 8), (4, 8)]


if __name__ == "__main__":
    main()
