"""Repository for the quarterly access review: the quarter's sessions and approvals as plain
facts (counted in ``actas.domain.access_review``), and the reviewers' sign-offs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from actas.domain.access_review import ApprovalFact, SessionFact, SignOff
from actas.store.oversight_repos import _insert
from actas.store.oversight_tables import access_review_signoffs
from actas.store.tables import access_requests, access_sessions, approvals, cases


class SqlReviewRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def sessions_between(self, start: datetime, end: datetime) -> list[SessionFact]:
        s, c = access_sessions, cases
        query = (
            select(s.c.staff_id, s.c.application_id, s.c.account_id, s.c.kind, c.c.reason_code)
            .select_from(s.join(c, c.c.id == s.c.case_id))
            .where(s.c.started_at >= start, s.c.started_at < end)
        )
        return [
            SessionFact(
                staff_id=row.staff_id,
                account=f"{row.application_id}/{row.account_id}",
                reason_code=row.reason_code,
                kind=row.kind,
            )
            for row in self.conn.execute(query)
        ]

    def approvals_between(self, start: datetime, end: datetime) -> list[ApprovalFact]:
        a, r = approvals, access_requests
        query = (
            select(a.c.request_id, a.c.approver_id, a.c.decision, r.c.staff_id)
            .select_from(a.join(r, r.c.id == a.c.request_id))
            .where(a.c.at >= start, a.c.at < end)
        )
        return [
            ApprovalFact(
                request_id=row.request_id,
                approver_id=row.approver_id,
                requester_id=row.staff_id,
                decision=row.decision,
            )
            for row in self.conn.execute(query)
        ]

    def sign(self, signoff: SignOff) -> bool:
        """Store one reviewer's sign-off of a quarter; False if they signed it already."""
        t = access_review_signoffs
        statement = (
            _insert(self.conn, t)
            .values(
                quarter=signoff.quarter,
                reviewer_id=signoff.reviewer_id,
                digest=signoff.digest,
                comment=signoff.comment,
                signed_at=signoff.signed_at,
            )
            .on_conflict_do_nothing(index_elements=["quarter", "reviewer_id"])
            .returning(t.c.quarter)
        )
        return self.conn.execute(statement).first() is not None

    def signoffs(self, quarter: str) -> list[SignOff]:
        t = access_review_signoffs
        rows = self.conn.execute(
            select(t).where(t.c.quarter == quarter).order_by(t.c.signed_at, t.c.reviewer_id)
        )
        return [
            SignOff(
                quarter=row.quarter,
                reviewer_id=row.reviewer_id,
                digest=row.digest,
                comment=row.comment,
                signed_at=row.signed_at,
            )
            for row in rows
        ]
