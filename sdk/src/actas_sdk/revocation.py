"""Following the broker's revocation stream in a daemon thread.

The thread keeps one server-sent-events connection open (``GET /v1/revocations``), records
every revoked session until its hard expiry, and reconnects with backoff, sending
``Last-Event-ID`` so that it catches up on what it missed. Every line received (events and
keep-alive pings alike) proves the feed alive; when it has been silent for longer than the
staleness limit the SDK fails closed (:meth:`RevocationFeed.check` raises
:class:`~actas_sdk.errors.FeedStale`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from actas_sdk.client import BrokerClient
from actas_sdk.errors import ActAsError, BrokerUnavailable, FeedStale, SessionRevoked

log = logging.getLogger("actas_sdk.revocation")

#: Seconds a revocation is kept past its session's hard expiry (tokens allow clock leeway).
KEEP_AFTER_EXPIRY = 120.0
#: Longest wait between reconnection attempts.
MAX_BACKOFF = 10.0
#: How the broker refuses a Last-Event-ID it does not know: 422 (invalid input); 400 from
#: an older broker or a proxy that rewrites it.
RESUME_REFUSED = frozenset({400, 422})
#: How many lines a stream may send without a blank line (an event) before it is dropped.
MAX_EVENT_LINES = 64


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class RevocationFeed:
    """The set of revoked sessions, kept current by a background thread."""

    def __init__(
        self,
        client: BrokerClient,
        *,
        clock: Callable[[], float],
        staleness: float,
        initial_backoff: float = 0.5,
        first: Callable[[], object] | None = None,
    ) -> None:
        self._client = client
        #: run once in the thread before the first connection (the SDK fetches the JWKS)
        self._first = first
        self._clock = clock
        self.staleness = staleness
        self._initial_backoff = initial_backoff
        #: session id -> (time until which to remember it, reason)
        self._revoked: dict[str, tuple[float, str]] = {}
        self.last_event_id: str | None = None
        self._last_contact: float | None = None
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: httpx.Response | None = None
        self._lock = threading.Lock()
        self._last_prune = 0.0
        #: how many times the stream was (re)connected, and whether it is now
        self.connections = 0
        self.connected = False
        self._changed = threading.Condition()

    # --- the request path ---------------------------------------------------------------------

    def check(self, session_id: str, now: float) -> None:
        """Raise unless the session is unrevoked and the feed fresh."""
        entry = self._revoked.get(session_id)
        if entry is not None:
            raise SessionRevoked(session_id, entry[1])
        last = self._last_contact
        if last is None:  # set once the first catch-up is complete (``: ready``), never unset
            raise FeedStale(None, self.staleness)
        if now - last > self.staleness:
            raise FeedStale(now - last, self.staleness)

    def is_revoked(self, session_id: str) -> bool:
        return session_id in self._revoked

    @property
    def last_contact(self) -> float | None:
        """When (SDK clock) the feed last proved alive, or None before its first catch-up."""
        return self._last_contact

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        """Block until the first catch-up is complete (or ``timeout`` seconds pass)."""
        return self._synced.wait(timeout)

    def revoke_locally(self, session_id: str, *, until: float, reason: str) -> None:
        """Remember an end this process saw itself (End button, refused refresh)."""
        with self._lock:
            self._revoked[session_id] = (until + KEEP_AFTER_EXPIRY, reason)

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds after a change of the feed (tests use this)."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)

    # --- the thread ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="actas-revocations", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._interrupt()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the revocation thread did not stop within %.1f s", timeout)

    def _interrupt(self) -> None:
        """Wake the thread out of a blocking read: shut the socket down, close the stream."""
        response = self._response
        if response is None:
            return
        stream = response.extensions.get("network_stream")
        if stream is not None:
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(httpx.HTTPError, RuntimeError, OSError):
            response.close()

    def _run(self) -> None:
        if self._first is not None:
            try:
                self._first()
            except ActAsError as exc:
                log.warning("revocation feed: start-up step failed: %s", exc)
        backoff = self._initial_backoff
        while not self._stop.is_set():
            try:
                if self._follow():
                    backoff = self._initial_backoff
            except ActAsError as exc:
                log.warning("revocation feed: %s", exc)
            except Exception:  # never let the thread die: the SDK would go stale for good
                log.exception("revocation feed failed")
            self._notify()
            if self._stop.wait(backoff * random.uniform(0.8, 1.2)):  # noqa: S311 (jitter)
                break
            backoff = min(backoff * 2, MAX_BACKOFF)

    def _follow(self) -> bool:
        """One connection: True if it reached the end of a catch-up."""
        reached_ready = False
        read_timeout = max(self.staleness, 20.0)
        with self._client.revocation_stream(
            self.last_event_id, read_timeout=read_timeout
        ) as response:
            if response.status_code in RESUME_REFUSED and self.last_event_id is not None:
                # The broker does not know our resume point (a restored database): start over.
                log.warning("revocation feed: resume point refused; fetching a full snapshot")
                self.last_event_id = None
                return True
            if response.status_code != 200:
                raise BrokerUnavailable(f"revocation stream answered {response.status_code}")
            self._response = response
            self.connections += 1
            self.connected = True
            self._notify()
            try:
                fields: dict[str, str] = {}
                lines = 0
                for line in response.iter_lines():
                    if self._stop.is_set():
                        break
                    if reached_ready:
                        self._last_contact = self._clock()
                        self._notify()
                    if line == "":
                        if fields:
                            self._dispatch(fields)
                        fields, lines = {}, 0
                        continue
                    lines += 1
                    if lines > MAX_EVENT_LINES:
                        raise BrokerUnavailable("revocation stream sent an endless event")
                    if line.startswith(":"):
                        if line[1:].strip() == "ready":
                            reached_ready = True
                            self._last_contact = self._clock()
                            self._synced.set()
                            self._notify()
                        continue
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
            except httpx.HTTPError as exc:
                if not self._stop.is_set():
                    raise BrokerUnavailable(
                        f"revocation stream broke: {type(exc).__name__}"
                    ) from exc
            finally:
                self._response = None
                self.connected = False
        return reached_ready

    def _dispatch(self, fields: dict[str, str]) -> None:
        if fields.get("event", "message") != "revocation" or "data" not in fields:
            return
        try:
            data: Any = json.loads(fields["data"])
        except ValueError:
            log.warning("revocation feed: an event that is not JSON was skipped")
            return
        session = data.get("session") if isinstance(data, dict) else None
        if not isinstance(session, str) or not session:
            return
        expires = _timestamp(data.get("session_expires_at"))
        now = self._clock()
        until = (expires if expires is not None else now + 86400) + KEEP_AFTER_EXPIRY
        reason = str(data.get("reason", "revoked"))[:80]
        with self._lock:
            self._revoked[session] = (until, reason)
            if (event_id := fields.get("id")) and event_id.isascii() and event_id.isdigit():
                self.last_event_id = event_id
            if now - self._last_prune > 60:
                self._last_prune = now
                self._revoked = {s: e for s, e in self._revoked.items() if e[0] > now}
        self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()
