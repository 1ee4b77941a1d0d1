"""The audit log as a whole: reading, verifying, checkpoints and exports. Who may read it is
decided at the edge (role ``security``)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from actas.domain.access import AccessRequest, AccessSession
from actas.domain.audit import AuditQuery, VerifyReport, in_time_order
from actas.domain.repos import Checkpoint
from actas.services import audit_export, trail
from actas.services.context import ServiceContext

ExportFormat = Literal["jsonl", "csv"]
MEDIA_TYPES: dict[str, str] = {
    "jsonl": "application/jsonl; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}


def read_events(ctx: ServiceContext, query: AuditQuery) -> list[dict[str, Any]]:
    with ctx.read() as uow:
        return uow.audit.query(query)


#: The most events a timeline shows (pages of 1000 read oldest first).
TIMELINE_LIMIT = 5000


@dataclass(frozen=True)
class Timeline:
    session: AccessSession
    #: The requests that led to the session and extended it, oldest first.
    requests: list[AccessRequest]
    #: Everything the session did, the requests and their answers included, in the order
    #: it happened (see :func:`actas.domain.audit.in_time_order`).
    events: list[dict[str, Any]]
    #: More events exist than :data:`TIMELINE_LIMIT`; the first ones are shown.
    truncated: bool


def session_timeline(ctx: ServiceContext, session_id: str) -> Timeline:
    """One session's story: its request and approvals, start, handoffs, every request the
    application reported, refusals, extensions and the end."""
    with ctx.read() as uow:
        session = trail.load_session(uow, session_id)
        requests = [
            r
            for r in uow.requests.for_case(session.case_id)
            if r.id == session.request_id or r.extends_session_id == session.id
        ]
        events: list[dict[str, Any]] = []
        after = 0
        truncated = False
        while True:
            page = uow.audit.query(
                AuditQuery(
                    subject=session.subject_id,
                    session=session.id,
                    requests=tuple(r.id for r in requests[:50]),
                    after_seq=after,
                    limit=1000,
                )
            )
            events += page
            if len(page) < 1000:
                break
            if len(events) >= TIMELINE_LIMIT:
                truncated = True
                break
            after = int(page[-1]["seq"])
    requests.sort(key=lambda r: r.created_at)
    ordered = [dict(e) for e in in_time_order(events)]
    return Timeline(session=session, requests=requests, events=ordered, truncated=truncated)


def latest_checkpoint(ctx: ServiceContext) -> Checkpoint | None:
    with ctx.read() as uow:
        return uow.audit.latest_checkpoint()


def verify(ctx: ServiceContext, witnessed: Sequence[tuple[str, str]] = ()) -> VerifyReport:
    """Walk the whole chain and its checkpoints (``actas audit verify``, the console); the log
    must also extend every ``(note, kid)`` checkpoint a witness holds."""
    return ctx.chain.verify(witnessed)


def checkpoint(ctx: ServiceContext) -> int | None:
    """Sign the head of the log now; the seq signed, or None when it was signed already."""
    return ctx.chain.checkpoint()


@dataclass(frozen=True)
class AuditExport:
    filename: str
    media_type: str
    body: Iterator[str]


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _name_part(text: str) -> str:
    """A file-name fragment of safe ASCII only: the account filter is caller input."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _UNSAFE_NAME.sub("-", ascii_text).strip("-.")[:64] or "account"


def export(ctx: ServiceContext, query: AuditQuery, fmt: ExportFormat) -> AuditExport:
    """Every event matching ``query`` with the latest signed checkpoint and its public key, so
    that whoever receives the file can check it without the broker. The head is signed first,
    so the checkpoint covers every event written so far; JSON Lines carry a proof per event."""
    now = ctx.clock()
    ctx.chain.checkpoint()
    checkpoint = latest_checkpoint(ctx)
    head = audit_export.header(
        query=query,
        checkpoint=checkpoint,
        public_key=ctx.keys.public_jwk(checkpoint.kid) if checkpoint else None,
        now=now,
    )
    events = audit_export.all_matching(lambda q: read_events(ctx, q), query)
    if fmt == "csv":
        body = audit_export.csv_lines(head, events)
    else:
        if checkpoint is not None and checkpoint.root is not None:
            events = audit_export.with_proofs(
                events, checkpoint, lambda size, seqs: _prove(ctx, size, seqs)
            )
        body = audit_export.jsonl(head, events)
    parts = [query.application, query.account] if query.account else []
    scope = "-".join(_name_part(p) for p in parts if p) or "all"
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return AuditExport(
        filename=f"actas-audit-{scope}-{stamp}.{fmt}", media_type=MEDIA_TYPES[fmt], body=body
    )


def _prove(ctx: ServiceContext, size: int, seqs: list[int]) -> list[list[bytes]]:
    """Inclusion proofs of events ``seqs`` in the tree of events 1..size, in one read."""
    with ctx.read() as uow:
        tree = uow.audit.tree(size)
        return [tree.inclusion(seq - 1) for seq in seqs]
