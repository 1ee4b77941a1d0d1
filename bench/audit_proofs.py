"""Merkle proofs for customer exports on a large log, each against hashing leaves in the same run.

    python bench/audit_proofs.py [--events N] [--account-every K] [--repeat R]

Builds a SQLite log of ``--events`` events (default 1,000,000) through the broker's own append
path, without checkpoints, where one event in ``--account-every`` (default 1,000) is about the
account ``acct-target``; then measures, best of ``--repeat`` rounds (default 3) where a round
can be repeated:

(a) the first checkpoint over the whole log: reading every leaf hash, storing the 256-leaf tiles,
    the root and signing it (what a log migrated to 0009 pays once);
(b) a checkpoint after 1,000 more events (what the broker pays every 1,000 events);
(c) the account's export with an inclusion proof per event (``services.audit.export``: reading
    the events, the proofs from the tiles, each proof checked against the signed root, JSON);
(d) verifying that export offline (``actas.verifier.export_check``: hashes, proofs, signature).

The baseline is SHA-256 of ``0x00 || prev_hash || canonical JSON`` of a typical event, chained,
in memory: "hashing N leaves once". Each figure is printed with its ratio to hashing the whole
log's leaves once (what any proof made by walking the log costs at least) and to hashing as
many leaves as the step handles.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from actas.bootstrap import build, initialise
from actas.domain.audit import AuditEvent, AuditQuery
from actas.domain.clock import FrozenClock
from actas.services import audit as audit_service
from actas.settings import load_settings
from actas.store.chain import canonical_bytes
from actas.verifier.export_check import verify_export

TARGET = "acct-target"


def event(n: int, every: int) -> AuditEvent:
    return AuditEvent(
        type="impersonation.start",
        actor=f"staff-{n % 40}",
        subject=f"user-{n % 9973}",
        account=TARGET if n % every == 0 else f"acct-{n % 997}",
        application="bench",
        case=f"case-{n % 5000}",
        reason="Customer asked for help: invoice export fails with an error",
        ticket=f"SUP-{10000 + n % 90000}",
        ip="203.0.113.7",
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
        data={"scopes": ["read", "billing"], "ttl_seconds": 900, "n": n},
    )


def hash_leaves(count: int) -> float:
    """Seconds to hash ``count`` typical leaves once, chained as the log chains them."""
    body = event(1, 1000).body(seq=1, event_id="0" * 36, at=datetime(2026, 1, 1, tzinfo=UTC))
    canonical = canonical_bytes(body)
    sha256 = hashlib.sha256
    began = time.perf_counter()
    digest = bytes(32)
    for _ in range(count):
        digest = sha256(b"\x00" + digest + canonical).digest()
    return time.perf_counter() - began


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--account-every", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, every = args.events, args.account_every
    with tempfile.TemporaryDirectory(prefix="actas-bench-") as tmp:
        base = Path(tmp)
        env = {
            "ACTAS_DATABASE_URL": f"sqlite:///{base / 'actas.db'}",
            "ACTAS_KEY_FILE": str(base / "keys.json"),
            "ACTAS_PUBLIC_URL": "https://broker.bench",
            "ACTAS_CHECKPOINT_EVERY": "1000000",
        }
        settings = load_settings(env)
        clock = FrozenClock(datetime(2026, 11, 1, tzinfo=UTC))
        initialise(settings, clock=clock)
        broker = build(settings, clock=clock)
        store, services = broker.store, broker.services
        signer = store.signer
        store.signer = None  # fill without checkpoints: (a) signs the whole log at once
        began = time.perf_counter()
        group = 5000
        for first in range(0, n, group):
            with store.transaction() as uow:
                for i in range(first, min(first + group, n)):
                    uow.audit.record(event(i, every))
            if first % 100_000 == 0:
                print(f"  ... {first:,} events", file=sys.stderr, flush=True)
        fill = time.perf_counter() - began
        store.signer = signer
        size = services.chain.verify().events if n <= 10_000 else None
        del size

        baseline_all = hash_leaves(n)
        began = time.perf_counter()
        first_checkpoint = store.checkpoint()
        t_first = time.perf_counter() - began
        assert first_checkpoint is not None

        def more_and_sign() -> None:
            with store.transaction() as uow:
                for i in range(1000):
                    uow.audit.record(event(n + i, every))
            began = time.perf_counter()
            store.checkpoint()
            timings.append(time.perf_counter() - began)

        timings: list[float] = []
        for _ in range(args.repeat):
            more_and_sign()
        t_incremental = min(timings)
        baseline_1000 = hash_leaves(1000)

        query = AuditQuery(account=TARGET)
        lines: list[str] = []

        def export() -> None:
            lines.clear()
            lines.extend(
                "".join(audit_service.export(services, query, "jsonl").body).splitlines(True)
            )

        t_export = best(args.repeat, export)
        exported = len(lines) - 1
        jwks = broker.keys.ring().jwks(clock())
        report = verify_export(lines, jwks)
        if not report.ok:
            print(report.summary(), file=sys.stderr)
            return 1
        t_verify = best(args.repeat, lambda: verify_export(lines, jwks))
        baseline_m = hash_leaves(exported)
        broker.close()

    print(f"actas audit proofs: {n:,} events, SQLite, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, log filled in {fill:.0f} s")  # fmt: skip
    print(f"hashing {n:,} leaves once: {baseline_all * 1000:.0f} ms; "
          f"{exported:,} leaves: {baseline_m * 1000:.1f} ms")  # fmt: skip
    rows = [
        ("(a) first checkpoint over the whole log", t_first, n, baseline_all),
        ("(b) checkpoint after 1,000 more events", t_incremental, 1000, baseline_1000),
        (f"(c) export of {exported:,} events with proofs", t_export, exported, baseline_m),
        ("(d) offline verification of the export", t_verify, exported, baseline_m),
    ]
    print(f"{'step':<46} {'time':>10} {'vs hashing the log':>20} {'vs its own leaves':>19}")
    for name, seconds, _count, own in rows:
        print(
            f"{name:<46} {seconds * 1000:>8.1f}ms {seconds / baseline_all:>19.4f}x "
            f"{seconds / own:>18.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
