"""Appending to the hash chain inside the caller's transaction.

The head row is read ``FOR UPDATE`` on PostgreSQL (SQLite already holds its write lock from
``BEGIN IMMEDIATE``), so appends from any number of processes form one chain. Events are
appended at the end of their transaction, which keeps the head locked for as short a time as
possible and never while the business change still waits on other locks.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection

from actas.domain import merkle, notes
from actas.domain.audit import GENESIS_HASH, AuditEvent, leaf_hash
from actas.domain.ports import NoteSigner
from actas.store import tree
from actas.store.tables import audit_checkpoints, audit_events, audit_head

#: The origin line of checkpoints when the broker names none (see ``Settings.audit_origin``).
DEFAULT_ORIGIN = "actas/audit"

_MAX_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """True when ``json.dumps`` with sorted keys writes exactly RFC 8785's bytes for ``value``:
    ASCII keys (RFC 8785 sorts by UTF-16 code units, Python by code points), integers a
    JavaScript number holds exactly, and no floats (events hold none)."""
    if isinstance(value, dict):
        return all(k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    return False


def canonical_bytes(body: dict[str, Any]) -> bytes:
    """RFC 8785 (JCS) bytes of an event body.

    The rfc8785 package is pure Python (about 46 µs an event, two thirds of an append); for the
    bodies events actually have, the standard library's encoder writes the same bytes in a
    sixth of the time. Anything outside that safe subset (or a lone surrogate, which cannot be
    encoded) takes the reference implementation. ``tests/test_canonical.py`` compares both.
    """
    if _plain(body):
        try:
            return json.dumps(
                body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except UnicodeEncodeError:
            pass
    return rfc8785.dumps(body)


@dataclass(frozen=True)
class Head:
    seq: int
    hash: bytes


def read_head(conn: Connection, *, lock: bool) -> Head:
    query = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).one_or_none()
    if row is None:
        raise RuntimeError("audit head row is missing: run `actas init`")
    return Head(seq=int(row.seq), hash=bytes(row.hash))


@dataclass(frozen=True)
class Published:
    """A checkpoint written in this transaction: its signed note and the key that signed it,
    for the witness once the transaction has committed."""

    seq: int
    note: str
    kid: str


AccountKey = tuple[str | None, str]

#: Accounts looked up per statement (two parameters each: under SQLite's oldest limit of 999).
_KEYS_PER_QUERY = 400


def _account_heads(conn: Connection, accounts: set[AccountKey]) -> dict[AccountKey, int]:
    """The seq of each (application, account)'s latest event.

    One statement for up to :data:`_KEYS_PER_QUERY` accounts, each answered by one probe of the
    index on (application, account, seq): a correlated ``max`` per key, so a grouped append
    of a thousand accounts' events costs three statements, not a thousand."""
    found: dict[AccountKey, int] = {}
    keys = sorted(accounts, key=lambda k: (k[0] or "", k[1]))
    for first in range(0, len(keys), _KEYS_PER_QUERY):
        part = keys[first : first + _KEYS_PER_QUERY]
        params: dict[str, Any] = {}
        rows = []
        for n, (application, account) in enumerate(part):
            params[f"a{n}"], params[f"c{n}"] = application, account
            rows.append(f"SELECT :a{n} AS application, :c{n} AS account")
        # Only bind parameter names are formatted into the text: the keys travel as parameters.
        keys_sql = " UNION ALL ".join(rows)
        statement = text(
            "SELECT k.application, k.account, (SELECT max(e.seq) FROM audit_events e"  # noqa: S608
            f" WHERE e.application = k.application AND e.account = k.account) FROM ({keys_sql}) k"
        )
        for application, account, latest in conn.execute(statement, params):
            if latest is not None:
                found[application, account] = int(latest)
    return found


