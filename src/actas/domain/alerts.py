"""Anomaly alerts: the rules, their thresholds and windows, and the pure tests behind them.

Alerts are raised as events are written (``actas.services.alerts`` looks at every event a
transaction appends); this module only decides. Each rule is a keyword-only function over
counts and times, tested as a truth table. An alert is raised at most once per rule, subject
and window: :func:`window_start` cuts time into fixed windows counted from the Unix epoch, so
every replica agrees on which window an event falls in.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A rule that fires once per subject for ever (one session, one request) uses this window.
ONCE = timedelta(0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class AlertRule(StrEnum):
    SESSIONS_PER_ACCOUNT = "sessions_per_account"
    STAFF_SHARE = "staff_share"
    OUTSIDE_HOURS = "outside_hours"
    BREAK_GLASS = "break_glass"
    BREAK_GLASS_UNREVIEWED = "break_glass_unreviewed"
    DENIED_REQUESTS = "denied_requests"
    FAILED_STEP_UPS = "failed_step_ups"
    SESSION_WRITES = "session_writes"
    NO_TICKET = "no_ticket"
    FAST_APPROVAL = "fast_approval"
    RUBBER_STAMP = "rubber_stamp"


@dataclass(frozen=True)
class WorkingHours:
    """When staff are expected to work, in one time zone: [start, end) on ``days``."""

    start: time = time(8, 0)
    end: time = time(18, 0)
    #: 0 = Monday, as ``datetime.weekday``.
    days: frozenset[int] = frozenset(range(5))
    zone: str = "UTC"


@dataclass(frozen=True)
class AlertRules:
    """Thresholds and windows of every rule (the ``[alerts]`` table of the policy file)."""

    enabled: frozenset[AlertRule] = frozenset(AlertRule)
    #: More than this many sessions on one account within ``sessions_window``.
    sessions_per_account: int = 5
    sessions_window: timedelta = timedelta(hours=24)
    #: One staff member's share of an account's sessions above this percentage ...
    staff_share_percent: int = 80
    #: ... once the account has had at least this many sessions in ``staff_share_window``.
    staff_share_min_sessions: int = 10
    staff_share_window: timedelta = timedelta(days=90)
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    #: This many denied requests by one staff member within ``denied_window``.
    denied_requests: int = 3
    denied_window: timedelta = timedelta(hours=1)
    #: This many failed step-ups by one staff member within ``step_up_window``.
    failed_step_ups: int = 3
    step_up_window: timedelta = timedelta(hours=1)
    #: More writes than this in one session.
    session_writes: int = 50
    #: An approval given less than this long after the request was made.
    fast_approval: timedelta = timedelta(seconds=30)
    #: An approver whose approvals are at least this percentage of their decisions ...
    rubber_stamp_percent: int = 95
    #: ... over at least this many decisions within ``rubber_stamp_window``.
    rubber_stamp_min_decisions: int = 20
    rubber_stamp_window: timedelta = timedelta(days=90)
    #: A break-glass use not reviewed after this long alerts again, once per such period.
    break_glass_review: timedelta = timedelta(days=1)

    def on(self, rule: AlertRule) -> bool:
        return rule in self.enabled


@dataclass(frozen=True)
class Alert:
    """A rule that fired: about ``subject`` (an account, a staff member, a session...)."""

    rule: AlertRule
    subject: str
    window_start: datetime
    account: str | None = None
    staff: str | None = None
    #: What the reviewer needs to judge it: counts and ids, never free text from users.
    detail: dict[str, Any] = field(default_factory=dict)
    #: The application of ``account`` (account ids are each application's own); kept in
    #: ``detail`` once stored.
    application: str | None = None

    def stored_detail(self) -> dict[str, Any]:
        if self.application is None:
            return dict(self.detail)
        return {**self.detail, "application": self.application}


def window_start(*, at: datetime, window: timedelta) -> datetime:
    """The start of the fixed window holding ``at``; :data:`ONCE` gives one window for ever."""
    if window <= ONCE:
        return EPOCH
    elapsed = at.astimezone(UTC) - EPOCH
    return EPOCH + (elapsed // window) * window


def too_many_sessions(*, count: int, limit: int) -> bool:
    """``count`` sessions on one account in the window is more than ``limit``."""
    return count > limit


def dominant_staff(*, staff_sessions: int, total: int, percent: int, min_sessions: int) -> bool:
    """One staff member holds more than ``percent`` % of an account's ``total`` sessions, and
    the account has had enough sessions for a share to mean something."""
    if total < min_sessions or total <= 0:
        return False
    return staff_sessions * 100 > percent * total


def outside_hours(*, at: datetime, hours: WorkingHours) -> bool:
    """``at`` falls outside the working hours (an unknown zone counts as UTC)."""
    try:
        zone: zoneinfo.ZoneInfo | Any = zoneinfo.ZoneInfo(hours.zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = at.astimezone(zone)
    if local.weekday() not in hours.days:
        return True
    now = local.time().replace(tzinfo=None)
    if hours.start <= hours.end:
        return not (hours.start <= now < hours.end)
    return hours.end <= now < hours.start  # a night shift: 22:00-06:00


def repeated(*, count: int, threshold: int) -> bool:
    """``count`` failures in the window reach ``threshold``."""
    return count >= threshold


def is_write(*, kind: str, method: str | None) -> bool:
    """An app event that changed something: a write request, or an event named a write."""
    if kind == "write":
        return True
    return kind == "request" and (method or "").upper() in WRITE_METHODS


def too_many_writes(*, writes: int, limit: int) -> bool:
    return writes > limit


#: What staff type when there is no ticket (a case needs some text there).
PLACEHOLDER_TICKETS = frozenset({"", "-", "--", "?", "0", "n/a", "na", "none", "tbd", "todo", "x"})


def missing_ticket(*, ticket: str | None) -> bool:
    """No ticket reference: nothing, or a placeholder standing in for one."""
    return (ticket or "").strip().lower() in PLACEHOLDER_TICKETS


def too_fast(*, asked_at: datetime, decided_at: datetime, within: timedelta) -> bool:
    """An approval given sooner than ``within`` after the request: read, or rubber-stamped?"""
    return decided_at - asked_at < within


def rubber_stamp(*, approved: int, decided: int, percent: int, min_decisions: int) -> bool:
    """An approver who approves nearly everything, over enough decisions to say so."""
    if decided < min_decisions or decided <= 0:
        return False
    return approved * 100 >= percent * decided


def review_overdue(*, used_at: datetime, now: datetime, after: timedelta) -> bool:
    """A break-glass use still unreviewed ``after`` its use."""
    return now - used_at >= after


@dataclass(frozen=True)
class RaisedAlert:
    """An alert as stored: raised once, acknowledged by ``security`` with a comment."""

    id: str
    rule: str
    subject: str
    window_start: datetime
    raised_at: datetime
    account: str | None
    staff: str | None
    detail: dict[str, Any]
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    comment: str | None = None

    @property
    def application(self) -> str | None:
        value = self.detail.get("application")
        return value if isinstance(value, str) else None


@dataclass(frozen=True)
class BreakGlassReview:
    """The outcome of reviewing one break-glass use."""

    request_id: str
    reviewer_id: str
    justified: bool
    comment: str
    reviewed_at: datetime
