"""Audit events on their way to the broker: memory, then a bounded on-disk spool, then a POST.

The request path only appends a tuple to an in-memory queue. A daemon thread turns the queue
into segments, one per cycle, each line one POST body (``{"events": [...]}``, at most 500
events), written to a temporary file, fsynced and renamed into place, so a segment on disk is
always whole. It posts each line to ``/v1/audit/app-events`` as is and deletes the segment
once the broker has all of it. Event ids are fixed before anything is written, so a line sent
again after a crash is appended once. Segments left by a process that died are claimed by the
next one. Nothing is dropped silently: a batch the broker refuses outright is moved aside
(``dead-*.json``) and logged, and when the spool is full the SDK stops admitting
impersonation requests until it drains.

The thread makes few system calls per cycle on purpose: each one releases the GIL, and
getting it back from a busy request thread costs that thread far more than the call.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from pathlib import Path
from typing import Any, NamedTuple

from actas_sdk.client import BrokerClient
from actas_sdk.errors import ActAsError, BrokerError

log = logging.getLogger("actas_sdk.audit")

#: The broker takes at most this many events per POST.
BATCH = 500
#: At most this many events per segment file (one line per POST).
SEGMENT = 50 * BATCH
MAX_BACKOFF = 30.0
_SEGMENT = re.compile(r"^seg-(\d{20})-(\d+)-([0-9a-f]{8})\.json$")
_METHOD = re.compile(r"^[A-Z]{3,7}$")
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True).encode
_quote = encode_basestring_ascii


class Event(NamedTuple):
    """What the request path records: cheap to make, turned into JSON off the request path."""

    kind: str
    session: str
    at: float
    method: str | None = None
    route: str | None = None
    status: int | None = None
    resource: str | None = None
    detail: str | None = None
    suppressed: dict[str, int] | None = None

    def as_json(self, event_id: str) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.encode(event_id))
        return body

    def encode(self, event_id: str) -> str:
        """This event as the broker's JSON, written directly: events are many, so this runs
        for every impersonated request (off the request path, but in its process). The parts
        a session's requests share are encoded once (:func:`_fixed_parts`)."""
        key = (self.session, self.kind, self.method, self.route, self.status)
        parts = _FIXED.get(key)
        if parts is None:
            parts = _fixed_parts(key)
        text = '{"id":"' + event_id + parts[0] + _iso(self.at) + parts[1]
        if self.resource is None and self.detail is None and not self.suppressed:
            return text + "}"
        extra = [text]
        if self.resource is not None:
            extra += (',"resource":', _quote(self.resource[:200]))
        if self.detail is not None:
            extra += (',"detail":', _quote(self.detail[:300]))
        if self.suppressed:
            counts = {k[:40]: int(v) for k, v in list(self.suppressed.items())[:20]}
            extra += (',"suppressed":', _encode(counts))
        extra.append("}")
        return "".join(extra)


#: (session, kind, method, route, status) -> the JSON before and after the event's time
_FIXED: dict[tuple[str, str, str | None, str | None, int | None], tuple[str, str]] = {}


def _fixed_parts(key: tuple[str, str, str | None, str | None, int | None]) -> tuple[str, str]:
    session, kind, method, route, status = key
    head = '","session":' + _quote(session) + ',"kind":' + _quote(kind) + ',"at":"'
    tail = ['"']
    if method is not None:
        tail += (',"method":"', method if _METHOD.match(method) else "OTHER", '"')
    if route is not None:
        tail += (',"route":', _quote(route[:300]))
    if status is not None and 100 <= status <= 599:
        tail += (',"status":', str(int(status)))
    parts = (head, "".join(tail))
    if len(_FIXED) >= 4096:
        _FIXED.clear()
    _FIXED[key] = parts
    return parts


_iso_second: list[tuple[int, str]] = [(-1, "")]


def _iso(at: float) -> str:
    """``at`` as ISO 8601 UTC with microseconds; the seconds part is remembered."""
    second = int(at)
    cached = _iso_second[0]
    if cached[0] != second:
        cached = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        _iso_second[0] = cached
    return f"{cached[1]}.{int((at - second) * 1_000_000):06d}+00:00"


