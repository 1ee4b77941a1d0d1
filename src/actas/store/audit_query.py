"""Reading the log with filters; events come back exactly as they were hashed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.engine import Connection

from actas.domain.audit import AuditQuery
from actas.store.tables import audit_events


def _escaped(text: str) -> str:
    """``text`` matched literally by LIKE: its wildcards and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _mentions(key: str, value: str) -> ColumnElement[bool]:
    """The event's canonical JSON (RFC 8785: no spaces) holds ``"key":"value"``: the top-level
    ``session``, or ``data.request``. Escaped twice: as JSON, then for LIKE."""
    fragment = json.dumps(key) + ":" + json.dumps(value, ensure_ascii=False)
    return audit_events.c.canonical.like("%" + _escaped(fragment) + "%", escape="\\")


def query_events(conn: Connection, query: AuditQuery) -> list[dict[str, Any]]:
    t = audit_events
    stmt = select(t.c.seq, t.c.canonical, t.c.hash, t.c.prev_hash).where(t.c.seq > query.after_seq)
    if query.account is not None:
        stmt = stmt.where(t.c.account == query.account)
    if query.application is not None:
        stmt = stmt.where(t.c.application == query.application)
    if query.subject is not None:
        stmt = stmt.where(t.c.subject == query.subject)
    if query.actor is not None:
        stmt = stmt.where(t.c.actor == query.actor)
    prefix = query.type_prefix
    if prefix is not None:
        stmt = stmt.where(t.c.type.like(_escaped(prefix) + "%", escape="\\"))
    elif query.type is not None:
        stmt = stmt.where(t.c.type == query.type)
    related = []
    if query.session is not None:
        related.append(_mentions("session", query.session))
    related += [_mentions("request", r) for r in query.requests]
    if related:
        stmt = stmt.where(or_(*related))
    if query.since is not None:
        stmt = stmt.where(t.c.at >= query.since)
    if query.until is not None:
        stmt = stmt.where(t.c.at < query.until)
    order = t.c.seq.desc() if query.newest_first else t.c.seq
    stmt = stmt.order_by(order).limit(query.limit)
    events = []
    for row in conn.execute(stmt):
        event = json.loads(row.canonical)
        event["prev_hash"] = bytes(row.prev_hash).hex()
        event["hash"] = bytes(row.hash).hex()
        events.append(event)
    return events
