"""Verifying the audit log: the hash chain, its index columns, its head and its checkpoints.

:func:`verify_log` walks ``audit_events`` in ``seq`` order in chunks (keyset pagination, so a
log of any length is checked in constant memory), recomputes every leaf hash over the stored
canonical bytes, and reports the *first* bad sequence number with a stable problem code:

``missing``
    a ``seq`` is absent (a row was deleted from the middle, or the start, of the log);
``edited``
    an event's stored hash does not match its content, or an event no longer links to the one
    before it (that one was edited and re-hashed, or this one was re-linked);
``reordered``
    the row at a ``seq`` holds a later event (rows were swapped);
``inserted``
    the row at a ``seq`` holds an earlier event (rows were renumbered to make room for
    inserted events);
``index_mismatch``
    a filter column (``id``, ``type``, ``actor``, ``subject``, ``account``, ``at``) disagrees
    with the canonical JSON that was hashed, or the JSON's ``seq`` is not the row's;
``truncated``
    events were deleted from the tail: the head row or a checkpoint names a later event;
``head_mismatch``
    the head row does not name the last event and its hash;
``checkpoint_mismatch``
    a checkpoint's hash is not the hash of the event it names: the chain was rewritten (and
    re-hashed, which needs no key) at or before that event;
``checkpoint_signature``
    a checkpoint's signature does not verify with the broker's key ring;
``witness_mismatch``
    a checkpoint held by a witness outside the database (``witnessed``) signs a tree root that
    the log's first events no longer have: the log was rewritten and the checkpoints that
    would show it deleted. A witnessed tree larger than the log is reported ``truncated``.

Checkpoints since migration 0009 sign a Merkle tree root (see
:mod:`actas.audit.checkpoint_check`); the walk keeps the tree's frontier (one extra hash per
event, amortised) and compares every signed root with the root of the events it hashed.

The walk needs one consistent view of the log. Given a connection that is not in a transaction,
:func:`verify_log` opens a read-only snapshot itself (SQLite: a deferred ``BEGIN``, which takes
no write lock, so appends go on meanwhile; PostgreSQL: ``REPEATABLE READ, READ ONLY``). A
caller that passes a connection already in a transaction must make that transaction a snapshot,
or appends committed during the walk may be reported as a bad head.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.engine import Connection

from actas.audit import checkpoint_check as cp
from actas.audit.index_check import Found, check_index, index_agrees
from actas.domain.audit import GENESIS_HASH, VerifyReport, leaf_hash
from actas.domain.merkle import Frontier
from actas.domain.ports import SignatureChecker
from actas.store.engine import READ_ONLY
from actas.store.tables import audit_events, audit_head

#: Rows fetched per query: round trips do not matter, and a chunk stays a few megabytes.
CHUNK = 5000


#: The columns the walk reads. ``at`` comes as the driver gives it: text on SQLite (naive UTC,
#: as ``UtcDateTime`` stores it), an aware datetime from psycopg. Skipping the type's Python
#: conversion of every row keeps the walk close to the speed of a plain read.
_EVENT_COLUMNS = (
    audit_events.c.seq,
    audit_events.c.canonical,
    audit_events.c.prev_hash,
    audit_events.c.hash,
    audit_events.c.id,
    audit_events.c.type,
    audit_events.c.actor,
    audit_events.c.subject,
    audit_events.c.account,
    audit_events.c.application,
    type_coerce(audit_events.c.at, String).label("at"),
)

#: On PostgreSQL ``at`` comes as text in ``format_time``'s spelling, made by the server; the
#: same columns in the same order, as psycopg runs them (see :meth:`_Walk._pg_chunks`).
_PG_RANGE = (
    "SELECT seq, canonical, prev_hash, hash, id, type, actor, subject, account, application,"
    " to_char(timezone('UTC', at), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    " FROM audit_events WHERE seq > %s AND seq <= %s ORDER BY seq"
)
_PG_NEXT = "SELECT min(seq) FROM audit_events WHERE seq > %s"


def verify_log(
    conn: Connection,
    *,
    checker: SignatureChecker | None,
    chunk: int = CHUNK,
    witnessed: Sequence[tuple[str, str]] = (),
) -> VerifyReport:
    """Verify the whole log; report the first problem found, if any.

    ``checker`` checks the checkpoints' signatures; with ``None`` only their hashes are checked.
    ``witnessed`` holds ``(signed note, kid)`` checkpoints kept outside the database (a
    witness): the log must still extend every one of them.
    """
    if chunk < 1:
        raise ValueError("chunk must be positive")
    if conn.in_transaction():
        return _Walk(conn, checker, chunk, witnessed).run()
    if conn.dialect.name == "sqlite":
        # A deferred BEGIN: a WAL snapshot from the first read on, and no write lock.
        before = conn.get_execution_options().get(READ_ONLY, False)
        conn.execution_options(**{READ_ONLY: True})
        try:
            with conn.begin():
                return _Walk(conn, checker, chunk, witnessed).run()
        finally:
            conn.execution_options(**{READ_ONLY: before})
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _Walk(conn, checker, chunk, witnessed).run()


class _Walk:
    def __init__(
        self,
        conn: Connection,
        checker: SignatureChecker | None,
        chunk: int,
        witnessed: Sequence[tuple[str, str]],
    ) -> None:
        self.conn = conn
        self.checker = checker
        self.chunk = chunk
        self.witnessed = witnessed
        self.events = 0
        self.check = cp.CheckpointCheck(checker)

    @property
    def checkpoints(self) -> int:
        return self.check.checked

    def run(self) -> VerifyReport:
        try:
            self._walk()
        except Found as found:
            return VerifyReport(
                ok=False,
                events=self.events,
                checkpoints=self.checkpoints,
                first_bad_seq=found.seq,
                problem=found.problem,
                detail=found.detail,
            )
        return VerifyReport(ok=True, events=self.events, checkpoints=self.checkpoints)

    def _walk(self) -> None:
        head = self.conn.execute(
            select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        ).one_or_none()
        witnesses = iter(cp.witnessed(self.witnessed, self.checker))
        witness = next(witnesses, None)
        checkpoints = cp.stored(self.conn, self.chunk)
        pending = next(checkpoints, None)
        expected = 1
        prev = GENESIS_HASH
        # The tree so far: every checkpoint's root is recomputed from the events themselves.
        frontier = Frontier()
        # Local names for the functions: this loop is the walk's whole cost.
        leaf, agrees, grow = leaf_hash, index_agrees, frontier.append
        try:
            for rows in self._event_chunks():
                for row in rows:
                    (
                        seq,
                        canonical,
                        prev_hash,
                        digest,
                        event_id,
                        type_,
                        actor,
                        subject,
                        account,
                        application,
                        at,
                    ) = row
                    if seq != expected:
                        if seq < expected:  # only before event 1: the walk goes up by one
                            raise Found(
                                "inserted",
                                seq,
                                f"event {seq} was inserted: no event can come before event 1",
                            )
                        raise Found("missing", expected, _missing(expected, seq))
                    if leaf(prev_hash, canonical.encode("utf-8")) != digest:
                        raise Found(
                            "edited",
                            seq,
                            f"event {seq} was edited: its stored hash does not match its content",
                        )
                    if prev_hash != prev:
                        _broken_link(seq, canonical)
                    if not agrees(
                        canonical, seq, event_id, type_, actor, subject, account, application, at
                    ):
                        check_index(row)
                    grow(digest)
                    while pending is not None and pending.seq <= seq:
                        self.check.at_event(pending, seq, digest, frontier)
                        pending = next(checkpoints, None)
                    while witness is not None and witness.size <= seq:
                        cp.check_witnessed(witness, frontier)
                        witness = next(witnesses, None)
                    prev = digest
                    expected += 1
        finally:
            self.events = expected - 1
        last = expected - 1
        if pending is not None:
            self._check_tail_checkpoints(pending, checkpoints, last)
        if witness is not None:
            if witness.size == 0:  # an empty tree: every log extends it
                witness = next((w for w in witnesses if w.size), None)
            if witness is not None:
                raise cp.witness_beyond(witness, last)
        _check_head(head, last, prev)

    def _event_chunks(self) -> Iterator[Sequence[Any]]:
        """The events in ``seq`` order, a range of ``chunk`` sequence numbers per query.

        Ranges rather than ``LIMIT`` pages: ``seq > :after ORDER BY seq LIMIT :n`` is planned
        as a sequential scan and a sort of the whole table while PostgreSQL has no statistics
        for it (as after a bulk load), once per page; a bounded range is an index scan either
        way.
        """
        seq = audit_events.c.seq
        low, high = self.conn.execute(select(func.min(seq), func.max(seq))).one()
        if low is None or high is None:
            return
        if self.conn.dialect.name == "postgresql":
            yield from self._pg_chunks(int(low), int(high))
            return
        query = select(*_EVENT_COLUMNS).order_by(seq)
        after = int(low) - 1
        while after < high:
            rows = self.conn.execute(query.where(seq > after, seq <= after + self.chunk)).all()
            if rows:
                yield rows
                after = int(rows[-1][0])
            else:  # a gap as wide as a chunk: skip to the next event
                following = self.conn.execute(select(func.min(seq)).where(seq > after)).scalar_one()
                after = int(following) - 1

    def _pg_chunks(self, low: int, high: int) -> Iterator[Sequence[Any]]:
        """As :meth:`_event_chunks`, on PostgreSQL: the same query through psycopg's own cursor,
        in the binary protocol (``bytea`` and integers arrive as they are, not as text to
        parse) and as plain tuples, in the caller's transaction. Per row this is most of the
        walk's cost besides the hashing."""
        cursor = self.conn.connection.driver_connection.cursor(binary=True)  # type: ignore[union-attr]
        try:
            after = low - 1
            while after < high:
                cursor.execute(_PG_RANGE, (after, after + self.chunk))
                rows = cursor.fetchall()
                if rows:
                    yield rows
                    after = int(rows[-1][0])
                else:  # a gap as wide as a chunk: skip to the next event
                    cursor.execute(_PG_NEXT, (after,))
                    after = int(cursor.fetchone()[0]) - 1
        finally:
            cursor.close()

    def _check_tail_checkpoints(
        self, first: cp.StoredCheckpoint, rest: Iterator[cp.StoredCheckpoint], last: int
    ) -> None:
        """Checkpoints past the last event: a validly signed one proves the tail was cut."""
        forged: cp.StoredCheckpoint | None = None
        proof: cp.StoredCheckpoint | None = None
        for checkpoint in (first, *rest):
            if self.check.signed(checkpoint):
                proof = checkpoint
            elif forged is None:
                forged = checkpoint
        if proof is not None:
            raise Found(
                "truncated",
                last + 1,
                f"log truncated after checkpoint at seq {proof.seq}: the log ends at event "
                f"{last}, so events {last + 1} to {proof.seq} at least were deleted",
            )
        if forged is not None:
            raise Found("checkpoint_signature", forged.seq, cp.bad_signature(forged))


