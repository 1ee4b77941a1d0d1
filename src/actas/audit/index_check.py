"""The index columns of ``audit_events`` against the JSON that was hashed.

Filters run on the columns (``id``, ``type``, ``actor``, ``subject``, ``account``, ``at``);
the hash covers the canonical JSON. A column edited on its own would make a filter lie while
the chain still verifies, so the walk in :mod:`actas.audit.verify` checks both agree: first
by a fast string comparison, and by parsing only when that is inconclusive.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from actas.domain.audit import Problem, application_of

_json_string = json.encoder.encode_basestring


class Found(Exception):
    """Raised inside the walk to stop at the first problem."""

    def __init__(self, problem: Problem, seq: int, detail: str) -> None:
        super().__init__(detail)
        self.problem = problem
        self.seq = seq
        self.detail = detail


def index_agrees(
    canonical: str,
    seq: int,
    event_id: str,
    type_: str,
    actor: str | None,
    subject: str | None,
    account: str | None,
    application: str | None,
    at: str | datetime,
) -> bool:
    """The fast check that the index columns agree with the hashed JSON, without parsing it.

    True only if they agree; False means "parse it and see" (:func:`check_index`). It relies
    on the shape RFC 8785 gives every event body: keys sorted, so ``account``, (since 0009)
    ``account_prev``, ``actor``, (since 0015) ``application`` and ``at`` come first, and every
    key after ``data`` holds a
    string, null or an integer. A string cannot hold an unescaped quote, so after the last
    ``,"id":`` (the top-level one: nested keys can only be inside ``data``, before it) each
    ``,"key":`` fragment can only be that top-level key. An event from before 0015 keeps its
    application inside ``data``: it is always parsed.
    """
    account_json = "null" if account is None else _json_string(account)
    actor_json = "null" if actor is None else _json_string(actor)
    application_json = "null" if application is None else _json_string(application)
    who = f'"actor":{actor_json},"application":{application_json},'
    first = f'{{"account":{account_json},'
    if not canonical.startswith(first):
        return False
    pos = len(first)
    if canonical.startswith('"account_prev":', pos):  # events since migration 0009
        comma = canonical.find(",", pos + 15)
        value = canonical[pos + 15 : comma]
        if comma < 0 or not (value == "null" or value.isdigit()):
            return False
        pos = comma + 1
    if isinstance(at, str):
        if len(at) == 27:  # PostgreSQL's to_char: "2026-11-23T12:00:00.000000Z"
            head = f'{who}"at":"{at}",'
        elif len(at) == 26:  # SQLite's text: "2026-11-23 12:00:00.000000"
            head = f'{who}"at":"{at[:10]}T{at[11:]}Z",'
        else:
            return False
        if not canonical.startswith(head, pos):
            return False
        end = pos + len(head)
    else:
        head = f'{who}"at":"'
        if not canonical.startswith(head, pos):
            return False
        start = pos + len(head)
        end = start + 27  # format_time's length
        if not canonical.startswith('",', end):
            return False
        try:
            if datetime.fromisoformat(canonical[start:end]) != at:
                return False
        except ValueError:
            return False
    tail = canonical.rfind(',"id":')
    subject_json = "null" if subject is None else _json_string(subject)
    return (
        tail > end
        and canonical.startswith(f',"id":{_json_string(event_id)},"ip":', tail)
        and canonical.find(f',"seq":{seq},"session":', tail) > 0
        and canonical.find(f',"subject":{subject_json},"ticket":', tail) > 0
        and canonical.find(f',"type":{_json_string(type_)},"user_agent":', tail) > 0
    )


def check_index(row: Sequence[Any]) -> None:
    """Parse the hashed JSON and compare it with the index columns; raise if they differ."""
    seq, canonical = row[0], row[1]
    try:
        body = json.loads(canonical)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Found(
            "index_mismatch",
            seq,
            f"event {seq} has a hash that matches its content, but that content is not a "
            "JSON object",
        )
    columns = ("seq", "id", "type", "actor", "subject", "account")
    differing = [
        name
        for name, value in zip(columns, (seq, *row[4:9]), strict=True)
        if body.get(name) != value
    ]
    if application_of(body) != row[9]:
        differing.append("application")
    stamp = _time(body.get("at"))
    if stamp is None or stamp != _time(row[10]):
        differing.append("at")
    if differing:
        raise Found(
            "index_mismatch",
            seq,
            f"event {seq} has index columns that disagree with its hashed content: "
            f"{', '.join(differing)}",
        )


def _time(value: Any) -> datetime | None:
    """An aware datetime from canonical text, SQLite's naive UTC text or a driver datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