def append(
    conn: Connection,
    events: Sequence[AuditEvent],
    *,
    now: datetime,
    signer: NoteSigner | None = None,
    checkpoint_every: int = 1000,
    origin: str = DEFAULT_ORIGIN,
    published: list[Published] | None = None,
) -> Head:
    """Append ``events`` in order and return the new head. Runs in the caller's transaction.
    A checkpoint written on the way is added to ``published``."""
    head = read_head(conn, lock=True)
    if not events:
        return head
    rows: list[dict[str, Any]] = []
    prev = head.hash
    seq = head.seq
    last_of = _account_heads(
        conn, {(e.application, e.account) for e in events if e.account is not None}
    )
    for item in events:
        seq += 1
        key = (item.application, item.account) if item.account is not None else None
        account_prev = last_of.get(key) if key is not None else None
        body = item.body(seq=seq, event_id=str(uuid.uuid4()), at=now, account_prev=account_prev)
        if key is not None:
            last_of[key] = seq
        text = canonical_bytes(body)
        digest = leaf_hash(prev, text)
        rows.append(
            {
                "seq": seq,
                "id": body["id"],
                "at": now,
                "type": item.type,
                "actor": item.actor,
                "subject": item.subject,
                "account": item.account,
                "application": item.application,
                "canonical": text.decode("utf-8"),
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(insert(audit_events), rows)
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=prev))
    new_head = Head(seq=seq, hash=prev)
    if signer is not None and seq // checkpoint_every > head.seq // checkpoint_every:
        made = write_checkpoint(conn, new_head, now=now, signer=signer, origin=origin)
        if published is not None:
            published.append(made)
    return new_head


def write_checkpoint(
    conn: Connection,
    head: Head,
    *,
    now: datetime,
    signer: NoteSigner,
    origin: str = DEFAULT_ORIGIN,
) -> Published:
    """Sign a C2SP checkpoint of the first ``head.seq`` events: the tree root, with a
    consistency proof from the latest checkpoint that has one."""
    tree.extend_tiles(conn, head.seq)
    hasher = tree.hasher(conn, head.seq)
    root = hasher.root()
    t = audit_checkpoints
    previous = conn.execute(
        select(t.c.seq, t.c.root).where(t.c.root.is_not(None)).order_by(t.c.seq.desc()).limit(1)
    ).first()
    proof: list[bytes] = []
    if previous is not None:
        proof = hasher.consistency(int(previous.seq))
        # Never sign a tree that does not extend the last one signed (damaged tiles, a
        # rewritten log): fail closed, and `actas audit verify` says where.
        if not merkle.verify_consistency(
            int(previous.seq), head.seq, bytes(previous.root), root, proof
        ):
            raise RuntimeError(
                f"the log no longer extends the checkpoint at seq {previous.seq}: "
                "refusing to sign; run `actas audit verify`"
            )
    text = notes.checkpoint_text(origin, head.seq, root)
    kid, signature = signer.sign(text.encode())
    public = signer.public_key(kid)
    if public is None:
        raise RuntimeError(f"signing key {kid!r} has no public key in the ring")
    note = text + "\n" + notes.sign_line(origin, notes.key_id(origin, public), signature)
    conn.execute(
        insert(t).values(
            seq=head.seq,
            hash=head.hash,
            at=now,
            kid=kid,
            signature=signature,
            root=root,
            note=note,
            consistency=b"".join(proof),
        )
    )
    return Published(seq=head.seq, note=note, kid=kid)


def checkpoint_now(
    conn: Connection, *, now: datetime, signer: NoteSigner, origin: str = DEFAULT_ORIGIN
) -> Published | None:
    """Sign the current head unless it is already signed. Returns what was signed, if any."""
    head = read_head(conn, lock=True)
    if head.seq == 0:
        return None
    latest = conn.execute(
        select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq.desc()).limit(1)
    ).scalar()
    if latest is not None and int(latest) >= head.seq:
        return None
    return write_checkpoint(conn, head, now=now, signer=signer, origin=origin)


GENESIS = Head(seq=0, hash=GENESIS_HASH)
