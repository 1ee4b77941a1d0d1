"""Delivering the outbox: claim due rows, send each outside any transaction, record the result.

Any number of broker replicas may run a worker. A claim is one short transaction that picks due
rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: ``BEGIN IMMEDIATE`` makes it the single
writer) and moves their ``next_attempt_at`` forward by a lease, so no other worker picks them
while they are being sent. The result is written back only if the lease is still ours (the
row's ``next_attempt_at`` is still the lease we set): delivered, or retried later with
exponential backoff, or after ``max_attempts`` dead-lettered (``dead_at`` and ``last_error``
stay on the row) with an audit event ``announcement.dead_lettered`` so security sees it.

Delivery is at least once: a worker that dies after sending but before recording leaves the row
to be sent again when its lease runs out. Webhook receivers dedupe on ``webhook-id``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Row

from actas import metrics
from actas.domain.audit import AuditEvent
from actas.domain.clock import Clock
from actas.notify import DeliveryResult, OutboxMessage, Sender, failed, short_error
from actas.notify.channels import senders_for
from actas.notify.email import EMAIL
from actas.store.tables import outbox
from actas.store.uow import Store

if TYPE_CHECKING:
    from actas.settings import Settings

log = logging.getLogger("actas.notify")

DEAD_LETTERED = "announcement.dead_lettered"
#: Who the dead-letter audit event names as its actor.
OUTBOX_ACTOR = "system:outbox"


@dataclass(frozen=True)
class DeliveryStats:
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    #: Results not recorded because another worker took the row over (an expired lease).
    lost: int = 0
    #: Claimed but handed back unsent, because the batch ran close to the end of its lease.
    released: int = 0


def backoff(attempts: int, *, base: float = 5.0, cap: float = 3600.0) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``base``, doubling, at most ``cap``."""
    exponent = min(max(attempts - 1, 0), 32)
    return timedelta(seconds=min(base * 2**exponent, cap))


@dataclass(frozen=True)
class _Claimed:
    message: OutboxMessage | None
    id: str
    channel: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    lease: datetime
    #: Why the row cannot be sent at all (its payload is unreadable).
    broken: str | None = None


