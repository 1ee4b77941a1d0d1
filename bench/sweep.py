"""The sweeper's cost with many open sessions: one sweep (only what is due, through the
indexes) beside the old way of finding lapsed sessions (load every open session and test
each), in the same rounds, as CPU seconds of this process per sweep, on SQLite and PostgreSQL.

    python bench/sweep.py [--rounds 5] [--sessions 30000] [--postgres URL] [--smoke]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Figure, Results, arguments, command_line, interleaved, machine, spread
from actas.services import sweep as sweep_service
from sessions import prepare, scratch_postgres


def bench_backend(label: str, url: str, args: Any, results: Results) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{label}: {args.sessions:,} open sessions ...", flush=True)
        broker, _, _ = prepare(url, Path(tmp), args.sessions)

        def cpu(run: Any) -> Any:
            def case() -> float:
                started = time.process_time()
                run()
                return time.process_time() - started

            return case

        def old_way() -> None:
            with broker.services.read() as uow:
                at = broker.services.clock()
                [s for s in uow.sessions.open_sessions() if s.lapse_reason(at)]

        def new_way() -> None:
            swept = sweep_service.sweep(broker.services)
            assert swept.claimed

        values = interleaved({"old": cpu(old_way), "new": cpu(new_way)}, args.rounds)
        ratio = [n / o for n, o in zip(values["new"], values["old"], strict=True)]
        med, lo, hi = spread(ratio)
        results.add(
            Figure(
                section=f"sweeper, {label}",
                name=f"one sweep, {args.sessions:,} open sessions, none due",
                value=spread(values["new"])[0] * 1000,
                unit="ms CPU",
                baseline_name="loading every open session (before)",
                baseline=spread(values["old"])[0] * 1000,
                ratio=med,
                ratio_low=lo,
                ratio_high=hi,
                rounds=len(ratio),
                ratio_means="sweep / load all",
                note="the sessions expire 20 minutes after they are made: none is due",
            )
        )
        broker.engine.dispose()


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30_000)
    parser.add_argument("--postgres", default=os.environ.get("ACTAS_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.sessions = 1, 50
    results = Results("sweep", command_line(sys.argv))
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        bench_backend("SQLite", f"sqlite:///{tmp}/bench.db", args, results)
    if args.postgres:
        with scratch_postgres(args.postgres) as url:
            bench_backend("PostgreSQL", url, args, results)
    results.save(args.json)


if __name__ == "__main__":
    main()
