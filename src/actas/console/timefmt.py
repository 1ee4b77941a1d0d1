"""Times as staff read them: in their own time zone, with the UTC value on hover.

The browser tells its zone through the ``__Host-actas_tz`` cookie (set by ``console.js``);
until it has, times are shown in UTC. The zone name is checked against the system's zone
list, so the cookie can never point the zone loader at a file.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, tzinfo

from markupsafe import Markup, escape

TZ_COOKIE = "__Host-actas_tz"
_ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$")


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str | None) -> tzinfo:
    if name and _ZONE_RE.match(name) and name in _zones():
        return zoneinfo.ZoneInfo(name)
    return UTC


def zone_name(tz: tzinfo) -> str:
    return tz.key if isinstance(tz, zoneinfo.ZoneInfo) else "UTC"


def iso_utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_text(at: datetime, tz: tzinfo, *, seconds: bool = False) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def when(at: datetime | None, tz: tzinfo, *, seconds: bool = False) -> Markup:
    """``<time>`` in the staff member's zone; the title holds the UTC value. ``seconds`` for
    the audit log, where events a second apart must read apart."""
    if at is None:
        return Markup("—")
    utc = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}" title="{}" data-local="{}">{}</time>').format(
        iso_utc(at), utc, "seconds" if seconds else "", local_text(at, tz, seconds=seconds)
    )


def left_text(until: datetime, now: datetime) -> str:
    seconds = int((until - now).total_seconds())
    if seconds <= 0:
        return "ended"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min left"
    return f"{minutes} min {seconds:02d} s left"


def countdown(until: datetime, now: datetime) -> Markup:
    """Time left, kept current by ``console.js``. ``role="timer"`` is not announced on every
    tick, so a screen reader reads it when the staff member gets there."""
    return Markup('<span class="countdown" role="timer" data-until="{}">{}</span>').format(
        iso_utc(until), escape(left_text(until, now))
    )


def parse_local(value: str, tz: tzinfo) -> datetime | None:
    """A ``datetime-local`` field's value, read in the staff member's zone. Raises ValueError."""
    text = value.strip()
    if not text:
        return None
    if len(text) > 32:
        raise ValueError("too long")
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=tz)
    return at.astimezone(UTC)


def local_input(at: datetime | None, tz: tzinfo) -> str:
    """The value a ``datetime-local`` field shows for ``at``."""
    return at.astimezone(tz).strftime("%Y-%m-%dT%H:%M") if at else ""