class OutboxWorker:
    """Delivers due outbox rows with ``senders`` (keyed by channel kind).

    ``store`` provides the engine and the audited transactions; ``clock`` (the store's by
    default) decides what is due and when to retry. ``lease`` must outlast one batch of sends:
    by default the per-send timeout times the batch size, plus a minute.
    """

    def __init__(
        self,
        store: Store,
        senders: Mapping[str, Sender],
        *,
        clock: Clock | None = None,
        max_attempts: int = 8,
        backoff_base: float = 5.0,
        backoff_max: float = 3600.0,
        send_timeout: float = 10.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.engine = store.engine
        self.senders = dict(senders)
        self.clock = clock or store.clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.send_timeout = send_timeout
        #: Measures how long a batch has been sending (replaceable in tests).
        self.monotonic: Callable[[], float] = time.monotonic

    def lease_for(self, limit: int) -> timedelta:
        return timedelta(seconds=self.send_timeout * limit + 60)

    def deliver_due(self, limit: int = 50) -> DeliveryStats:
        """Send what is due now, at most ``limit`` rows; never raises for a receiver's failure."""
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be within 1..1000")
        started = self.monotonic()
        budget = self.lease_for(limit).total_seconds() - 30 - 2 * self.send_timeout
        claimed = self._claim(limit)
        delivered = retried = dead = lost = released = 0
        for index, row in enumerate(claimed):
            if index > 0 and self.monotonic() - started > budget:
                # Slow receivers ate the lease: hand the rest back rather than let another
                # worker take them over while we still send (which would send them twice).
                released = self._release(claimed[index:])
                break
            result = self._send(row)
            outcome = self._record(row, result)
            metrics.delivered(row.channel, outcome)
            if outcome == "delivered":
                delivered += 1
            elif outcome == "retry":
                retried += 1
            elif outcome == "dead":
                dead += 1
            else:
                lost += 1
        return DeliveryStats(
            claimed=len(claimed),
            delivered=delivered,
            retried=retried,
            dead=dead,
            lost=lost,
            released=released,
        )

    def close(self) -> None:
        for sender in self.senders.values():
            sender.close()

    # --- claim ---------------------------------------------------------------------------

    def _claim(self, limit: int) -> list[_Claimed]:
        t = outbox
        now = self.clock()
        lease = now + self.lease_for(limit)
        due = (
            select(t.c.id)
            .where(t.c.delivered_at.is_(None), t.c.dead_at.is_(None), t.c.next_attempt_at <= now)
            .order_by(t.c.next_attempt_at, t.c.created_at)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            ids = list(conn.execute(due).scalars())
            if not ids:
                return []
            rows = conn.execute(
                update(t)
                .where(t.c.id.in_(ids))
                .values(next_attempt_at=lease)
                .returning(
                    t.c.id,
                    t.c.channel,
                    t.c.target,
                    t.c.event_type,
                    t.c.payload,
                    t.c.created_at,
                    t.c.attempts,
                )
            ).all()
        ordered = sorted(rows, key=lambda r: (r.created_at, r.id))
        return [_claimed(row, lease) for row in ordered]

    # --- send ----------------------------------------------------------------------------

    def _send(self, row: _Claimed) -> DeliveryResult:
        if row.message is None:
            return failed(row.broken or "unreadable row", permanent=True)
        sender = self.senders.get(row.channel)
        if sender is None:
            return failed(f"no {row.channel} sender configured")
        try:
            return sender.send(row.message)
        except Exception as exc:  # a sender bug must not stop the others
            log.exception("outbox sender %s failed on %s", row.channel, row.id)
            return failed(short_error(exc))

    # --- record --------------------------------------------------------------------------

    def _ours(self, row: _Claimed) -> Any:
        t = outbox
        return (
            (t.c.id == row.id)
            & t.c.delivered_at.is_(None)
            & t.c.dead_at.is_(None)
            & (t.c.next_attempt_at == row.lease)
        )

    def _record(self, row: _Claimed, result: DeliveryResult) -> str:
        t = outbox
        now = self.clock()
        attempts = row.attempts + 1
        if result.ok:
            with self.engine.begin() as conn:
                done = conn.execute(
                    update(t)
                    .where(self._ours(row))
                    .values(delivered_at=now, attempts=attempts, last_error=None, **_settled(row))
                ).rowcount
            return "delivered" if done == 1 else self._lost(row)
        error = result.error or "failed"
        if result.permanent or attempts >= self.max_attempts:
            with self.store.transaction() as uow:
                done = _dead_letter(uow.conn, self._ours(row), now, attempts, error, _settled(row))
                if done == 1:
                    uow.audit.record(_dead_letter_event(row, attempts, error))
            if done != 1:
                return self._lost(row)
            log.warning(
                "announcement %s (%s, %s) dead-lettered after %d attempts: %s",
                row.id,
                row.channel,
                row.event_type,
                attempts,
                error,
            )
            return "dead"
        retry_at = now + backoff(attempts, base=self.backoff_base, cap=self.backoff_max)
        with self.engine.begin() as conn:
            done = conn.execute(
                update(t)
                .where(self._ours(row))
                .values(attempts=attempts, next_attempt_at=retry_at, last_error=error)
            ).rowcount
        return "retry" if done == 1 else self._lost(row)

    def _release(self, rows: list[_Claimed]) -> int:
        now = self.clock()
        released = 0
        with self.engine.begin() as conn:
            for row in rows:
                released += conn.execute(
                    update(outbox).where(self._ours(row)).values(next_attempt_at=now)
                ).rowcount
        return released

    def _lost(self, row: _Claimed) -> str:
        log.warning("outbox row %s was taken over by another worker (lease expired)", row.id)
        return "lost"


def _claimed(row: Row[Any], lease: datetime) -> _Claimed:
    payload: Any = None
    broken: str | None = None
    try:
        payload = json.loads(row.payload)
    except ValueError:
        broken = "payload is not JSON"
    if broken is None and not isinstance(payload, dict):
        broken = "payload is not a JSON object"
    message = None
    if broken is None:
        message = OutboxMessage(
            id=row.id,
            channel=row.channel,
            target=row.target,
            event_type=row.event_type,
            payload=payload,
            created_at=row.created_at,
            attempts=int(row.attempts),
        )
    return _Claimed(
        message=message,
        id=row.id,
        channel=row.channel,
        event_type=row.event_type,
        payload=payload if isinstance(payload, dict) else {},
        attempts=int(row.attempts),
        lease=lease,
        broken=broken,
    )


def _dead_letter(
    conn: Connection, ours: Any, now: datetime, attempts: int, error: str, extra: dict[str, Any]
) -> int:
    result = conn.execute(
        update(outbox).where(ours).values(dead_at=now, attempts=attempts, last_error=error, **extra)
    )
    return int(result.rowcount)


#: Channels whose payload carries a customer's secret (a link token, a code) in clear.
SECRET_CHANNELS = frozenset({EMAIL})


def _settled(row: _Claimed) -> dict[str, Any]:
    """Extra values for a row that was delivered or dead-lettered: an email's payload is
    emptied, so the link or code in it lives in the database no longer than it must (the ids
    that tie the row to its case or session stay)."""
    if row.channel not in SECRET_CHANNELS:
        return {}
    kept = {k: v for k, v in row.payload.items() if k in {"case", "session", "link"}}
    return {"payload": json.dumps({**kept, "scrubbed": True}, separators=(",", ":"))}


def _dead_letter_event(row: _Claimed, attempts: int, error: str) -> AuditEvent:
    def an_id(key: str) -> str | None:
        value = row.payload.get(key)
        return value if isinstance(value, str) and 0 < len(value) <= 128 else None

    return AuditEvent(
        type=DEAD_LETTERED,
        actor=OUTBOX_ACTOR,
        case=an_id("case"),
        session=an_id("session"),
        data={
            "id": row.id,
            "channel": row.channel,
            "event_type": row.event_type,
            "attempts": attempts,
            "last_error": error,
        },
    )


class OutboxRunner:
    """Runs ``worker.deliver_due`` every ``interval`` seconds in a daemon thread until
    :meth:`stop`. A full batch is followed at once by the next (at most ``max_batches`` per
    tick). Errors (a database that is down) are logged and retried on the next tick."""

    def __init__(
        self,
        worker: OutboxWorker,
        *,
        interval: float = 1.0,
        limit: int = 50,
        max_batches: int = 20,
        close_worker: bool = True,
    ) -> None:
        self.worker = worker
        self.interval = interval
        self.limit = limit
        self.max_batches = max_batches
        self.close_worker = close_worker
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the outbox runner was already started")
        self._thread = threading.Thread(target=self._run, name="actas-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop after the send in progress; True when the thread has ended. Closes the worker's
        senders (unless ``close_worker`` is false) once it has."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        if self.close_worker:
            self.worker.close()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            for _ in range(self.max_batches):
                try:
                    stats = self.worker.deliver_due(self.limit)
                except Exception:
                    log.exception("outbox delivery failed; will retry")
                    break
                if stats.claimed < self.limit or self._stop.is_set():
                    break
            self._stop.wait(self.interval)

    def __enter__(self) -> OutboxRunner:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_delivery(store: Store, settings: Settings, *, clock: Clock | None = None) -> OutboxRunner:
    """A started runner delivering with the senders the settings configure."""
    runner = OutboxRunner(OutboxWorker(store, senders_for(settings), clock=clock))
    runner.start()
    return runner
