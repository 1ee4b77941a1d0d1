"""Exports of the log (JSON Lines and CSV) that carry the latest signed checkpoint and, in JSON
Lines, an inclusion proof per event, so whoever receives one (a customer, an auditor) can check
without trusting the broker's database that each event is in the log the broker signed. The
format is documented for customers in ``docs/audit-export.md``.

Each event is exactly what was hashed plus ``prev_hash``, ``hash`` and ``proof``; its hash is
``SHA-256(0x00 || prev_hash || RFC 8785 JSON of the event without prev_hash, hash and proof)``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from itertools import islice
from typing import Any

from actas.domain import merkle
from actas.domain.audit import EVENT_FIELDS, AuditQuery, checkpoint_message, format_time
from actas.domain.repos import Checkpoint

CSV_COLUMNS = (*EVENT_FIELDS, "prev_hash", "hash")
PAGE = 1000
HASH_RULE = (
    "sha256(0x00 || prev_hash || RFC 8785 JSON of the event without prev_hash, hash and proof)"
)
EXPORT_VERSION = 2


def all_matching(
    read: Callable[[AuditQuery], list[dict[str, Any]]], query: AuditQuery
) -> Iterator[dict[str, Any]]:
    """Every event matching ``query``, oldest first, a page at a time."""
    after = query.after_seq
    while True:
        batch = read(replace(query, after_seq=after, limit=PAGE, newest_first=False))
        yield from batch
        if len(batch) < PAGE:
            return
        after = int(batch[-1]["seq"])


def header(
    *,
    query: AuditQuery,
    checkpoint: Checkpoint | None,
    public_key: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any]:
    """What an export says about itself: its filters, the checkpoint and the key to check it."""
    filters = {
        name: getattr(query, name)
        for name in ("account", "application", "subject", "actor", "type")
        if getattr(query, name) is not None
    }
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is not None:
            filters[name] = format_time(value)
    signed: dict[str, Any] | None = None
    if checkpoint is not None and checkpoint.note is not None and checkpoint.root is not None:
        text = checkpoint.note.partition("\n\n")[0] + "\n"
        signed = {
            "seq": checkpoint.seq,
            "tree_size": checkpoint.seq,
            "root": base64.b64encode(checkpoint.root).decode(),
            "hash": checkpoint.hash.hex(),
            "at": format_time(checkpoint.at),
            "kid": checkpoint.kid,
            "note": checkpoint.note,
            "signed_message": text,
            "signature": base64.b64encode(checkpoint.signature).decode(),
            "public_key": public_key,
        }
    elif checkpoint is not None:  # signed before migration 0009: the chain hash, no tree
        signed = {
            "seq": checkpoint.seq,
            "hash": checkpoint.hash.hex(),
            "at": format_time(checkpoint.at),
            "kid": checkpoint.kid,
            "signed_message": checkpoint_message(checkpoint.seq, checkpoint.hash).decode(),
            "signature": base64.b64encode(checkpoint.signature).decode(),
            "public_key": public_key,
        }
    return {
        "type": "actas.audit.export",
        "version": EXPORT_VERSION,
        "exported_at": format_time(now),
        "filters": filters,
        "hash_rule": HASH_RULE,
        "checkpoint": signed,
    }


def _batched(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while batch := list(islice(items, size)):
        yield batch


def with_proofs(
    events: Iterator[dict[str, Any]],
    checkpoint: Checkpoint,
    prove: Callable[[int, list[int]], list[list[bytes]]],
) -> Iterator[dict[str, Any]]:
    """Each event covered by ``checkpoint`` with its inclusion proof in the checkpoint's tree.

    ``prove(size, seqs)`` gives the proofs of a page of events from the stored tree. Every proof
    is checked against the signed root before it is written, so a damaged tree stops the export
    instead of handing the customer a proof that fails. Events after the checkpoint are left
    out: the export covers the log up to the tree it proves against.
    """
    size, root = checkpoint.seq, checkpoint.root
    if root is None:
        raise ValueError("this checkpoint predates the Merkle tree: it proves nothing")
    for batch in _batched(events, PAGE):
        page = [event for event in batch if int(event["seq"]) <= size]
        proofs = prove(size, [int(event["seq"]) for event in page]) if page else []
        for event, proof in zip(page, proofs, strict=True):
            index = int(event["seq"]) - 1
            if not merkle.verify_inclusion(index, size, bytes.fromhex(event["hash"]), proof, root):
                raise RuntimeError(
                    f"the proof of event {index + 1} does not verify against the signed root: "
                    "run `actas audit verify`"
                )
            event["proof"] = {
                "tree_size": size,
                "leaf_index": index,
                "hashes": [base64.b64encode(p).decode() for p in proof],
            }
            yield event
        if len(page) < len(batch):
            return


def jsonl(head: dict[str, Any], events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The header line, then one event a line."""
    yield json.dumps(head, ensure_ascii=False, sort_keys=True) + "\n"
    for event in events:
        yield json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"


def _cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if text[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + text
    return text


def csv_lines(head: dict[str, Any], events: Iterator[dict[str, Any]]) -> Iterator[str]:
    """``#`` comment lines carrying the header (checkpoint included), then the events."""
    for line in json.dumps(head, ensure_ascii=False, sort_keys=True, indent=1).splitlines():
        yield f"# {line}\r\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow([_cell(event.get(column)) for column in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
