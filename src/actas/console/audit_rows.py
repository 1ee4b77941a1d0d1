"""Audit events as people read them: the time it happened (to the second), who by name, the
customer by name, and the one line that tells twenty ``app.request`` rows apart (method, route,
status, resource), with the whole event still one click away."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from actas.console.web import Page, staff_names
from actas.domain.audit import happened_at
from actas.services import directory

#: Fields of ``data`` that the row shows in its own columns or that only repeat ids.
_QUIET = frozenset({"application", "event", "reported_at", "method", "route", "status", "request"})


class Names:
    """Staff and customers by name, looked up once for a page of events."""

    def __init__(self, page: Page, events: Iterable[Mapping[str, Any]]) -> None:
        self.staff = {k: v.display_name for k, v in staff_names(page.ctx).items()}
        keys = {
            (str(_data(e).get("application")), str(e["subject"]))
            for e in events
            if e.get("subject") and _data(e).get("application")
        }
        cards = directory.subject_cards(page.ctx, sorted(keys))
        self.subjects = {
            key: card.subject.display_name or card.subject.id for key, card in cards.items()
        }
        self.accounts = {key[1]: card.account.name for key, card in cards.items()}
        for card in cards.values():
            self.accounts[card.account.id] = card.account.name

    def staff_name(self, value: object) -> str:
        text = str(value) if value is not None else ""
        return self.staff.get(text, text or "—")

    def replace_ids(self, text: str) -> str:
        for staff_id, name in self.staff.items():
            text = text.replace(f'"{staff_id}"', f'"{staff_id}" ({name})')
        return text


def _data(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    return data if isinstance(data, Mapping) else {}


def _value(value: object, names: Names) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v, names) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value(v, names)}" for k, v in value.items())
    text = str(value)
    return names.staff.get(text, text)


def summary(event: Mapping[str, Any], names: Names) -> str:
    """One line: ``POST /notes 303 note:4`` for the app's events, the telling fields else."""
    data = _data(event)
    head = " ".join(str(data[k]) for k in ("method", "route", "status") if data.get(k) is not None)
    rest = [
        f"{key.replace('_', ' ')}: {_value(value, names)}"
        for key, value in data.items()
        if key not in _QUIET and value not in (None, "", [], {}, False)
    ]
    if event.get("reason"):
        rest.append(f"reason: {event['reason']}")
    line = " · ".join(part for part in (head, *rest) if part)
    return line if len(line) <= 300 else line[:299] + "…"


def shown(event: Mapping[str, Any], names: Names) -> dict[str, Any]:
    """What a row (or a timeline entry) of the event shows."""
    data = _data(event)
    key = (str(data.get("application")), str(event.get("subject")))
    row = dict(event)
    row["happened"] = happened_at(event)
    row["reported"] = "reported_at" in data
    row["actor_name"] = names.staff_name(event.get("actor"))
    row["subject_name"] = names.subjects.get(key) or event.get("subject") or "—"
    row["account_name"] = names.accounts.get(str(event.get("account")), event.get("account"))
    row["summary"] = summary(event, names)
    pretty = json.dumps(event, indent=2, ensure_ascii=False, sort_keys=True)
    row["pretty"] = names.replace_ids(pretty)
    return row