def _check_head(head: Any, last: int, last_hash: bytes) -> None:
    if head is None:
        raise Found("head_mismatch", last + 1, "the audit head row is missing")
    head_seq, head_hash = int(head[0]), bytes(head[1])
    if head_seq > last:
        raise Found(
            "truncated",
            last + 1,
            f"the log ends at event {last} but its head names event {head_seq}: "
            f"events {last + 1} to {head_seq} were deleted",
        )
    if head_seq < last:
        raise Found(
            "head_mismatch",
            head_seq + 1,
            f"the head names event {head_seq} but the log goes on to event {last}: "
            f"events {head_seq + 1} to {last} are past its head",
        )
    if head_hash != last_hash:
        raise Found(
            "head_mismatch",
            last,
            f"the head names event {last} with a hash that is not the hash of event {last}",
        )


def _missing(expected: int, found: int) -> str:
    if expected == 1:
        return f"event 1 is missing: the log starts at event {found}"
    if found == expected + 1:
        return f"event {expected} is missing: the log jumps from event {expected - 1} to {found}"
    return (
        f"event {expected} is missing, with {found - expected - 1} more after it: "
        f"the log jumps from event {expected - 1} to {found}"
    )


def _broken_link(seq: int, canonical: str) -> None:
    """Classify a row whose ``prev_hash`` is not the previous row's hash. Always raises."""
    try:
        body = json.loads(canonical)
    except ValueError:
        body = None
    claimed = body.get("seq") if isinstance(body, dict) else None
    if isinstance(claimed, bool) or not isinstance(claimed, int):
        claimed = seq
    if claimed > seq:
        raise Found(
            "reordered",
            seq,
            f"event {seq} is out of order: the row at seq {seq} holds event {claimed}",
        )
    if 1 <= claimed < seq:
        count = seq - claimed
        what = "an event was" if count == 1 else f"{count} events were"
        raise Found(
            "inserted",
            claimed,
            f"event {claimed} was inserted: {what} put in at seq {claimed} and the rows after "
            f"renumbered, so the row at seq {seq} holds event {claimed}",
        )
    if seq == 1:
        raise Found(
            "edited", 1, "event 1 was edited: it does not start from the chain's genesis hash"
        )
    raise Found(
        "edited",
        seq - 1,
        f"event {seq - 1} was edited: event {seq} no longer links to it, so event {seq - 1} "
        f"was changed and re-hashed or event {seq} was re-linked",
    )
