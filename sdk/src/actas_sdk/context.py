"""Who is acting for whom, for the length of one request or job (contextvars).

The middleware opens a frame per impersonated request; application code reads it anywhere
below through :func:`current_impersonation`, names the resource it works on and counts the
side effects it skipped. Outside impersonation every helper is a cheap no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from datetime import datetime

from actas_sdk.errors import Refused


@dataclass(frozen=True, slots=True)
class ImpersonationContext:
    """A verified actor token, as the application sees it. Immutable."""

    #: the customer's user the staff member acts as (``sub``)
    subject: str
    #: the customer's tenant (``acct``)
    account: str
    #: the staff member acting (``act.sub``)
    actor: str
    #: the support session (``sid``): every audit event carries it
    session_id: str
    #: what the session may do: ``read``, ``write``, ``admin:<action>``, finer app scopes
    scopes: frozenset[str]
    #: when this token expires (UTC); the SDK refreshes it while the session lives
    expires_at: datetime
    #: the token's ``jti``
    token_id: str
    #: the session's hard expiry when known (cookie sessions), else None
    session_expires_at: datetime | None = None
    #: the staff member's display name, for the banner (cookie sessions), else None
    actor_name: str | None = None
    #: the customer's display name, for the banner (cookie sessions, when the broker sends
    #: it), else None: show ``subject`` then
    subject_name: str | None = None
    #: the whole RFC 8693 ``act`` chain, the current actor first
    actors: tuple[str, ...] = ()
    #: how the token arrived: ``cookie``, ``bearer``, ``job`` or ``test``
    via: str = "cookie"
    #: the token itself, for propagation to your services and jobs; never logged
    token: str = field(default="", repr=False, compare=False)
    #: ``impersonate`` (staff see the app as ``subject``) or ``assist`` (staff stay
    #: themselves: the app loads no user, and only the admin actions in ``scopes`` run, on
    #: ``account`` and ``subject`` only)
    kind: str = "impersonate"

    @property
    def is_assist(self) -> bool:
        return self.kind == "assist"

    def admin_actions(self) -> frozenset[str]:
        """The admin actions this session may call (``admin:<action>`` scopes)."""
        return frozenset(s for s in self.scopes if s.startswith("admin:"))

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def ends_at(self) -> datetime:
        """The end the banner counts down to: the session's, else the token's."""
        return self.session_expires_at or self.expires_at


class Frame:
    """One impersonated request or job: the context plus what the app reported during it."""

    __slots__ = ("at", "context", "resource", "suppressed")

    def __init__(self, context: ImpersonationContext, at: float | None = None) -> None:
        self.context = context
        #: When the request or job began (epoch seconds): its event is dated then, so that
        #: what it caused at the broker (an End's ``session.ended``) sorts after it.
        self.at = at
        self.resource: str | None = None
        self.suppressed: dict[str, int] | None = None

    def count(self, kind: str, n: int = 1) -> None:
        if self.suppressed is None:
            self.suppressed = {}
        self.suppressed[kind] = self.suppressed.get(kind, 0) + n


_frame: ContextVar[Frame | None] = ContextVar("actas_frame", default=None)
#: Set inside :func:`admin_action`: the action's own effects are meant, not incidental.
_deliberate: ContextVar[bool] = ContextVar("actas_deliberate", default=False)


def current_impersonation() -> ImpersonationContext | None:
    """The impersonation this code runs under, or None for a normal user."""
    frame = _frame.get()
    return frame.context if frame is not None else None


def suppressed() -> bool:
    """True while a staff member acts as the user: skip side effects aimed at the user."""
    return _frame.get() is not None and not _deliberate.get()


@contextmanager
def admin_action(scope: str) -> Iterator[ImpersonationContext]:
    """Run one admin action of an ``assist`` session (``scope`` like ``admin:verify_email``):
    the effect it exists for (the email it sends) is not suppressed inside the block. Refused
    outside an assist session, or when the session's scopes do not name the action."""
    context = current_impersonation()
    if context is None or not context.is_assist or scope not in context.admin_actions():
        raise Refused(f"{scope[:60]} is not an admin action of this session", reason="assist")
    token = _deliberate.set(True)
    try:
        yield context
    finally:
        _deliberate.reset(token)


def count_suppressed(kind: str, n: int = 1) -> None:
    """Record that ``n`` side effects of ``kind`` (``email``, ``push``...) were skipped."""
    frame = _frame.get()
    if frame is not None and n > 0:
        frame.count(kind[:40], n)


def name_resource(resource: str) -> None:
    """Name the resource this request works on (``note:42``): it goes in the audit event."""
    frame = _frame.get()
    if frame is not None:
        frame.resource = str(resource)[:200]


def current_frame() -> Frame | None:
    return _frame.get()


@contextmanager
def activated(context: ImpersonationContext, at: float | None = None) -> Iterator[Frame]:
    """Run the block as ``context``; what the app reports lands on the yielded frame."""
    frame = Frame(context, at)
    token = _frame.set(frame)
    try:
        yield frame
    finally:
        _frame.reset(token)


def enter(
    context: ImpersonationContext, at: float | None = None
) -> tuple[Frame, Token[Frame | None]]:
    """The fast form of :func:`activated` for middleware: pair it with :func:`leave`."""
    frame = Frame(context, at)
    return frame, _frame.set(frame)


def leave(token: Token[Frame | None]) -> None:
    _frame.reset(token)
