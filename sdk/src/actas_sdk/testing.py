"""Helpers for your application's own tests, in the spirit of ``structlog.testing``.

- :class:`FakeBroker`: a signing key, its JWKS, a token minter and the broker endpoints the
  SDK calls (handoff, refresh, End, revocation stream, audit events), as an ``httpx``
  transport, so an app's tests run the real SDK without a broker;
- :func:`impersonating`: run a block as an impersonation, without any token.
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actas_sdk._config import Config
from actas_sdk._fake_links import FakeLinks
from actas_sdk.context import Frame, ImpersonationContext, activated

__all__ = ["FakeBroker", "FakeSession", "impersonating"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


@contextmanager
def impersonating(
    *,
    subject: str = "u-1",
    actor: str = "staff-1",
    account: str = "acct-1",
    scopes: tuple[str, ...] = ("read",),
    session_id: str = "00000000-0000-4000-8000-000000000001",
    minutes: int = 5,
) -> Iterator[Frame]:
    """Run the block as if ``actor`` were acting as ``subject``: ``current_impersonation()``,
    ``suppressed()`` and the suppressors behave as during a real impersonated request. The
    yielded frame holds what the code reported (``frame.suppressed``, ``frame.resource``)."""
    context = ImpersonationContext(
        subject=subject,
        account=account,
        actor=actor,
        session_id=session_id,
        scopes=frozenset(scopes),
        expires_at=datetime.now(UTC) + timedelta(minutes=minutes),
        token_id=str(uuid.uuid4()),
        actors=(actor,),
        via="test",
    )
    with activated(context) as frame:
        yield frame


@dataclass
class FakeSession:
    id: str
    subject: str
    actor: str
    account: str
    scopes: tuple[str, ...]
    expires_at: float
    refresh_handle: str
    ended: str | None = None
    refreshes: int = 0
    actor_name: str | None = None
    subject_name: str | None = None
    kind: str = "impersonate"


@dataclass
class _Revocation:
    seq: int
    session: str
    reason: str
    at: float
    session_expires_at: float

    def sse(self) -> bytes:
        data = {
            "seq": self.seq,
            "session": self.session,
            "application": "",
            "reason": self.reason,
            "at": _iso(self.at),
            "session_expires_at": _iso(self.session_expires_at),
        }
        return f"event: revocation\nid: {self.seq}\ndata: {json.dumps(data)}\n\n".encode()


@dataclass
class _Stream(httpx.SyncByteStream):
    broker: FakeBroker
    after: int
    closed: bool = False
    generation: int = field(default=0)

    def __iter__(self) -> Iterator[bytes]:
        broker = self.broker
        with broker._changed:
            self.generation = broker._generation
            pending = [r for r in broker.revocations if r.seq > self.after]
        for revocation in pending:
            yield revocation.sse()
        yield b": ready\n\n"
        sent = max([self.after, *(r.seq for r in pending)])
        while True:
            with broker._changed:
                pings = broker._pings
                broker._changed.wait_for(functools.partial(self._woken, sent, pings), 1.0)
                if self.closed or broker._generation != self.generation:
                    return
                fresh = [r for r in broker.revocations if r.seq > sent]
            for revocation in fresh:
                yield revocation.sse()
                sent = revocation.seq
            if not fresh:
                yield b": ping\n\n"

    def _woken(self, sent: int, pings: int) -> bool:
        broker = self.broker
        return (
            self.closed
            or broker._generation != self.generation
            or broker._pings != pings
            or bool(broker.revocations and broker.revocations[-1].seq > sent)
        )

    def close(self) -> None:
        with self.broker._changed:
            self.closed = True
            self.broker._changed.notify_all()


class FakeBroker:
    """A broker in memory. Every SDK call goes through :meth:`transport`.

    :param clock: epoch seconds, shared with the :class:`~actas_sdk.ActAs` under test.
    """

    def __init__(
        self,
        application_id: str = "notes",
        *,
        issuer: str = "https://broker.test",
        credential: str = "actas_ak_test-credential",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.application_id = application_id
        self.issuer = issuer
        self.credential = credential
        self.clock = clock
        self.key = Ed25519PrivateKey.generate()
        self.kid = "test-" + secrets.token_hex(4)
        self.sessions: dict[str, FakeSession] = {}
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (session, handoff url)
        self.revocations: list[_Revocation] = []
        #: every audit event the SDK shipped, once each
        self.events: list[dict[str, Any]] = []
        self._event_ids: set[str] = set()
        #: every (method, path) the SDK called
        self.calls: list[tuple[str, str]] = []
        #: the Last-Event-ID of every revocation stream request (None: from the start)
        self.resumed_from: list[str | None] = []
        #: False: every call fails to connect (a broker outage)
        self.available = True
        #: False: audit batches are acknowledged unread (benchmarks: a real broker's work
        #: happens in another process)
        self.record_events = True
        #: one-time links: ``add_subject`` then read ``links.outbox`` for the emailed token
        self.links = FakeLinks()
        self._changed = threading.Condition()
        self._generation = 0
        self._pings = 0

    # --- keys and tokens ------------------------------------------------------------------------

    @property
    def jwks(self) -> dict[str, Any]:
        raw = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64(raw),
                    "kid": self.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                }
            ]
        }

    def claims(
        self,
        *,
        subject: str = "u-1",
        actor: str = "staff-1",
        account: str = "acct-1",
        scopes: tuple[str, ...] = ("read",),
        session_id: str | None = None,
        ttl: int = 300,
        now: float | None = None,
        kind: str = "impersonate",
    ) -> dict[str, Any]:
        issued = int(self.clock() if now is None else now)
        return {
            "iss": self.issuer,
            "aud": self.application_id,
            "sub": subject,
            "act": {"sub": actor},
            "sid": session_id or str(uuid.uuid4()),
            "scope": " ".join(scopes),
            "acct": account,
            "kind": kind,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl,
            "jti": str(uuid.uuid4()),
        }

    def sign(self, claims: Mapping[str, Any], headers: Mapping[str, Any] | None = None) -> str:
        """Sign any claims with the broker's key (``typ`` and ``kid`` set unless overridden)."""
        return jwt.encode(
            dict(claims),
            self.key,
            algorithm="EdDSA",
            headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})},
        )

    def mint(self, **kwargs: Any) -> str:
        """A valid actor token; keyword arguments as :meth:`claims`."""
        return self.sign(self.claims(**kwargs))

    # --- sessions -------------------------------------------------------------------------------

    def handoff(
        self,
        *,
        subject: str = "u-1",
        actor: str = "staff-1",
        account: str = "acct-1",
        scopes: tuple[str, ...] = ("read",),
        minutes: int = 15,
        handoff_url: str | None = None,
        actor_name: str | None = None,
        subject_name: str | None = None,
        kind: str = "impersonate",
    ) -> str:
        """Open a session and return its one-time handoff code."""
        session = FakeSession(
            id=str(uuid.uuid4()),
            subject=subject,
            actor=actor,
            account=account,
            scopes=scopes,
            expires_at=self.clock() + minutes * 60,
            refresh_handle="actas_rh_" + secrets.token_urlsafe(24),
            actor_name=actor_name,
            subject_name=subject_name,
            kind=kind,
        )
        code = "actas_hc_" + secrets.token_urlsafe(24)
        with self._changed:
            self.sessions[session.id] = session
            self.codes[code] = (session.id, handoff_url or "")
        return code

    def session_token(self, session: FakeSession) -> tuple[str, float]:
        now = self.clock()
        exp = min(int(now) + 300, int(session.expires_at))
        claims = self.claims(
            subject=session.subject,
            actor=session.actor,
            account=session.account,
            scopes=session.scopes,
            session_id=session.id,
            now=now,
            kind=session.kind,
        )
        claims["exp"] = exp
        return self.sign(claims), exp

    def revoke(self, session_id: str, reason: str = "revoked") -> None:
        """End a session; the revocation goes out on every open stream."""
        with self._changed:
            session = self.sessions.get(session_id)
            expires = session.expires_at if session else self.clock() + 3600
            if session is not None:
                session.ended = reason
            seq = len(self.revocations) + 1
            self.revocations.append(_Revocation(seq, session_id, reason, self.clock(), expires))
            self._changed.notify_all()

    def ping(self) -> None:
        """Send a keep-alive on every open stream now (after moving a test clock on)."""
        with self._changed:
            self._pings += 1
            self._changed.notify_all()

    def drop_streams(self) -> None:
        """Cut every open revocation stream (the SDK reconnects)."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def session_for_subject(self, subject: str) -> FakeSession:
        return next(s for s in self.sessions.values() if s.subject == subject)

    # --- the SDK's side ---------------------------------------------------------------------------

    def config(
        self, *, handoff_url: str = "http://testserver/actas/handoff", **overrides: Any
    ) -> Config:
        """A :class:`~actas_sdk.Config` pointing at this broker."""
        values: dict[str, Any] = {
            "broker_url": self.issuer,
            "application_id": self.application_id,
            "credential": self.credential,
            "handoff_url": handoff_url,
            **overrides,
        }
        return Config(**values)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._changed:
            self.calls.append((request.method, path))
        if not self.available:
            raise httpx.ConnectError("the fake broker is down", request=request)
        if path == "/.well-known/jwks.json":
            return httpx.Response(200, json=self.jwks)
        if request.headers.get("authorization") != f"Bearer {self.credential}":
            return _problem(401, "unauthenticated", "the application credential is wrong")
        if path == "/v1/revocations":
            return self._revocations(request)
        if path == "/v1/audit/app-events" and not self.record_events:
            return self._events({})
        body: Any = json.loads(request.content or b"{}")
        if path == "/v1/handoff/redeem":
            return self._redeem(body)
        if path.startswith("/v1/sessions/") and path.endswith("/refresh"):
            return self._refresh(path.split("/")[3], body)
        if path.startswith("/v1/sessions/") and path.endswith("/app-end"):
            return self._end(path.split("/")[3], body)
        if path == "/v1/audit/app-events":
            return self._events(body)
        if path in ("/v1/links", "/v1/links/redeem"):
            act = self.links.issue if path == "/v1/links" else self.links.redeem
            status, code, answer = act(body, self.clock())
            if code:
                return _problem(status, code, code.replace("_", " "))
            if "expires_at" not in answer and status == 202:
                answer["expires_at"] = _iso(self.clock() + 900)
            return httpx.Response(status, json=answer)
        return _problem(404, "not_found", path)

    def add_subject(self, subject_id: str) -> None:
        """A subject with a verified email: links may be issued for it."""
        self.links.subjects.add(subject_id)

    def last_link(self, subject_id: str) -> str:
        """The token of the newest link emailed to ``subject_id`` (what the customer clicks)."""
        return next(
            link.token for link in reversed(self.links.outbox) if link.subject == subject_id
        )

    def _grant(self, session: FakeSession, *, with_handle: bool) -> httpx.Response:
        token, exp = self.session_token(session)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(exp - self.clock()),
            "expires_at": _iso(exp),
            "session": session.id,
            "session_expires_at": _iso(session.expires_at),
        }
        if session.subject_name:
            body["subject_name"] = session.subject_name
        if with_handle:
            body["refresh_handle"] = session.refresh_handle
            if session.actor_name:
                body["actor_name"] = session.actor_name
        return httpx.Response(200, json=body)

    def _redeem(self, body: dict[str, Any]) -> httpx.Response:
        with self._changed:
            found = self.codes.pop(str(body.get("code")), None)
        if found is None:
            return _problem(
                400, "invalid_grant", "the handoff code is unknown, used, expired or not yours"
            )
        session_id, url = found
        if url and url != body.get("handoff_url"):
            return _problem(400, "invalid_grant", "the handoff URL does not match")
        session = self.sessions[session_id]
        if session.ended or session.expires_at <= self.clock():
            return _problem(400, "invalid_grant", "the session has ended")
        return self._grant(session, with_handle=True)

    def _live(self, session_id: str, body: dict[str, Any]) -> FakeSession | None:
        session = self.sessions.get(session_id)
        if (
            session is None
            or session.ended
            or session.expires_at <= self.clock()
            or body.get("refresh_handle") != session.refresh_handle
        ):
            return None
        return session

    def _refresh(self, session_id: str, body: dict[str, Any]) -> httpx.Response:
        session = self._live(session_id, body)
        if session is None:
            return _problem(400, "invalid_grant", "the session has ended")
        session.refreshes += 1
        return self._grant(session, with_handle=False)

    def _end(self, session_id: str, body: dict[str, Any]) -> httpx.Response:
        session = self._live(session_id, body)
        if session is None:
            return _problem(400, "invalid_grant", "the session or handle is not valid")
        self.revoke(session_id, "ended_by_staff")
        return httpx.Response(200, json={"id": session_id, "end_reason": "ended_by_staff"})

    def _events(self, body: dict[str, Any]) -> httpx.Response:
        if not self.record_events:
            return httpx.Response(200, json={"received": 0, "appended": 0})
        events = body.get("events")
        if not isinstance(events, list) or not 0 < len(events) <= 500:
            return _problem(422, "invalid_input", "events must be a list of 1 to 500")
        for event in events:
            if event.get("session") not in self.sessions:
                return _problem(404, "not_found", f"no session {event.get('session')}")
        appended = 0
        with self._changed:
            for event in events:
                if event["id"] not in self._event_ids:
                    self._event_ids.add(event["id"])
                    self.events.append(event)
                    appended += 1
            self._changed.notify_all()
        return httpx.Response(200, json={"received": len(events), "appended": appended})

    def _revocations(self, request: httpx.Request) -> httpx.Response:
        last = request.headers.get("last-event-id")
        self.resumed_from.append(last)
        after = int(last) if last and last.isascii() and last.isdigit() else 0
        if after > len(self.revocations):
            # As the broker answers (its InvalidInput): 422 with a problem document.
            return _problem(422, "invalid_input", "unknown Last-Event-ID")
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream"},
            stream=_Stream(self, after),
        )

    def wait_for_events(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
    ) -> bool:
        """Block until ``predicate(events)`` holds (events arrive from the SDK's thread)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.events), timeout)


def _problem(status: int, code: str, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"content-type": "application/problem+json"},
        json={"type": f"https://actas.dev/problems/{code}", "status": status, "detail": detail},
    )
