"""A generated quarter for the access review: thousands of sessions, dozens of staff, hundreds
of accounts, written straight into the tables (the services would take minutes). The expected
figures are counted here from the generated Python rows, independently of the review's SQL."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from actas.store.oversight_tables import alerts, break_glass_reviews
from actas.store.tables import (
    access_requests,
    access_sessions,
    approvals,
    cases,
    staff,
    staff_roles,
)

Q3_START = datetime(2026, 7, 1, tzinfo=UTC)
Q3_END = datetime(2026, 10, 1, tzinfo=UTC)
REASONS = ("bug", "billing", "onboarding", "data_fix", "security")
KINDS = ("assist", "impersonate")
APP = "notes"


@dataclass
class Expected:
    sessions: int = 0
    by_staff: Counter[str] = field(default_factory=Counter)
    by_account: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    approvals: dict[str, Counter[str]] = field(default_factory=dict)
    break_glass: int = 0
    reviewed: int = 0
    alerts: dict[str, Counter[str]] = field(default_factory=dict)
    unused: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)


def _id() -> str:
    return str(uuid.uuid4())


def generate(
    engine: Engine, *, sessions: int = 3000, staff_count: int = 40, accounts: int = 300
) -> Expected:
    rng = random.Random(20261)  # fixed: the same quarter on every run
    expected = Expected()
    created = Q3_START - timedelta(days=200)
    people: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    for i in range(staff_count):
        sid = _id()
        role = ("agent", "lead", "engineer")[i % 3]
        disabled = created if i == staff_count - 1 else None  # a leaver: never listed
        people.append(
            {
                "id": sid,
                "email": f"gen{i}@staff.test",
                "display_name": f"Staff {i:02d}",
                "password_hash": "x",
                "totp_secret": "x",
                "totp_last_step": None,
                "disabled_at": disabled,
                "created_at": created,
            }
        )
        roles.append({"staff_id": sid, "role": role})
        expected.names[sid] = f"Staff {i:02d}"
    # A member of security only: eligible too (the default policy lets security request).
    active = [p["id"] for p in people if p["disabled_at"] is None]
    # The last five active members never start a session: candidates for removal.
    workers = active[:-5]
    expected.unused = set(active[-5:])
    approvers = workers[:6]
    account_ids = [f"acct-{i:04d}" for i in range(accounts)]
    rows: dict[str, list[dict[str, Any]]] = {
        "cases": [], "requests": [], "sessions": [], "approvals": [], "reviews": [], "alerts": []
    }  # fmt: skip
    span = int((Q3_END - Q3_START).total_seconds())
    for n in range(sessions + 200):
        inside = n < sessions
        if inside:
            at = Q3_START + timedelta(seconds=rng.randrange(span))
        else:  # just outside, either side: must not be counted
            at = (Q3_START - timedelta(hours=1)) if n % 2 else Q3_END
        who = rng.choice(workers) if inside else rng.choice(active)
        account = rng.choice(account_ids)
        reason = rng.choice(REASONS)
        kind = rng.choice(KINDS)
        glass = inside and n % 97 == 0
        case_id, request_id = _id(), _id()
        rows["cases"].append(
            {
                "id": case_id, "application_id": APP, "subject_id": f"u-{n}",
                "account_id": account, "staff_id": who, "ticket": f"T-{n}",
                "reason_code": reason, "reason_text": "generated", "status": "closed",
                "opened_at": at, "closed_at": at, "closed_by": who,
            }
        )  # fmt: skip
        rows["requests"].append(
            {
                "id": request_id, "case_id": case_id, "staff_id": who, "application_id": APP,
                "subject_id": f"u-{n}", "account_id": account, "kind": kind, "scopes": "read",
                "minutes": 30, "break_glass": glass, "state": "started",
                "outcome": "allow" if glass else "require_approval", "reasons": "[]",
                "approvals_required": 0 if glass else 1, "approver_roles": "lead",
                "high_risk": False, "review_required": False, "created_at": at,
                "expires_at": at + timedelta(minutes=30), "decided_at": at,
                "extends_session_id": None, "extension_reason": None,
            }
        )  # fmt: skip
        rows["sessions"].append(
            {
                "id": _id(), "request_id": request_id, "case_id": case_id, "staff_id": who,
                "application_id": APP, "subject_id": f"u-{n}", "account_id": account,
                "kind": kind, "scopes": "read", "started_at": at,
                "expires_at": at + timedelta(minutes=30), "idle_seconds": 900,
                "last_active_at": at, "ended_at": at + timedelta(minutes=20),
                "handoff_url": "https://notes.test/actas/handoff", "review_required": False,
                "end_reason": "ended_by_staff",
            }
        )  # fmt: skip
        if not glass:
            approver = rng.choice([a for a in approvers if a != who])
            decision = "deny" if rng.random() < 0.05 else "approve"
            rows["approvals"].append(
                {
                    "request_id": request_id, "approver_id": approver, "decision": decision,
                    "comment": "", "via": "console", "at": at,
                }
            )  # fmt: skip
            if inside:
                expected.approvals.setdefault(approver, Counter())[decision] += 1
        if inside:
            expected.sessions += 1
            expected.by_staff[who] += 1
            expected.by_account[f"{APP}/{account}"] += 1
            expected.by_reason[reason] += 1
            expected.by_kind[kind] += 1
        if glass:
            expected.break_glass += 1
            if n % 2 == 0:
                expected.reviewed += 1
                reviewer = next(a for a in approvers if a != who)
                rows["reviews"].append(
                    {
                        "request_id": request_id, "reviewer_id": reviewer, "justified": True,
                        "comment": "incident", "reviewed_at": at + timedelta(hours=3),
                    }
                )  # fmt: skip
    for n in range(60):
        rule = ("sessions_per_account", "outside_hours", "no_ticket")[n % 3]
        at = Q3_START + timedelta(days=n, hours=2)
        acknowledged = n % 4 != 0
        rows["alerts"].append(
            {
                "id": _id(), "rule": rule, "subject": f"s-{n}", "window_start": at,
                "raised_at": at, "account": None, "staff": None, "detail": "{}",
                "acknowledged_at": at if acknowledged else None,
                "acknowledged_by": approvers[0] if acknowledged else None,
                "comment": "ok" if acknowledged else None,
            }
        )  # fmt: skip
        counts = expected.alerts.setdefault(rule, Counter())
        counts["raised"] += 1
        counts["acknowledged"] += int(acknowledged)
    with engine.begin() as conn:
        conn.execute(staff.insert(), people)
        conn.execute(staff_roles.insert(), roles)
        conn.execute(cases.insert(), rows["cases"])
        conn.execute(access_requests.insert(), rows["requests"])
        conn.execute(access_sessions.insert(), rows["sessions"])
        conn.execute(approvals.insert(), rows["approvals"])
        conn.execute(break_glass_reviews.insert(), rows["reviews"])
        conn.execute(alerts.insert(), rows["alerts"])
    return expected
