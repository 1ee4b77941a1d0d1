"""The customer's access history as a file: CSV (for a spreadsheet) or JSON Lines.

One row per support session on the account, with what the page shows: who, their roles, who
approved, when, how long, the reason code, and what was viewed and written. A CSV cell that a
spreadsheet would run as a formula is quoted (OWASP "CSV injection")."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from actas.services.customer_policy import HistoryEntry

COLUMNS = (
    "session",
    "staff_name",
    "staff_roles",
    "approved_by",
    "reason_code",
    "kind",
    "scopes",
    "started_at",
    "ended_at",
    "end_reason",
    "minutes",
    "viewed",
    "written",
)
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def row(entry: HistoryEntry) -> dict[str, Any]:
    s = entry.session
    ended = entry.ended_at
    return {
        "session": s.id,
        "staff_name": entry.staff_name,
        "staff_roles": list(entry.staff_roles),
        "approved_by": list(entry.approved_by),
        "reason_code": entry.reason_code,
        "kind": s.kind,
        "scopes": list(s.scopes),
        "started_at": s.started_at.isoformat(),
        "ended_at": ended.isoformat() if ended else None,
        "end_reason": entry.end_reason,
        "minutes": round((ended - s.started_at).total_seconds() / 60) if ended else None,
        "viewed": list(entry.viewed),
        "written": list(entry.written),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def render(entries: Sequence[HistoryEntry], fmt: str) -> tuple[str, str]:
    """The file's text and its media type."""
    rows = [row(e) for e in entries]
    if fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
        return text, MEDIA_TYPES["jsonl"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([_cell(r[c]) for c in COLUMNS])
    return buffer.getvalue(), MEDIA_TYPES["csv"]


def filename(account_id: str, now: datetime, fmt: str) -> str:
    account = _UNSAFE.sub("-", account_id).strip("-.")[:64] or "account"
    return f"support-access-{account}-{now.strftime('%Y%m%dT%H%M%SZ')}.{fmt}"
