"""The in-process revocation bus: committed revocations in, one bounded queue per SSE client out.

Revocations arrive from two kinds of thread: the worker that committed one (the unit of work's
after-commit callback) and, on PostgreSQL, the LISTEN thread that hears every replica's. The
same revocation usually arrives both ways, so the bus forgets nothing it has seen recently and
passes each ``seq`` on once.

Subscribers live on an asyncio event loop (the SSE handlers). Each has its own bounded queue,
filled on its own loop through ``call_soon_threadsafe``: one call per loop and revocation, not
per subscriber. A subscriber that falls ``queue_size`` revocations behind is dropped, and its
stream ends: the client reconnects with ``Last-Event-ID`` and catches up from the database,
while nobody else waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from types import TracebackType

from actas.domain.access import Revocation

log = logging.getLogger("actas.revocation")

#: How many revocations a subscriber may fall behind before it is dropped.
DEFAULT_QUEUE_SIZE = 1024
#: How many recent ``seq`` values the bus remembers to drop duplicates.
DEFAULT_REMEMBER = 16_384


class Subscription:
    """One SSE client's feed: iterate it (on its event loop) until it ends.

    It ends when the client closes it, when the bus closes, or when it overflowed; ``dropped``
    then says it was too slow."""

    def __init__(
        self,
        bus: RevocationBus,
        loop: asyncio.AbstractEventLoop,
        application_id: str | None,
        queue_size: int,
    ) -> None:
        self._bus = bus
        self.loop = loop
        self.application_id = application_id
        self._queue: asyncio.Queue[Revocation | None] = asyncio.Queue(maxsize=queue_size)
        self.closed = False
        self.dropped = False

    def wants(self, revocation: Revocation) -> bool:
        return self.application_id is None or revocation.application_id == self.application_id

    # --- on the subscriber's loop -----------------------------------------------------------

    def _offer(self, revocation: Revocation) -> None:
        if self.closed:
            return
        try:
            self._queue.put_nowait(revocation)
        except asyncio.QueueFull:
            log.warning("revocation subscriber fell %d behind; dropping it", self._queue.maxsize)
            self.dropped = True
            self._end()

    def _end(self) -> None:
        """Stop now: forget the backlog (the client will catch up) and wake the reader."""
        if self.closed:
            return
        self.closed = True
        self._bus._forget(self)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    async def get(self) -> Revocation | None:
        """The next revocation, or None once the subscription has ended."""
        if self.closed and self._queue.empty():
            return None
        return await self._queue.get()

    def __aiter__(self) -> AsyncIterator[Revocation]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Revocation]:
        while (revocation := await self.get()) is not None:
            yield revocation

    def close(self) -> None:
        """End the subscription; safe to call from any thread, and more than once."""
        if self.closed:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self._end()
            return
        self._bus._forget(self)
        try:
            self.loop.call_soon_threadsafe(self._end)
        except RuntimeError:  # the loop is closed: nobody is reading any more
            self.closed = True

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class RevocationBus:
    """Implements :class:`actas.domain.ports.RevocationPublisher` for this process."""

    def __init__(
        self, *, queue_size: int = DEFAULT_QUEUE_SIZE, remember: int = DEFAULT_REMEMBER
    ) -> None:
        if queue_size < 1 or remember < 1:
            raise ValueError("queue_size and remember must be positive")
        self.queue_size = queue_size
        self._lock = threading.Lock()
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self._remember = remember
        self._highest = 0
        self._subscribers: dict[asyncio.AbstractEventLoop, set[Subscription]] = {}

    @property
    def highest_seq(self) -> int:
        """The highest ``seq`` published so far (0 before the first)."""
        with self._lock:
            return self._highest

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(subs) for subs in self._subscribers.values())

    def publish(self, revocation: Revocation) -> None:
        """Pass a committed revocation to every interested subscriber, once per ``seq``.

        Thread-safe and never blocks on a subscriber."""
        with self._lock:
            if revocation.seq in self._seen:
                return
            self._seen.add(revocation.seq)
            self._order.append(revocation.seq)
            if len(self._order) > self._remember:
                self._seen.discard(self._order.popleft())
            self._highest = max(self._highest, revocation.seq)
            targets = [
                (loop, [s for s in subs if s.wants(revocation)])
                for loop, subs in self._subscribers.items()
            ]
        for loop, subs in targets:
            if not subs:
                continue
            try:
                loop.call_soon_threadsafe(_deliver, subs, revocation)
            except RuntimeError:  # that loop has closed: its subscribers are gone
                with self._lock:
                    self._subscribers.pop(loop, None)

    def subscribe(self, application_id: str | None = None) -> Subscription:
        """A new subscription on the running event loop, for one application (None: all).

        Subscribe *before* reading the catch-up from the database, so that nothing committed
        in between is missed (the reader drops the duplicates by ``seq``)."""
        loop = asyncio.get_running_loop()
        subscription = Subscription(self, loop, application_id, self.queue_size)
        with self._lock:
            self._subscribers.setdefault(loop, set()).add(subscription)
        return subscription

    def close(self) -> None:
        """End every subscription (their streams finish; clients reconnect elsewhere)."""
        with self._lock:
            subs = [s for group in self._subscribers.values() for s in group]
        for subscription in subs:
            subscription.close()

    def _forget(self, subscription: Subscription) -> None:
        with self._lock:
            group = self._subscribers.get(subscription.loop)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._subscribers[subscription.loop]


def _deliver(subscribers: list[Subscription], revocation: Revocation) -> None:
    for subscription in subscribers:
        subscription._offer(revocation)
