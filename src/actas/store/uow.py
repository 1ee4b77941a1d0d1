"""The unit of work: one database transaction holding the change and its audit events."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from actas import metrics
from actas.domain.audit import AuditEvent, AuditQuery
from actas.domain.clock import Clock
from actas.domain.errors import Unavailable
from actas.domain.merkle import RangeHasher
from actas.domain.ports import EventObserver, NoteSigner, RevocationPublisher
from actas.domain.repos import Checkpoint
from actas.store import chain, tree
from actas.store.access_repos import (
    SqlAccessRequestRepo,
    SqlAssignmentRepo,
    SqlCaseRepo,
    SqlSlackLinkRepo,
)
from actas.store.audit_query import query_events
from actas.store.consent_repos import SqlAccessCodeRepo, SqlCustomerPolicyRepo, SqlGrantRepo
from actas.store.customer_page_repos import SqlCustomerPageRepo
from actas.store.customer_repos import SqlCustomerActionRepo
from actas.store.engine import READ_ONLY
from actas.store.gauge_repo import SqlGaugeRepo
from actas.store.identity_repo import SqlIdentityRepo
from actas.store.link_repos import SqlLinkRepo, SqlVerificationRepo
from actas.store.oversight_repos import SqlAlertRepo, SqlBreakGlassRepo
from actas.store.repos import (
    SqlAccountRepo,
    SqlApplicationRepo,
    SqlStaffRepo,
    SqlStaffSessionRepo,
    SqlSubjectRepo,
)
from actas.store.review_repos import SqlReviewRepo
from actas.store.session_repos import (
    SqlAccessSessionRepo,
    SqlHandoffRepo,
    SqlIngestRepo,
    SqlOutboxRepo,
    SqlRevocationRepo,
)
from actas.store.tables import audit_checkpoints
from actas.store.throttle_repo import SqlThrottleRepo

_log = logging.getLogger(__name__)


class SqlAuditLog:
    """Collects the transaction's events; :class:`Store` appends them just before commit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.queued: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.queued.append(event)

    def query(self, query: AuditQuery) -> list[dict[str, Any]]:
        return query_events(self.conn, query)

    def latest_checkpoint(self) -> Checkpoint | None:
        t = audit_checkpoints
        row = self.conn.execute(select(t).order_by(t.c.seq.desc()).limit(1)).first()
        if row is None:
            return None
        return Checkpoint(
            seq=int(row.seq),
            hash=bytes(row.hash),
            at=row.at,
            kid=row.kid,
            signature=bytes(row.signature),
            root=bytes(row.root) if row.root is not None else None,
            note=row.note,
        )

    def tree(self, size: int) -> RangeHasher:
        return tree.hasher(self.conn, size)


class SqlUnitOfWork:
    def __init__(self, conn: Connection, publisher: RevocationPublisher | None = None) -> None:
        self.conn = conn
        #: Run once the transaction has committed (never if it rolls back).
        self.after_commit: list[Callable[[], None]] = []
        self.staff = SqlStaffRepo(conn)
        self.staff_sessions = SqlStaffSessionRepo(conn)
        self.applications = SqlApplicationRepo(conn)
        self.accounts = SqlAccountRepo(conn)
        self.subjects = SqlSubjectRepo(conn)
        self.audit = SqlAuditLog(conn)
        self.assignments = SqlAssignmentRepo(conn)
        self.slack_links = SqlSlackLinkRepo(conn)
        self.cases = SqlCaseRepo(conn)
        self.requests = SqlAccessRequestRepo(conn)
        self.sessions = SqlAccessSessionRepo(conn)
        self.handoffs = SqlHandoffRepo(conn)
        self.revocations = SqlRevocationRepo(conn, self.after_commit, publisher)
        self.outbox = SqlOutboxRepo(conn)
        self.ingested = SqlIngestRepo(conn)
        self.links = SqlLinkRepo(conn)
        self.verifications = SqlVerificationRepo(conn)
        self.throttle = SqlThrottleRepo(conn)
        self.customer_actions = SqlCustomerActionRepo(conn)
        self.identity = SqlIdentityRepo(conn)
        self.alerts = SqlAlertRepo(conn)
        self.break_glass = SqlBreakGlassRepo(conn)
        self.reviews = SqlReviewRepo(conn)
        self.gauges = SqlGaugeRepo(conn)
        self.grants = SqlGrantRepo(conn)
        self.access_codes = SqlAccessCodeRepo(conn)
        self.customer_policies = SqlCustomerPolicyRepo(conn)
        self.customer_pages = SqlCustomerPageRepo(conn)

    def ping(self) -> None:
        self.conn.execute(text("SELECT 1"))


