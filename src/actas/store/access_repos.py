"""Repositories for cases, requests, approvals, sessions, handoff codes, revocations, outbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from actas.domain.access import (
    AccessRequest,
    AccessSession,
    Approval,
    Case,
    CaseNote,
    CaseStatus,
    EndReason,
    NoteKind,
    RequestState,
    Revocation,
)
from actas.domain.ports import RevocationPublisher
from actas.store.rows import enum_value, from_row, joined, split, to_row
from actas.store.tables import (
    access_requests,
    access_sessions,
    approvals,
    case_notes,
    cases,
    handoff_codes,
    ingested_events,
    outbox,
    revocations,
    staff_assignments,
    staff_slack,
)

#: PostgreSQL channel on which every replica hears of revocations.
REVOCATION_CHANNEL = "actas_revocations"


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

    def for_case(self, case_id: str) -> list[AccessRequest]:
        rows = self.conn.execute(
            select(access_requests)
            .where(access_requests.c.case_id == case_id)
            .order_by(access_requests.c.created_at)
        )
        return [_request(r) for r in rows]


def _session(row: Row[Any]) -> AccessSession:
    return from_row(AccessSession, row, scopes=split, end_reason=EndReason)


class SqlAccessSessionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, session: AccessSession) -> None:
        values = to_row(session, scopes=joined, end_reason=enum_value)
        self.conn.execute(insert(access_sessions).values(**values))

    def get(self, session_id: str) -> AccessSession | None:
        row = self.conn.execute(
            select(access_sessions).where(access_sessions.c.id == session_id)
        ).first()
        return _session(row) if row else None

    def _where(self, *clauses: Any) -> list[AccessSession]:
        rows = self.conn.execute(
            select(access_sessions).where(*clauses).order_by(access_sessions.c.started_at)
        )
        return [_session(r) for r in rows]

    def open_sessions(self) -> list[AccessSession]:
        return self._where(access_sessions.c.ended_at.is_(None))

    def for_case(self, case_id: str) -> list[AccessSession]:
        return self._where(access_sessions.c.case_id == case_id)

    def for_staff(self, staff_id: str) -> list[AccessSession]:
        return self._where(access_sessions.c.staff_id == staff_id)

    def end(self, session_id: str, *, at: datetime, reason: EndReason) -> bool:
        result = self.conn.execute(
            update(access_sessions)
            .where(access_sessions.c.id == session_id, access_sessions.c.ended_at.is_(None))
            .values(ended_at=at, end_reason=reason.value, refresh_hash=None)
        )
        return result.rowcount == 1

    def set_refresh(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        t = access_sessions
        result = self.conn.execute(
            update(t)
            .where(t.c.id == session_id, t.c.ended_at.is_(None), t.c.refresh_hash.is_(None))
            .values(refresh_hash=refresh_hash, last_active_at=at)
        )
        return result.rowcount == 1

    def touch(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        t = access_sessions
        result = self.conn.execute(
            update(t)
            .where(t.c.id == session_id, t.c.ended_at.is_(None), t.c.refresh_hash == refresh_hash)
            .values(last_active_at=at)
        )
        return result.rowcount == 1

    def extend(self, session_id: str, *, expires_at: datetime) -> bool:
        result = self.conn.execute(
            update(access_sessions)
            .where(access_sessions.c.id == session_id, access_sessions.c.ended_at.is_(None))
            .values(expires_at=expires_at)
        )
        return result.rowcount == 1


class SqlHandoffRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self,
        *,
        code_hash: str,
        session_id: str,
        application_id: str,
        handoff_url: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.conn.execute(
            insert(handoff_codes).values(
                code_hash=code_hash,
                session_id=session_id,
                application_id=application_id,
                handoff_url=handoff_url,
                issued_at=issued_at,
                expires_at=expires_at,
            )
        )

    def redeem(
        self, *, code_hash: str, application_id: str, handoff_url: str, at: datetime
    ) -> str | None:
        """One conditional UPDATE ... RETURNING: of any number of concurrent redemptions of one
        code, exactly one gets a row back (PostgreSQL re-checks the WHERE after the row lock;
        SQLite runs one writer at a time)."""
        t = handoff_codes
        row = self.conn.execute(
            update(t)
            .where(
                t.c.code_hash == code_hash,
                t.c.used_at.is_(None),
                t.c.expires_at > at,
                t.c.application_id == application_id,
                t.c.handoff_url == handoff_url,
            )
            .values(used_at=at)
            .returning(t.c.session_id)
        ).first()
        return str(row.session_id) if row else None


class SqlRevocationRepo:
    def __init__(
        self,
        conn: Connection,
        after_commit: list[Callable[[], None]],
        publisher: RevocationPublisher | None,
    ) -> None:
        self.conn = conn
        self.after_commit = after_commit
        self.publisher = publisher

    def add(
        self,
        *,
        session_id: str,
        application_id: str,
        reason: str,
        at: datetime,
        session_expires_at: datetime,
    ) -> None:
        seq = self.conn.execute(
            insert(revocations)
            .values(
                session_id=session_id,
                application_id=application_id,
                reason=reason,
                at=at,
                session_expires_at=session_expires_at,
            )
            .returning(revocations.c.seq)
        ).scalar_one()
        revocation = Revocation(
            seq=int(seq),
            session_id=session_id,
            application_id=application_id,
            reason=reason,
            at=at,
            session_expires_at=session_expires_at,
        )
        if self.conn.dialect.name == "postgresql":
            # NOTIFY is transactional: every replica hears it when, and only if, this commits.
            self.conn.execute(
                select(_pg_notify(REVOCATION_CHANNEL, revocation_payload(revocation)))
            )
        publisher = self.publisher
        if publisher is not None:
            self.after_commit.append(lambda: publisher.publish(revocation))

    def current(
        self, *, now: datetime, after_seq: int = 0, application_id: str | None = None
    ) -> list[Revocation]:
        t = revocations
        query = select(t).where(t.c.seq > after_seq, t.c.session_expires_at > now)
        if application_id is not None:
            query = query.where(t.c.application_id == application_id)
        rows = self.conn.execute(query.order_by(t.c.seq))
        return [from_row(Revocation, r, seq=int) for r in rows]


def _pg_notify(channel: str, payload: str) -> Any:
    from sqlalchemy import func

    return func.pg_notify(channel, payload)


def revocation_payload(revocation: Revocation) -> str:
    """The JSON a revocation travels as, between replicas and to SDKs."""
    return json.dumps(
        {
            "seq": revocation.seq,
            "session": revocation.session_id,
            "application": revocation.application_id,
            "reason": revocation.reason,
            "at": revocation.at.isoformat(),
            "session_expires_at": revocation.session_expires_at.isoformat(),
        },
        separators=(",", ":"),
    )


class SqlIngestRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def claim(self, ids: list[str], *, session_id: str, at: datetime) -> set[str]:
        if not ids:
            return set()
        seen = {
            str(r.id)
            for r in self.conn.execute(
                select(ingested_events.c.id).where(ingested_events.c.id.in_(ids))
            )
        }
        fresh = [i for i in dict.fromkeys(ids) if i not in seen]
        if fresh:
            self.conn.execute(
                insert(ingested_events),
                [{"id": i, "session_id": session_id, "received_at": at} for i in fresh],
            )
        return set(fresh)


class SqlOutboxRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(
        self, *, channel: str, target: str, event_type: str, payload: dict[str, Any], at: datetime
    ) -> str:
        row_id = str(uuid.uuid4())
        self.conn.execute(
            insert(outbox).values(
                id=row_id,
                channel=channel,
                target=target,
                event_type=event_type,
                payload=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                created_at=at,
                attempts=0,
                next_attempt_at=at,
            )
        )
        return row_id
