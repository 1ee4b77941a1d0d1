"""Verified tokens as the request path keeps them, and their refresh: a fresh token for a
session is fetched once per process however many requests ask for it at the same moment."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from actas_sdk import errors
from actas_sdk._cookie import SEPARATOR, Sealed
from actas_sdk.client import Grant
from actas_sdk.context import ImpersonationContext
from actas_sdk.verify import Verified

if TYPE_CHECKING:
    from actas_sdk._runtime import ActAs

#: After a refresh failed because the broker was unreachable, wait this long before the next.
REFRESH_RETRY_SECONDS = 5.0
_MAX_TRACKED_SESSIONS = 10_000


@dataclass(frozen=True, slots=True)
class Admission:
    """An impersonation admitted for one request."""

    context: ImpersonationContext
    #: a ``Set-Cookie`` value to send with the response (the token was refreshed)
    set_cookie: str | None = None


@dataclass(slots=True)
class Entry:
    """A verified token as the request path needs it."""

    context: ImpersonationContext
    exp: float
    refresh_due: float
    sealed: Sealed | None = None
    #: the admission of a request that finds this entry and needs no refresh: made once
    admission: Admission = field(init=False)

    def __post_init__(self) -> None:
        self.admission = Admission(self.context)


def entry_of(verified: Verified, sealed: Sealed | None, refresh_before: float) -> Entry:
    """The cache entry of a verified token; the names and hard expiry come from the sealed
    part of the cookie (never from the token)."""
    context = verified.context
    if sealed is not None:
        context = replace(
            context,
            session_expires_at=datetime.fromtimestamp(sealed.session_expires_at, UTC),
            actor_name=sealed.actor_name,
            subject_name=sealed.subject_name,
        )
    return Entry(context, verified.exp, verified.exp - refresh_before, sealed)


class Refresher:
    """One lock per session (bounded), and the newest cookie value each refresh produced."""

    def __init__(self) -> None:
        self._refreshing: OrderedDict[str, tuple[threading.Lock, str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def _slot(self, session_id: str) -> tuple[threading.Lock, str | None]:
        with self._lock:
            slot = self._refreshing.get(session_id)
            if slot is None:
                slot = (threading.Lock(), None)
                self._refreshing[session_id] = slot
                while len(self._refreshing) > _MAX_TRACKED_SESSIONS:
                    self._refreshing.popitem(last=False)
            return slot

    def refresh(
        self, actas: ActAs, value: str, entry: Entry, now: float
    ) -> tuple[ImpersonationContext, str | None]:
        """The context to admit and the ``Set-Cookie`` value carrying the fresh token."""
        assert entry.sealed is not None
        session_id = entry.context.session_id
        lock, _ = self._slot(session_id)
        with lock:
            _, latest = self._refreshing.get(session_id, (lock, None))
            if latest is not None and latest != value:
                newer = actas.cache.get(latest)
                if newer is not None and newer.refresh_due > now:
                    return newer.context, self.set_cookie(actas, latest, newer, now)
            try:
                grant = actas.client.refresh(session_id, entry.sealed.refresh_handle)
            except errors.GrantRejected as exc:
                actas.feed.revoke_locally(
                    session_id, until=entry.sealed.session_expires_at, reason="refresh refused"
                )
                actas.cache.discard(value)
                raise errors.SessionEnded(f"the broker ended the session: {exc.message}") from exc
            except errors.BrokerError:
                if entry.exp > now - actas.config.leeway_seconds:
                    entry.refresh_due = now + REFRESH_RETRY_SECONDS  # keep going, retry later
                    return entry.context, None
                raise
            new_value, new_entry = self.adopt(
                actas, grant, entry.sealed.refresh_handle, now, entry.sealed
            )
            if new_entry.context.session_id != session_id:
                raise errors.BrokerError("the broker refreshed a different session")
            with self._lock:
                self._refreshing[session_id] = (lock, new_value)
            actas.cache.discard(value)
            return new_entry.context, self.set_cookie(actas, new_value, new_entry, now)

    def adopt(
        self, actas: ActAs, grant: Grant, handle: str, now: float, before: Sealed | None = None
    ) -> tuple[str, Entry]:
        """Verify a token the broker just gave us and make it a cookie value. The names
        come from this answer, else from the cookie it refreshes."""
        verified = actas.verifier.verify(grant.access_token, now)
        sealed = Sealed(
            handle,
            grant.session_expires_at.timestamp(),
            grant.actor_name or (before.actor_name if before else None),
            grant.subject_name or (before.subject_name if before else None),
        )
        value = grant.access_token + SEPARATOR + actas.cookies.seal(grant.session_id, sealed)
        entry = entry_of(verified, sealed, actas.config.refresh_before_seconds)
        actas.cache.put(value, entry)
        return value, entry

    @staticmethod
    def set_cookie(actas: ActAs, value: str, entry: Entry, now: float) -> str:
        assert entry.sealed is not None
        return actas.cookies.set_header(value, int(entry.sealed.session_expires_at - now))