@contextmanager
def _reachable() -> Iterator[None]:
    """The database's own failures to answer (connection refused, lost, server shutting down)
    leave the store as the domain's :class:`Unavailable`, a 503 at the edges. Errors that are
    bugs (a constraint, a syntax error) pass through unchanged."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise Unavailable("the database is not reachable; retry shortly") from exc


class Store:
    """Opens transactions. A write transaction commits its change and its audit events together
    or not at all."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock,
        signer: NoteSigner | None = None,
        checkpoint_every: int = 1000,
        publisher: RevocationPublisher | None = None,
        origin: str = chain.DEFAULT_ORIGIN,
        witness: Callable[[chain.Published], None] | None = None,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.clock = clock
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.origin = origin
        #: Told of every checkpoint once its transaction has committed (see ``audit.witness``).
        self.witness = witness
        #: Sees each transaction's events before it commits (the anomaly alerts); set by the
        #: composition root, since the store must not know the services.
        self.observer: EventObserver | None = None

    def _publish(self, published: list[chain.Published]) -> None:
        """Hand committed checkpoints to the witness. The change is committed already, so a
        witness that cannot be reached is logged, not raised: the next checkpoint (which
        extends this one) goes to the witness again."""
        if self.witness is None:
            return
        for item in published:
            try:
                self.witness(item)
            except OSError:
                _log.exception("the audit witness did not take checkpoint %d", item.seq)

    @contextmanager
    def transaction(self) -> Iterator[SqlUnitOfWork]:
        published: list[chain.Published] = []
        with _reachable(), self.engine.begin() as conn:
            uow = SqlUnitOfWork(conn, self.publisher)
            yield uow
            events = uow.audit.queued
            began = metrics.clock()
            self._append(conn, events, published)
            appended = metrics.clock() - began
            if self.observer is not None and events:
                uow.audit.queued = []
                self.observer(uow, tuple(events))
                began = metrics.clock()
                self._append(conn, uow.audit.queued, published)
                appended += metrics.clock() - began
                events = [*events, *uow.audit.queued]
        if events:  # committed: count them (a rolled-back transaction never gets here)
            metrics.committed(events, appended)
        self._publish(published)
        for callback in uow.after_commit:
            callback()

    def _append(
        self, conn: Connection, events: list[AuditEvent], published: list[chain.Published]
    ) -> None:
        chain.append(
            conn,
            events,
            now=self.clock(),
            signer=self.signer,
            checkpoint_every=self.checkpoint_every,
            origin=self.origin,
            published=published,
        )

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        """A read-only transaction: on SQLite it takes no write lock."""
        with _reachable(), self.engine.connect() as raw:
            conn = raw.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield SqlUnitOfWork(conn)

    def checkpoint(self) -> chain.Published | None:
        """Sign the head now unless it is signed already; what was signed, if anything."""
        if self.signer is None:
            raise RuntimeError("no signer configured")
        with self.engine.begin() as conn:
            made = chain.checkpoint_now(
                conn, now=self.clock(), signer=self.signer, origin=self.origin
            )
        if made is not None:
            self._publish([made])
        return made
