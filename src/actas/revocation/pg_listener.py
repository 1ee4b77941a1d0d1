"""PostgreSQL LISTEN/NOTIFY: every broker replica hears every other replica's revocations.

A revocation's ``pg_notify`` is sent in the transaction that records it, so PostgreSQL delivers
it to every listening replica when, and only if, it commits. One daemon thread per process
holds its own autocommit connection (outside the SQLAlchemy pool), listens, and publishes what
it hears on the process's :class:`~actas.revocation.bus.RevocationBus`.

A notification sent while the connection is down is lost to it, so after every reconnect the
listener reads the recent revocations back from the table and publishes them too; the bus
drops those it has already passed on. Only ever started on PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import os
import random
import selectors
import threading
from collections.abc import Callable
from datetime import datetime

import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from actas.domain.access import Revocation
from actas.domain.errors import Unavailable
from actas.revocation.bus import RevocationBus
from actas.store.session_repos import REVOCATION_CHANNEL

log = logging.getLogger("actas.revocation")

#: How far below the highest ``seq`` already seen a catch-up reads back. Covers revocations
#: that committed out of ``seq`` order while the connection was down; the bus drops repeats.
CATCH_UP_LOOKBACK = 1000

Backlog = Callable[[int], list[Revocation]]


def libpq_url(sqlalchemy_url: str) -> str:
    """``postgresql+psycopg://...`` (SQLAlchemy) to ``postgresql://...`` (libpq)."""
    url = make_url(sqlalchemy_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError("the revocation listener needs a PostgreSQL database URL")
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def parse_payload(payload: str) -> Revocation:
    """The inverse of :meth:`actas.domain.access.Revocation.payload`."""
    data = json.loads(payload)
    return Revocation(
        seq=int(data["seq"]),
        session_id=str(data["session"]),
        application_id=str(data["application"]),
        reason=str(data["reason"]),
        at=datetime.fromisoformat(data["at"]),
        session_expires_at=datetime.fromisoformat(data["session_expires_at"]),
    )


class PgRevocationListener:
    """``start()`` once, ``stop()`` once. ``backlog(after_seq)`` reads committed revocations
    (the catch-up after a reconnect)."""

    def __init__(
        self,
        database_url: str,
        bus: RevocationBus,
        *,
        backlog: Backlog,
        health_interval: float = 30.0,
        max_backoff: float = 30.0,
        connect_timeout: int = 5,
    ) -> None:
        self._conninfo = libpq_url(database_url)
        self._bus = bus
        self._backlog = backlog
        self._health_interval = health_interval
        self._max_backoff = max_backoff
        self._connect_timeout = connect_timeout
        self._stopping = threading.Event()
        self._listening = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(
            target=self._run, name="actas-revocation-listener", daemon=True
        )
        #: Successful connections so far (more than one means it reconnected).
        self.connections = 0
        #: Revocations published from notifications and from catch-ups.
        self.received = 0
        self.caught_up = 0

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def start(self) -> None:
        self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """Block until the first LISTEN is in place (or ``timeout`` passes); True if it is."""
        return self._listening.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread promptly: it is woken through a pipe, not by a polling timeout."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        os.write(self._wake_w, b"x")
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():  # pragma: no cover - stuck in connect(); it is a daemon
            log.warning("revocation listener did not stop within %.1fs", timeout)
            return
        os.close(self._wake_r)
        os.close(self._wake_w)

    # --- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                self._session()
                backoff = 0.1
            except (psycopg.Error, SQLAlchemyError, OSError, Unavailable) as exc:
                self._listening.clear()
                if self._stopping.is_set():
                    break
                delay = backoff * (1 + random.random())  # noqa: S311 - jitter, not a secret
                log.warning(
                    "revocation listener lost PostgreSQL (%s); reconnecting in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                if self._stopping.wait(delay):
                    break
                backoff = min(backoff * 2, self._max_backoff)
            except Exception:  # a bug, not an outage: keep listening, but say so loudly
                self._listening.clear()
                log.exception("revocation listener failed; restarting it")
                if self._stopping.wait(1.0):
                    break
        self._listening.clear()

    def _session(self) -> None:
        """One connection's life: LISTEN, catch up, then wait for notifications or the wake
        pipe. Returns when stopping; raises when the connection fails."""
        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
            application_name="actas-revocation-listener",
        ) as conn:
            conn.execute(f"LISTEN {REVOCATION_CHANNEL}")
            self.connections += 1
            reconnect = self.connections > 1
            # LISTEN is in place before the read, so nothing committed from now on is missed.
            if reconnect or self._bus.subscriber_count:
                self._catch_up()
            self._listening.set()
            if reconnect:
                log.info("revocation listener reconnected")
            with selectors.DefaultSelector() as selector:
                selector.register(conn.fileno(), selectors.EVENT_READ, "db")
                selector.register(self._wake_r, selectors.EVENT_READ, "wake")
                while not self._stopping.is_set():
                    # Drain what has arrived, including any noticed during other commands.
                    for notify in conn.notifies(timeout=0):
                        self._publish_payload(notify.payload)
                    if conn.broken or conn.closed:
                        raise psycopg.OperationalError("the listener connection was closed")
                    ready = selector.select(self._health_interval)
                    if any(key.data == "wake" for key, _ in ready):
                        return
                    if not ready:
                        conn.execute("SELECT 1")  # a silent network loss shows up here

    def _catch_up(self) -> None:
        after = max(0, self._bus.highest_seq - CATCH_UP_LOOKBACK)
        for revocation in self._backlog(after):
            self.caught_up += 1
            self._bus.publish(revocation)

    def _publish_payload(self, payload: str) -> None:
        try:
            revocation = parse_payload(payload)
        except (ValueError, KeyError, TypeError):
            log.error("ignored a malformed revocation notification: %.200r", payload)
            return
        self.received += 1
        self._bus.publish(revocation)


def start_listener(
    database_url: str, bus: RevocationBus, backlog: Backlog, *, wait: float = 5.0
) -> PgRevocationListener:
    """Start listening on the database and wait (up to ``wait`` seconds) until the first
    LISTEN is in place, so that streams opened from now on miss nothing. ``backlog(after)``
    reads the committed revocations after ``after`` (the catch-up after a reconnect)."""
    listener = PgRevocationListener(database_url, bus, backlog=backlog)
    listener.start()
    if not listener.wait_listening(wait):
        log.warning("revocation listener not connected after %.0fs; it keeps trying", wait)
    return listener
