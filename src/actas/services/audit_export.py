"""Exports of the log (JSON Lines and CSV) that carry the latest signed checkpoint, so whoever
receives one (a customer, an auditor) can check each event's hash and the broker's signature
on the checkpoint without trusting the broker's database.

Each event is exactly what was hashed plus its ``prev_hash`` and ``hash``; its hash is
``SHA-256(0x00 || prev_hash || RFC 8785 JSON of the event without prev_hash and hash)``.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from actas.domain.audit import EVENT_FIELDS, AuditQuery, checkpoint_message, format_time
from actas.domain.repos import Checkpoint

CSV_COLUMNS = (*EVENT_FIELDS, "prev_hash", "hash")
PAGE = 1000
HASH_RULE = "sha256(0x00 || prev_hash || RFC 8785 JSON of the event without prev_hash and hash)"


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
        for name in ("account", "subject", "actor", "type")
        if getattr(query, name) is not None
    }
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is not None:
            filters[name] = format_time(value)
    signed: dict[str, Any] | None = None
    if checkpoint is not None:
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
        "version": 1,
        "exported_at": format_time(now),
        "filters": filters,
        "hash_rule": HASH_RULE,
        "checkpoint": signed,
    }


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
