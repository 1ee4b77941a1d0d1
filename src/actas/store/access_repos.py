"""Repositories for cases, access requests and their approvals, staff assignments and Slack
links."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from actas.domain.access import (
    AccessRequest,
    Approval,
    Case,
    CaseNote,
    CaseStatus,
    NoteKind,
    RequestState,
)
from actas.store.rows import enum_value, from_row, joined, split, to_row
from actas.store.tables import (
    access_requests,
    approvals,
    case_notes,
    cases,
    staff_assignments,
    staff_slack,
)


class SqlAssignmentRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def for_staff(self, staff_id: str) -> frozenset[tuple[str, str]]:
        t = staff_assignments
        rows = self.conn.execute(
            select(t.c.application_id, t.c.account_id).where(t.c.staff_id == staff_id)
        )
        return frozenset((r.application_id, r.account_id) for r in rows)

    def add(self, staff_id: str, application_id: str, account_id: str) -> bool:
        if (application_id, account_id) in self.for_staff(staff_id):
            return False
        self.conn.execute(
            insert(staff_assignments).values(
                staff_id=staff_id, application_id=application_id, account_id=account_id
            )
        )
        return True

    def remove(self, staff_id: str, application_id: str, account_id: str) -> bool:
        t = staff_assignments
        result = self.conn.execute(
            delete(t).where(
                t.c.staff_id == staff_id,
                t.c.application_id == application_id,
                t.c.account_id == account_id,
            )
        )
        return result.rowcount == 1


class SqlSlackLinkRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def staff_for(self, slack_user_id: str) -> str | None:
        value = self.conn.execute(
            select(staff_slack.c.staff_id).where(staff_slack.c.slack_user_id == slack_user_id)
        ).scalar()
        return str(value) if value is not None else None

    def link(self, slack_user_id: str, staff_id: str) -> None:
        self.conn.execute(delete(staff_slack).where(staff_slack.c.staff_id == staff_id))
        self.conn.execute(delete(staff_slack).where(staff_slack.c.slack_user_id == slack_user_id))
        self.conn.execute(
            insert(staff_slack).values(slack_user_id=slack_user_id, staff_id=staff_id)
        )


def _case(row: Row[Any]) -> Case:
    return from_row(Case, row, status=CaseStatus)


class SqlCaseRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, case: Case) -> None:
        self.conn.execute(insert(cases).values(**to_row(case, status=enum_value)))

    def get(self, case_id: str) -> Case | None:
        row = self.conn.execute(select(cases).where(cases.c.id == case_id)).first()
        return _case(row) if row else None

    def close(self, case_id: str, *, at: datetime, by: str, changes: str, verify: str) -> bool:
        result = self.conn.execute(
            update(cases)
            .where(cases.c.id == case_id, cases.c.status == CaseStatus.OPEN.value)
            .values(
                status=CaseStatus.CLOSED.value,
                closed_at=at,
                closed_by=by,
                summary_changes=changes,
                summary_verify=verify,
            )
        )
        return result.rowcount == 1

    def add_note(self, note: CaseNote) -> None:
        self.conn.execute(
            insert(case_notes).values(
                id=note.id,
                case_id=note.case_id,
                staff_id=note.staff_id,
                at=note.at,
                kind=note.kind.value,
                body=json.dumps(note.body, ensure_ascii=False),
            )
        )

    def notes(self, case_id: str) -> list[CaseNote]:
        rows = self.conn.execute(
            select(case_notes).where(case_notes.c.case_id == case_id).order_by(case_notes.c.at)
        )
        return [
            CaseNote(
                id=r.id,
                case_id=r.case_id,
                staff_id=r.staff_id,
                at=r.at,
                kind=NoteKind(r.kind),
                body=json.loads(r.body),
            )
            for r in rows
        ]

    def for_subject(self, application_id: str, subject_id: str) -> list[Case]:
        rows = self.conn.execute(
            select(cases)
            .where(cases.c.application_id == application_id, cases.c.subject_id == subject_id)
            .order_by(cases.c.opened_at.desc())
        )
        return [_case(r) for r in rows]

    def open_for_staff(self, staff_id: str) -> list[Case]:
        rows = self.conn.execute(
            select(cases)
            .where(cases.c.staff_id == staff_id, cases.c.status == CaseStatus.OPEN.value)
            .order_by(cases.c.opened_at.desc())
        )
        return [_case(r) for r in rows]


def _request(row: Row[Any]) -> AccessRequest:
    return from_row(
        AccessRequest,
        row,
        scopes=split,
        state=RequestState,
        reasons=lambda text: tuple(json.loads(text)),
        approver_roles=split,
    )


class SqlAccessRequestRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, request: AccessRequest) -> None:
        values = to_row(
            request,
            scopes=joined,
            state=enum_value,
            reasons=lambda reasons: json.dumps(list(reasons), ensure_ascii=False),
            approver_roles=joined,
        )
        self.conn.execute(insert(access_requests).values(**values))

    def get(self, request_id: str) -> AccessRequest | None:
        row = self.conn.execute(
            select(access_requests).where(access_requests.c.id == request_id)
        ).first()
        return _request(row) if row else None

    def transition(
        self,
        request_id: str,
        *,
        from_states: frozenset[RequestState],
        to: RequestState,
        at: datetime,
    ) -> bool:
        result = self.conn.execute(
            update(access_requests)
            .where(
                access_requests.c.id == request_id,
                access_requests.c.state.in_([s.value for s in from_states]),
            )
            .values(state=to.value, decided_at=at)
        )
        return result.rowcount == 1

    def add_approval(self, approval: Approval) -> bool:
        exists = self.conn.execute(
            select(approvals.c.request_id).where(
                approvals.c.request_id == approval.request_id,
                approvals.c.approver_id == approval.approver_id,
            )
        ).first()
        if exists:
            return False
        try:
            with self.conn.begin_nested():
                self.conn.execute(insert(approvals).values(**to_row(approval)))
        except IntegrityError:
            return False  # a concurrent delivery of the same answer won the race
        return True

    def approvals(self, request_id: str) -> list[Approval]:
        rows = self.conn.execute(
            select(approvals).where(approvals.c.request_id == request_id).order_by(approvals.c.at)
        )
        return [from_row(Approval, r) for r in rows]

    def in_states(self, states: frozenset[RequestState]) -> list[AccessRequest]:
        rows = self.conn.execute(
            select(access_requests)
            .where(access_requests.c.state.in_([s.value for s in states]))
            .order_by(access_requests.c.created_at)
        )
        return [_request(r) for r in rows]

    def due(
        self, states: frozenset[RequestState], now: datetime, *, limit: int
    ) -> list[AccessRequest]:
        t = access_requests
        rows = self.conn.execute(
            select(t)
            .where(t.c.state.in_([s.value for s in states]), t.c.expires_at <= now)
            .order_by(t.c.expires_at)
            .limit(limit)
        )
        return [_request(r) for r in rows]

    def for_case(self, case_id: str) -> list[AccessRequest]:
        rows = self.conn.execute(
            select(access_requests)
            .where(access_requests.c.case_id == case_id)
            .order_by(access_requests.c.created_at)
        )
        return [_request(r) for r in rows]
