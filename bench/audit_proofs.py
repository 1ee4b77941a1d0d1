"""Merkle proofs for customer exports on a large log, each against hashing leaves in the same run.

    python bench/audit_proofs.py [--events N] [--account-every K] [--rounds R] [--smoke]

Builds a SQLite log of ``--events`` events (default 1,000,000) through the broker's own append
path, without checkpoints, spread over a year, where one event in ``--account-every`` (default
1,000) is about the account ``acct-target``; then measures:

(a) the first checkpoint over the whole log: reading every leaf hash, storing the 256-leaf tiles,
    the root and signing it (what a log migrated to 0009 pays once; one round);
(b) a checkpoint after 1,000 more events (what the broker pays every 1,000 events);
(c) the account's export of its last 90 days with an inclusion proof per event
    (``services.audit.export``: reading the events, the proofs from the tiles, each proof
    checked against the signed root, JSON);
(d) verifying that export offline (``actas.verifier.export_check``: hashes, proofs, signature).

The baseline is SHA-256 of ``0x00 || prev_hash || canonical JSON`` of a typical event, chained,
in memory: "hashing N leaves once", for as many leaves as the step handles, measured in the
same paired, interleaved rounds (wall clock). The note of each figure gives its ratio to hashing
the whole log's leaves once too (what any proof made by walking the log costs at least).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from actas.bootstrap import build, initialise
from actas.domain.audit import AuditEvent, AuditQuery
from actas.domain.clock import FrozenClock
from actas.services import audit as audit_service
from actas.settings import load_settings
from actas.store.chain import canonical_bytes
from actas.verifier.export_check import verify_export

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import Figure, Results, arguments, command_line, interleaved, machine, spread

TARGET = "acct-target"
START = datetime(2025, 11, 1, tzinfo=UTC)
#: The log spans a year; the export is the account's last 90 days.
SPAN, WINDOW = timedelta(days=365), timedelta(days=90)


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
    body = event(1, 1000).body(seq=1, event_id="0" * 36, at=START)
    canonical = canonical_bytes(body)
    sha256 = hashlib.sha256
    began = time.perf_counter()
    digest = bytes(32)
    for _ in range(count):
        digest = sha256(b"\x00" + digest + canonical).digest()
    return time.perf_counter() - began


def timed(run: Callable[[], object]) -> float:
    began = time.perf_counter()
    run()
    return time.perf_counter() - began


def main() -> int:
    parser = arguments(__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--account-every", type=int, default=1000)
    args = parser.parse_args()
    if args.smoke:
        args.events, args.account_every, args.rounds = 3000, 50, 1
    results = Results("audit_proofs", command_line(sys.argv))
    n, every = args.events, args.account_every
    print(machine())
    with tempfile.TemporaryDirectory(prefix="actas-bench-") as tmp:
        base = Path(tmp)
        env = {
            "ACTAS_DATABASE_URL": f"sqlite:///{base / 'actas.db'}",
            "ACTAS_KEY_FILE": str(base / "keys.json"),
            "ACTAS_PUBLIC_URL": "https://broker.bench",
            "ACTAS_CHECKPOINT_EVERY": "1000000",
        }
        settings = load_settings(env)
        clock = FrozenClock(START)
        initialise(settings, clock=clock)
        broker = build(settings, clock=clock)
        store, services = broker.store, broker.services
        signer = store.signer
        store.signer = None  # fill without checkpoints: (a) signs the whole log at once
        began = time.perf_counter()
        group = 5000
        step = SPAN.total_seconds() * group / n
        for first in range(0, n, group):
            with store.transaction() as uow:
                for i in range(first, min(first + group, n)):
                    uow.audit.record(event(i, every))
            clock.advance(step)
            if first % 100_000 == 0:
                print(f"  ... {first:,} events", file=sys.stderr, flush=True)
        fill = time.perf_counter() - began
        store.signer = signer
        print(f"log of {n:,} events filled in {fill:.0f} s", flush=True)

        # (a) once: the first checkpoint over the whole log, then hashing its leaves once.
        t_first = timed(store.checkpoint)
        baseline_all = hash_leaves(n)
        first_ratio = t_first / baseline_all

        # (b) every round: 1,000 more events (not timed), then the checkpoint that covers them.
        added = [n]

        def checkpoint_after_more() -> float:
            with store.transaction() as uow:
                for i in range(added[0], added[0] + 1000):
                    uow.audit.record(event(i, every))
            added[0] += 1000
            return timed(store.checkpoint)

        incremental = interleaved(
            {"checkpoint": checkpoint_after_more, "hash": lambda: hash_leaves(1000)}, args.rounds
        )

        query = AuditQuery(account=TARGET, since=clock() - WINDOW)
        lines: list[str] = []

        def export() -> None:
            lines.clear()
            lines.extend(
                "".join(audit_service.export(services, query, "jsonl").body).splitlines(True)
            )

        export()
        exported = len(lines) - 1
        jwks = broker.keys.ring().jwks(clock())
        report = verify_export(lines, jwks)
        if not report.ok:
            print(report.summary(), file=sys.stderr)
            return 1
        proofs = interleaved(
            {
                "export": lambda: timed(export),
                "verify": lambda: timed(lambda: verify_export(lines, jwks)),
                "hash": lambda: hash_leaves(exported),
            },
            args.rounds,
        )
        baseline_log = hash_leaves(n)  # the whole log again, for the notes
        broker.close()

    section = f"audit proofs, SQLite, {n:,} events"
    print(f"hashing {n:,} leaves once: {baseline_all * 1000:.0f} ms; {exported:,} leaves in "
          f"the export")  # fmt: skip
    results.add(
        Figure(
            section=section,
            name="(a) first checkpoint over the whole log",
            value=t_first * 1000,
            unit="ms",
            baseline_name=f"hashing {n:,} leaves once",
            baseline=baseline_all * 1000,
            ratio=first_ratio,
            ratio_low=0,
            ratio_high=0,
            rounds=1,
            note="once per log (reads every leaf, stores the tiles, signs the root)",
        )
    )

    def add(name: str, values: dict[str, list[float]], case: str, count: int, note: str) -> None:
        ratios = [c / h for c, h in zip(values[case], values["hash"], strict=True)]
        med, low, high = spread(ratios)
        value = spread(values[case])[0]
        results.add(
            Figure(
                section=section,
                name=name,
                value=value * 1000,
                unit="ms",
                baseline_name=f"hashing {count:,} leaves once",
                baseline=spread(values["hash"])[0] * 1000,
                ratio=med,
                ratio_low=low,
                ratio_high=high,
                rounds=len(ratios),
                note=f"{note}; {value / baseline_log:.4f} of hashing the whole log once",
            )
        )

    add("(b) checkpoint after 1,000 more events", incremental, "checkpoint", 1000, "every 1,000")
    what = f"{exported:,} events of one account, its last 90 days"
    add("(c) export with an inclusion proof per event", proofs, "export", exported, what)
    add("(d) offline verification of that export", proofs, "verify", exported, what)
    results.notes.append(
        f"The log ({n:,} events over a year, one in {every:,} about the exported account) was "
        f"filled through the broker's append path in {fill:.0f} s (not a figure: set-up)."
    )
    results.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