class EventIds:
    """Unique event ids, cheaper than a UUID each: a random per-process prefix (64 bits)
    and a counter (``^[a-f0-9-]{18,36}$``, as the broker wants)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(8) + "-"
        self._next = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> list[str]:
        with self._lock:
            first = self._next
            self._next += count
        return [f"{self._prefix}{n:x}" for n in range(first, first + count)]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """Segment files in one folder; only the shipper thread of each process touches them."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.pid = os.getpid()
        self.instance = secrets.token_hex(4)
        self.bytes = sum(_size(p) for p in directory.glob("seg-*.json"))

    def write(self, events: Sequence[str]) -> bool:
        """Write one segment of encoded events, whole or not at all; False if it does not
        fit. Each line is one POST body of at most :data:`BATCH` events. One file and one
        fsync per call: every system call lets the request thread lose the GIL."""
        lines = [
            '{"events":[' + ",".join(events[i : i + BATCH]) + "]}\n"
            for i in range(0, len(events), BATCH)
        ]
        body = "".join(lines).encode()
        if self.bytes + len(body) > self.max_bytes:
            return False
        name = f"seg-{time.time_ns():020d}-{self.pid}-{self.instance}.json"
        partial = self.directory / f".{name}.partial"
        with partial.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(self.directory / name)
        self.bytes += len(body)
        return True

    def pending(self) -> list[Path]:
        """Our segments and those of dead processes (claimed by renaming), oldest first."""
        found: list[Path] = []
        every = list(self.directory.glob("seg-*.json"))
        self.bytes = sum(_size(path) for path in every)  # the folder's budget, shared
        for path in every:
            match = _SEGMENT.match(path.name)
            if match is None:
                continue
            pid, instance = int(match.group(2)), match.group(3)
            if pid == self.pid and instance == self.instance:
                found.append(path)
            elif (pid == self.pid or not _alive(pid)) and (claimed := self._claim(path, match)):
                found.append(claimed)
        return sorted(found)

    def _claim(self, path: Path, match: re.Match[str]) -> Path | None:
        target = self.directory / f"seg-{match.group(1)}-{self.pid}-{self.instance}.json"
        try:
            path.rename(target)
        except OSError:  # another process claimed it first
            return None
        return target

    def remove(self, path: Path) -> None:
        size = _size(path)
        path.unlink(missing_ok=True)
        self.bytes = max(0, self.bytes - size)

    def bury_raw(self, body: bytes) -> Path:
        dead = self.directory / f"dead-{time.time_ns():020d}-{self.pid}.json"
        dead.write_bytes(body)
        return dead

    def bury(self, events: Sequence[dict[str, Any]], why: str) -> Path:
        """Keep events the broker refused for good where an operator will find them."""
        dead = self.directory / f"dead-{time.time_ns():020d}-{self.pid}.json"
        dead.write_bytes(_encode({"events": list(events)}).encode())
        log.error("audit: the broker refused %d events (%s); kept in %s", len(events), why, dead)
        return dead


class Shipper:
    """The queue, the spool and the thread between them and the broker."""

    def __init__(
        self, client: BrokerClient, spool: Spool, *, interval: float, max_queue: int = 100_000
    ) -> None:
        self._client = client
        self.spool = spool
        self.interval = interval
        self.max_queue = max_queue
        self._queue: deque[Event | str] = deque()
        self._ids = EventIds()
        self._cycle_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.spool_full = False

    @property
    def accepting(self) -> bool:
        """False while events could not be kept: impersonation must pause."""
        return not self.spool_full and len(self._queue) < self.max_queue

    def record(self, event: Event) -> None:
        if len(self._queue) >= self.max_queue:
            self.dropped += 1
            log.error("audit: queue full, an event of session %s was lost", event.session[:40])
            return
        self._queue.append(event)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="actas-audit", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.flush():
            log.warning("audit: events stay in the spool at %s", self.spool.directory)

    def flush(self) -> bool:
        """Spool what is queued and send every segment now; True when all of it reached the
        broker (False: the broker could not take everything; the rest stays spooled)."""
        with self._cycle_lock:
            # Another round only when the spool was full: shipping made room for what memory
            # still holds. Events recorded meanwhile wait for the next flush (chasing them
            # would write a segment, and fsync, per handful of events).
            for _ in range(1000):
                self._spool_queue()
                try:
                    self._ship()
                except ActAsError as exc:
                    log.warning("audit: shipping paused: %s", exc)
                    return False
                if not self.spool_full:
                    return True
            return False

    def _run(self) -> None:
        backoff = self.interval
        while not self._stop.wait(backoff):
            try:
                ok = self.flush()
            except Exception:  # never let the thread die: events would pile up unseen
                log.exception("audit: shipping failed")
                ok = False
            backoff = self.interval if ok else min(max(backoff * 2, 1.0), MAX_BACKOFF)

    def _spool_queue(self) -> None:
        queue = self._queue
        left = len(queue)  # what was there when we started; later events wait their turn
        while left > 0:
            items = [queue.popleft() for _ in range(min(SEGMENT, left))]
            left -= len(items)
            ids = iter(self._ids.take(sum(1 for item in items if not isinstance(item, str))))
            events = [item if isinstance(item, str) else item.encode(next(ids)) for item in items]
            written = self._write_fitting(events)
            if written < len(events):
                # Keep the rest in memory (in order, ids fixed) until the spool drains; admit
                # no new impersonation meanwhile.
                queue.extendleft(reversed(events[written:]))
                if not self.spool_full:
                    log.error(
                        "audit: spool full (%d bytes); impersonation paused", self.spool.bytes
                    )
                self.spool_full = True
                return
        self.spool_full = self.spool.bytes >= self.spool.max_bytes

    def _write_fitting(self, events: list[str]) -> int:
        """Write the longest prefix of ``events`` that fits (halving); how many."""
        count = len(events)
        while count > 0:
            if self.spool.write(events[:count]):
                return count
            count //= 2
        return 0

    def _ship(self) -> None:
        for path in self.spool.pending():
            # A resend of lines the broker already took appends nothing (event ids).
            for body in path.read_bytes().splitlines():
                self._send(path, body)
            self.spool.remove(path)

    def _send(self, path: Path, body: bytes) -> None:
        response = self._client.send_events(body)
        if response.status_code == 200:
            return
        if response.status_code in (401, 403):
            raise BrokerError("audit: the application credential was refused")
        # Refused for good (an unknown session, an invalid field): send each session's events
        # alone, and keep aside only those still refused.
        try:
            events = list(json.loads(body)["events"])
        except (ValueError, KeyError, TypeError):
            log.error("audit: a batch in %s is damaged; kept aside", path.name)
            self.spool.bury_raw(body)
            return
        groups: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            groups.setdefault(str(event.get("session")), []).append(event)
        if len(groups) == 1:
            self.spool.bury(events, f"HTTP {response.status_code}")
            return
        for group in groups.values():
            single = _encode({"events": group}).encode()
            if self._client.send_events(single).status_code != 200:
                self.spool.bury(group, f"HTTP {response.status_code}")
