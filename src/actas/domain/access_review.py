"""The quarterly access review (SOC 2 CC6.2/CC6.3): who used support access in a quarter, who
approved it, break-glass and its review, alerts and their outcome, and who holds eligibility
they never used. Pure: the store hands in plain rows, this module counts them.

The review's ``digest`` is a SHA-256 over its canonical JSON, so a sign-off names exactly the
figures the reviewer saw: if a row for the quarter appears later, the digest changes and the
sign-off no longer matches."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actas.domain.errors import InvalidInput

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter (exclusive bound)."""
        if self.number == 4:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, 3 * self.number + 1, 1, tzinfo=UTC)


def parse_quarter(text: str) -> Quarter:
    """``2026Q4`` -> the quarter; anything else is invalid input."""
    found = _QUARTER.match(text.strip().upper())
    if not found or not 2000 <= int(found.group(1)) <= 2999:
        raise InvalidInput("a quarter is written like 2026Q4")
    return Quarter(int(found.group(1)), int(found.group(2)))


def quarter_of(at: datetime) -> Quarter:
    return Quarter(at.year, (at.month - 1) // 3 + 1)


@dataclass(frozen=True)
class SessionFact:
    """One access session started in the quarter."""

    staff_id: str
    account: str  # "application/account"
    reason_code: str
    kind: str


@dataclass(frozen=True)
class ApprovalFact:
    """One approver's decision on a request made in the quarter."""

    request_id: str
    approver_id: str
    requester_id: str
    decision: str  # "approve" | "deny"


@dataclass(frozen=True)
class BreakGlassFact:
    request_id: str
    staff_id: str
    account: str
    used_at: datetime
    reviewed_by: str | None
    justified: bool | None


@dataclass(frozen=True)
class AlertFact:
    rule: str
    acknowledged: bool


@dataclass(frozen=True)
class EligibleStaff:
    """A staff member whose roles let them request access (policy roles), and who is active."""

    staff_id: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class SignOff:
    quarter: str
    reviewer_id: str
    digest: str
    comment: str
    signed_at: datetime


def _sorted(counter: Counter[str]) -> dict[str, int]:
    """Largest first, then by key: a stable order for tables, charts and the digest."""
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


@dataclass(frozen=True)
class AccessReview:
    quarter: str
    start: datetime
    end: datetime
    sessions_total: int
    by_staff: dict[str, int]
    by_account: dict[str, int]
    by_reason: dict[str, int]
    by_kind: dict[str, int]
    #: approver -> {"approve": n, "deny": n}
    approvals_by_approver: dict[str, dict[str, int]]
    approvals_total: int
    break_glass: list[BreakGlassFact]
    #: rule -> {"raised": n, "acknowledged": n}
    alerts_by_rule: dict[str, dict[str, int]]
    unused_eligibility: list[EligibleStaff]
    names: dict[str, str] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        """Everything the review states, as JSON-ready data (names are presentation, kept out
        of the digest so renaming someone does not void a sign-off)."""
        return {
            "quarter": self.quarter,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "sessions_total": self.sessions_total,
            "sessions_by_staff": self.by_staff,
            "sessions_by_account": self.by_account,
            "sessions_by_reason": self.by_reason,
            "sessions_by_kind": self.by_kind,
            "approvals_total": self.approvals_total,
            "approvals_by_approver": self.approvals_by_approver,
            "break_glass": [
                {
                    "request": b.request_id,
                    "staff": b.staff_id,
                    "account": b.account,
                    "used_at": b.used_at.isoformat(),
                    "reviewed_by": b.reviewed_by,
                    "justified": b.justified,
                }
                for b in self.break_glass
            ],
            "alerts_by_rule": self.alerts_by_rule,
            "unused_eligibility": [
                {"staff": s.staff_id, "roles": list(s.roles)} for s in self.unused_eligibility
            ],
        }

    @property
    def digest(self) -> str:
        canonical = json.dumps(self.figures(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def build(
    quarter: Quarter,
    *,
    sessions: Iterable[SessionFact],
    approvals: Iterable[ApprovalFact],
    break_glass: Iterable[BreakGlassFact],
    alerts: Iterable[AlertFact],
    eligible: Iterable[EligibleStaff],
    names: dict[str, str] | None = None,
) -> AccessReview:
    by_staff: Counter[str] = Counter()
    by_account: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    total = 0
    for s in sessions:
        total += 1
        by_staff[s.staff_id] += 1
        by_account[s.account] += 1
        by_reason[s.reason_code] += 1
        by_kind[s.kind] += 1
    approvers: dict[str, Counter[str]] = {}
    approvals_total = 0
    for a in approvals:
        approvals_total += 1
        approvers.setdefault(a.approver_id, Counter())[a.decision] += 1
    rules: dict[str, Counter[str]] = {}
    for alert in alerts:
        counts = rules.setdefault(alert.rule, Counter())
        counts["raised"] += 1
        counts["acknowledged"] += int(alert.acknowledged)
    unused = [e for e in eligible if e.staff_id not in by_staff]
    return AccessReview(
        quarter=quarter.label,
        start=quarter.start,
        end=quarter.end,
        sessions_total=total,
        by_staff=_sorted(by_staff),
        by_account=_sorted(by_account),
        by_reason=_sorted(by_reason),
        by_kind=_sorted(by_kind),
        approvals_by_approver={
            k: {"approve": v["approve"], "deny": v["deny"]} for k, v in sorted(approvers.items())
        },
        approvals_total=approvals_total,
        break_glass=sorted(break_glass, key=lambda b: (b.used_at, b.request_id)),
        alerts_by_rule={
            k: {"raised": v["raised"], "acknowledged": v["acknowledged"]}
            for k, v in sorted(rules.items())
        },
        unused_eligibility=sorted(unused, key=lambda e: (e.name, e.staff_id)),
        names=dict(names or {}),
    )
