"""The log's Merkle tree as the store keeps it: leaf hashes in ``audit_events`` and the hash of
every complete 256-leaf tile in ``audit_tree_tiles``, written as checkpoints cover them.

A root or a proof for a tree of ``n`` leaves reads the ``n / 256`` tile hashes and at most one
tile of leaves per proof, never the whole log. Tiles are a cache of the leaves, not a source of
trust: every proof made from them is checked against the signed root before it leaves the
broker, and ``actas audit verify`` recomputes each checkpoint's root from the leaves.
"""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from actas.domain import merkle
from actas.store.tables import audit_events, audit_tree_tiles


def read_leaves(conn: Connection, start: int, end: int) -> list[bytes]:
    """The hashes of leaves ``[start, end)``: events ``start + 1`` to ``end``."""
    seq = audit_events.c.seq
    rows = conn.execute(
        select(audit_events.c.hash).where(seq > start, seq <= end).order_by(seq)
    ).scalars()
    leaves = [bytes(h) for h in rows]
    if len(leaves) != end - start:
        raise RuntimeError(
            f"the audit log is missing events between {start + 1} and {end}: "
            "run `actas audit verify`"
        )
    return leaves


def read_tiles(conn: Connection, count: int) -> list[bytes]:
    idx = audit_tree_tiles.c.idx
    rows = conn.execute(select(audit_tree_tiles.c.hash).where(idx < count).order_by(idx)).scalars()
    return [bytes(h) for h in rows]


def extend_tiles(conn: Connection, size: int) -> None:
    """Store the hash of every complete tile of the first ``size`` leaves not stored yet."""
    have = conn.execute(select(func.count()).select_from(audit_tree_tiles)).scalar_one()
    want = size // merkle.TILE
    if want <= have:
        return
    leaves = read_leaves(conn, have * merkle.TILE, want * merkle.TILE)
    rows = [
        {"idx": have + i, "hash": merkle.root(leaves[i * merkle.TILE : (i + 1) * merkle.TILE])}
        for i in range(want - have)
    ]
    conn.execute(insert(audit_tree_tiles), rows)


def hasher(conn: Connection, size: int) -> merkle.RangeHasher:
    """Ranges of the tree of the first ``size`` events (its tiles must be stored)."""
    return merkle.RangeHasher(
        size,
        tiles=lambda count: read_tiles(conn, count),
        leaves=lambda start, end: read_leaves(conn, start, end),
    )
