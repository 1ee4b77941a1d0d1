"""The checkpoints and witnessed checkpoints that :mod:`actas.audit.verify`'s walk meets.

Two kinds of checkpoint are in ``audit_checkpoints``. Those signed before migration 0009 sign
``actas-audit-checkpoint/v1``, the seq and the chain hash of that event. Those since sign a C2SP
checkpoint note: origin, tree size and Merkle tree root of the first ``seq`` events, with a
consistency proof from the checkpoint before. The walk keeps the tree's frontier, so at each
checkpoint it compares the signed root with the root of the events it has just hashed.

Witnessed checkpoints come from outside the database (a witness file): the log must still
extend each of them, or someone rewrote or truncated it and deleted the checkpoints that would
have shown it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Connection

from actas.audit.index_check import Found
from actas.domain import merkle, notes
from actas.domain.audit import checkpoint_message
from actas.domain.errors import InvalidInput
from actas.domain.ports import SignatureChecker
from actas.store.tables import audit_checkpoints


@dataclass(frozen=True)
class StoredCheckpoint:
    seq: int
    hash: bytes
    kid: str
    signature: bytes
    note: str | None
    consistency: bytes | None


@dataclass(frozen=True)
class Witnessed:
    size: int
    root: bytes


def stored(conn: Connection, page: int) -> Iterator[StoredCheckpoint]:
    """The checkpoints in ``seq`` order, ``page`` at a time (one per thousand events or so)."""
    t = audit_checkpoints
    query = (
        select(t.c.seq, t.c.hash, t.c.kid, t.c.signature, t.c.note, t.c.consistency)
        .order_by(t.c.seq)
        .limit(page)
    )
    after: int | None = None
    while True:
        rows = conn.execute(query if after is None else query.where(t.c.seq > after)).all()
        for row in rows:
            yield StoredCheckpoint(
                int(row[0]),
                bytes(row[1]),
                str(row[2]),
                bytes(row[3]),
                row[4],
                bytes(row[5]) if row[5] is not None else None,
            )
        if len(rows) < page:
            return
        after = int(rows[-1][0])


def _note_signed(parsed: notes.SignedCheckpoint, kid: str, checker: SignatureChecker) -> bool:
    text = parsed.text.encode()
    return any(checker.verify(kid, text, s.signature) for s in parsed.signatures)


class CheckpointCheck:
    """Checks each stored checkpoint when the walk reaches its event."""

    def __init__(self, checker: SignatureChecker | None) -> None:
        self.checker = checker
        self.checked = 0
        self.last_seq = 0
        #: The last checkpoint with a tree root: (size, root), for the next consistency proof.
        self.last_tree: tuple[int, bytes] | None = None

    def _parsed(self, checkpoint: StoredCheckpoint) -> notes.SignedCheckpoint | None:
        if checkpoint.note is None:
            return None
        try:
            parsed = notes.parse(checkpoint.note)
        except InvalidInput as exc:
            raise Found(
                "checkpoint_signature",
                checkpoint.seq,
                f"checkpoint at seq {checkpoint.seq} has a malformed note: {exc}",
            ) from exc
        if parsed.size != checkpoint.seq:
            raise Found(
                "checkpoint_mismatch",
                checkpoint.seq,
                f"checkpoint at seq {checkpoint.seq} signs a tree of {parsed.size} events",
            )
        return parsed

    def signed(self, checkpoint: StoredCheckpoint) -> bool:
        if self.checker is None:
            return True
        parsed = self._parsed(checkpoint)
        if parsed is None:
            message = checkpoint_message(checkpoint.seq, checkpoint.hash)
            return self.checker.verify(checkpoint.kid, message, checkpoint.signature)
        # The stored signature and the one in the note are the same, and it signs the note.
        return any(s.signature == checkpoint.signature for s in parsed.signatures) and (
            self.checker.verify(checkpoint.kid, parsed.text.encode(), checkpoint.signature)
        )

    def at_event(
        self, checkpoint: StoredCheckpoint, seq: int, digest: bytes, frontier: merkle.Frontier
    ) -> None:
        """``checkpoint`` names event ``seq`` (hash ``digest``); ``frontier`` has 1..seq."""
        if not self.signed(checkpoint):
            raise Found("checkpoint_signature", checkpoint.seq, bad_signature(checkpoint))
        if checkpoint.seq != seq:
            # The walk is gapless from 1, so only a checkpoint below 1 gets here.
            raise Found(
                "checkpoint_mismatch",
                checkpoint.seq,
                f"checkpoint at seq {checkpoint.seq} names no event",
            )
        rewritten = (
            f"the chain was rewritten after event {self.last_seq} and at or before event {seq}"
        )
        if checkpoint.hash != digest:
            raise Found(
                "checkpoint_mismatch",
                seq,
                f"checkpoint at seq {seq} does not match event {seq}: {rewritten}",
            )
        parsed = self._parsed(checkpoint)
        if parsed is not None:
            if parsed.root != frontier.root():
                raise Found(
                    "checkpoint_mismatch",
                    seq,
                    f"checkpoint at seq {seq} signs a tree root that is not the root of events "
                    f"1 to {seq}: {rewritten}",
                )
            self._check_consistency(checkpoint, parsed)
            self.last_tree = (parsed.size, parsed.root)
        self.last_seq = seq
        self.checked += 1

    def _check_consistency(
        self, checkpoint: StoredCheckpoint, parsed: notes.SignedCheckpoint
    ) -> None:
        if self.last_tree is None:
            return
        old, old_root = self.last_tree
        raw = checkpoint.consistency or b""
        proof = [raw[i : i + 32] for i in range(0, len(raw), 32)]
        if not merkle.verify_consistency(old, parsed.size, old_root, parsed.root, proof):
            raise Found(
                "checkpoint_mismatch",
                checkpoint.seq,
                f"checkpoint at seq {checkpoint.seq} carries no valid consistency proof from "
                f"the checkpoint at seq {old}",
            )


def witnessed(
    items: Sequence[tuple[str, str]], checker: SignatureChecker | None
) -> list[Witnessed]:
    """Parse and check the signatures of witnessed checkpoints, smallest tree first."""
    found = []
    for note, kid in items:
        try:
            parsed = notes.parse(note)
        except InvalidInput as exc:
            raise Found(
                "witness_mismatch", 0, f"a witnessed checkpoint is malformed: {exc}"
            ) from exc
        if checker is not None and not _note_signed(parsed, kid, checker):
            raise Found(
                "checkpoint_signature",
                parsed.size,
                f"the witnessed checkpoint of {parsed.size} events has a signature that does "
                f"not verify with key {kid!r}",
            )
        found.append(Witnessed(parsed.size, parsed.root))
    return sorted(found, key=lambda w: w.size)


def check_witnessed(witness: Witnessed, frontier: merkle.Frontier) -> None:
    if witness.size and frontier.root() != witness.root:
        raise Found(
            "witness_mismatch",
            witness.size,
            f"the log no longer extends the witnessed checkpoint of {witness.size} events: "
            f"events 1 to {witness.size} were rewritten since the witness saw them",
        )


def witness_beyond(witness: Witnessed, last: int) -> Found:
    return Found(
        "truncated",
        last + 1,
        f"the witness holds a checkpoint of {witness.size} events but the log ends at event "
        f"{last}: events {last + 1} to {witness.size} were deleted (with their checkpoints)",
    )


def bad_signature(checkpoint: StoredCheckpoint) -> str:
    return (
        f"checkpoint at seq {checkpoint.seq} has a signature that does not verify "
        f"with key {checkpoint.kid!r}"
    )
