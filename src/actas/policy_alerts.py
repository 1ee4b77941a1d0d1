"""The ``[alerts]`` table of the policy file: one sub-table per rule, every key optional.

A rule left out keeps its default (``actas.domain.alerts.AlertRules``); ``enabled = false``
switches it off. Unknown rules and keys are errors, like everywhere else in the policy.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from actas.domain.alerts import WEEKDAYS, AlertRule, AlertRules, WorkingHours

if TYPE_CHECKING:
    from actas.policy_reader import Reader

_DAY = 24 * 60
#: For each rule, its keys: (field of AlertRules, unit in minutes or None for a plain count,
#: the largest value accepted).
_KEYS: dict[AlertRule, dict[str, tuple[str, int | None, int]]] = {
    AlertRule.SESSIONS_PER_ACCOUNT: {
        "max_sessions": ("sessions_per_account", None, 10_000),
        "window_hours": ("sessions_window", 60, 24 * 31),
    },
    AlertRule.STAFF_SHARE: {
        "max_percent": ("staff_share_percent", None, 100),
        "min_sessions": ("staff_share_min_sessions", None, 100_000),
        "window_days": ("staff_share_window", _DAY, 366),
    },
    AlertRule.OUTSIDE_HOURS: {},  # start, end, days, timezone: read by _working_hours
    AlertRule.BREAK_GLASS: {},
    AlertRule.BREAK_GLASS_UNREVIEWED: {"after_hours": ("break_glass_review", 60, 24 * 31)},
    AlertRule.DENIED_REQUESTS: {
        "count": ("denied_requests", None, 1000),
        "window_minutes": ("denied_window", 1, _DAY),
    },
    AlertRule.FAILED_STEP_UPS: {
        "count": ("failed_step_ups", None, 1000),
        "window_minutes": ("step_up_window", 1, _DAY),
    },
    AlertRule.SESSION_WRITES: {"max_writes": ("session_writes", None, 1_000_000)},
    AlertRule.NO_TICKET: {},
    AlertRule.FAST_APPROVAL: {"min_seconds": ("fast_approval", 0, 3600)},
    AlertRule.RUBBER_STAMP: {
        "min_percent": ("rubber_stamp_percent", None, 100),
        "min_decisions": ("rubber_stamp_min_decisions", None, 100_000),
        "window_days": ("rubber_stamp_window", _DAY, 366),
    },
}
_HOURS_KEYS = ("start", "end", "days", "timezone")
_CLOCK_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def _working_hours(reader: Reader, table: dict[str, Any]) -> WorkingHours:
    path = ("alerts", AlertRule.OUTSIDE_HOURS.value)
    default = WorkingHours()
    found: dict[str, time] = {}
    for key in ("start", "end"):
        value = table.get(key, default.start if key == "start" else default.end)
        if isinstance(value, time):
            found[key] = value
            continue
        match = _CLOCK_RE.match(value) if isinstance(value, str) else None
        if match is None:
            reader.fail((*path, key), f"alerts.outside_hours.{key} must be HH:MM, got {value!r}")
            found[key] = time(0, 0)
        else:
            found[key] = time(int(match[1]), int(match[2]))
    days = default.days
    if "days" in table:
        names = reader.strings((*path, "days"), table["days"])
        bad = [n for n in names if n not in WEEKDAYS]
        for name in bad:
            reader.fail(
                (*path, "days"),
                f"alerts.outside_hours.days has {name!r}; expected {', '.join(WEEKDAYS)}",
                value=name,
            )
        days = frozenset(WEEKDAYS.index(n) for n in names if n in WEEKDAYS)
    zone = table.get("timezone", default.zone)
    if not isinstance(zone, str) or not _known_zone(zone):
        reader.fail((*path, "timezone"), f"alerts.outside_hours.timezone is unknown: {zone!r}")
        zone = default.zone
    return WorkingHours(start=found["start"], end=found["end"], days=days, zone=zone)


def _known_zone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def read_alerts(reader: Reader, data: object) -> AlertRules:
    """The alert rules, or the defaults for what ``data`` leaves out; problems go to ``reader``."""
    names = tuple(r.value for r in AlertRule)
    top = reader.table(("alerts",), data, (), names, what="alert rule")
    enabled = set(AlertRule)
    values: dict[str, Any] = {}
    for name, body in top.items():
        rule = AlertRule(name)
        path = ("alerts", name)
        keys = _KEYS[rule]
        optional = ("enabled", *keys, *(_HOURS_KEYS if rule is AlertRule.OUTSIDE_HOURS else ()))
        table = reader.table(path, body, (), optional)
        if reader.boolean((*path, "enabled"), table.get("enabled", True)) is False:
            enabled.discard(rule)
        for key, (attr, unit, high) in keys.items():
            if key not in table:
                continue
            number = reader.integer((*path, key), table[key], high=high)
            if number is not None:
                values[attr] = number if unit is None else _span(number, unit)
        if rule is AlertRule.OUTSIDE_HOURS:
            values["working_hours"] = _working_hours(reader, table)
    return AlertRules(enabled=frozenset(enabled), **values)


def _span(number: int, unit: int) -> timedelta:
    return timedelta(seconds=number) if unit == 0 else timedelta(minutes=number * unit)
