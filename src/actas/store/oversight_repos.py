"""Repositories for oversight: alerts (raised once per rule, subject and window), the counts
the alert rules ask of the log, and break-glass reviews."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from actas.domain.access import AccessRequest, RequestState
from actas.domain.alerts import Alert, BreakGlassReview, RaisedAlert
from actas.domain.policy_rules import Outcome
from actas.store.access_repos import _request
from actas.store.oversight_tables import alert_counters, alerts, break_glass_reviews
from actas.store.rows import from_row
from actas.store.tables import access_requests, audit_events


def _insert(conn: Connection, table: Any) -> Any:
    """The dialect's INSERT, which knows ``ON CONFLICT``."""
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _alert(row: Row[Any]) -> RaisedAlert:
    return from_row(RaisedAlert, row, detail=json.loads)


class SqlAlertRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def raise_once(self, alert: Alert, *, alert_id: str, at: datetime) -> bool:
        # ON CONFLICT DO NOTHING rather than check-then-insert: two replicas seeing the same
        # burst at once still store (and so announce) the alert once.
        statement = (
            _insert(self.conn, alerts)
            .values(
                id=alert_id,
                rule=alert.rule.value,
                subject=alert.subject,
                window_start=alert.window_start,
                raised_at=at,
                account=alert.account,
                staff=alert.staff,
                detail=json.dumps(alert.stored_detail(), sort_keys=True),
            )
            .on_conflict_do_nothing(index_elements=["rule", "subject", "window_start"])
            .returning(alerts.c.id)
        )
        # RETURNING, not rowcount: the row is ours only if it comes back.
        return self.conn.execute(statement).first() is not None

    def get(self, alert_id: str) -> RaisedAlert | None:
        row = self.conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
        return _alert(row) if row else None

    def recent(self, *, open_only: bool, limit: int = 200) -> list[RaisedAlert]:
        query = select(alerts).order_by(alerts.c.raised_at.desc(), alerts.c.id).limit(limit)
        if open_only:
            query = query.where(alerts.c.acknowledged_at.is_(None))
        return [_alert(r) for r in self.conn.execute(query)]

    def between(self, start: datetime, end: datetime) -> list[RaisedAlert]:
        rows = self.conn.execute(
            select(alerts)
            .where(alerts.c.raised_at >= start, alerts.c.raised_at < end)
            .order_by(alerts.c.raised_at, alerts.c.id)
        )
        return [_alert(r) for r in rows]

    def acknowledge(self, alert_id: str, *, by: str, comment: str, at: datetime) -> bool:
        result = self.conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id, alerts.c.acknowledged_at.is_(None))
            .values(acknowledged_at=at, acknowledged_by=by, comment=comment)
        )
        return result.rowcount == 1

    def bump(self, rule: str, subject: str, by: int) -> int:
        statement = _insert(self.conn, alert_counters).values(rule=rule, subject=subject, count=by)
        statement = statement.on_conflict_do_update(
            index_elements=["rule", "subject"],
            set_={"count": alert_counters.c.count + statement.excluded.count},
        ).returning(alert_counters.c.count)
        return int(self.conn.execute(statement).scalar_one())

    def count_events(
        self,
        types: tuple[str, ...],
        *,
        since: datetime,
        account: str | None = None,
        application: str | None = None,
        actor: str | None = None,
    ) -> int:
        t = audit_events
        query = select(func.count()).where(t.c.type.in_(types), t.c.at >= since)
        if account is not None:
            query = query.where(t.c.account == account, t.c.application == application)
        if actor is not None:
            query = query.where(t.c.actor == actor)
        return int(self.conn.execute(query).scalar_one())

    def denied_requests(self, staff_id: str, *, since: datetime) -> int:
        t = access_requests
        query = select(func.count()).where(
            t.c.staff_id == staff_id,
            t.c.state == RequestState.DENIED.value,
            t.c.decided_at >= since,
        )
        return int(self.conn.execute(query).scalar_one())


def _review(row: Row[Any]) -> BreakGlassReview:
    return from_row(BreakGlassReview, row)


class SqlBreakGlassRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _joined(self) -> Any:
        r, b = access_requests, break_glass_reviews
        return (
            select(r, *[c.label(f"review_{c.name}") for c in b.c])
            .select_from(r.outerjoin(b, b.c.request_id == r.c.id))
            .where(r.c.break_glass.is_(True), r.c.outcome == Outcome.ALLOW.value)
            .order_by(r.c.created_at, r.c.id)
        )

    def unreviewed(self) -> list[AccessRequest]:
        query = self._joined().where(break_glass_reviews.c.request_id.is_(None))
        return [_request(row) for row in self.conn.execute(query)]

    def review(self, request_id: str) -> BreakGlassReview | None:
        b = break_glass_reviews
        row = self.conn.execute(select(b).where(b.c.request_id == request_id)).first()
        return _review(row) if row else None

    def record(self, review: BreakGlassReview) -> bool:
        statement = (
            _insert(self.conn, break_glass_reviews)
            .values(
                request_id=review.request_id,
                reviewer_id=review.reviewer_id,
                justified=review.justified,
                comment=review.comment,
                reviewed_at=review.reviewed_at,
            )
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(break_glass_reviews.c.request_id)
        )
        return self.conn.execute(statement).first() is not None

    def between(
        self, start: datetime, end: datetime
    ) -> list[tuple[AccessRequest, BreakGlassReview | None]]:
        r = access_requests
        query = self._joined().where(and_(r.c.created_at >= start, r.c.created_at < end))
        found = []
        for row in self.conn.execute(query):
            m = row._mapping
            review = None
            if m["review_request_id"] is not None:
                review = BreakGlassReview(
                    request_id=m["review_request_id"],
                    reviewer_id=m["review_reviewer_id"],
                    justified=bool(m["review_justified"]),
                    comment=m["review_comment"],
                    reviewed_at=m["review_reviewed_at"],
                )
            found.append((_request(row), review))
        return found
