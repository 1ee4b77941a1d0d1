"""Announcements (Slack, signed webhooks) go into the outbox in the same transaction as the
change they announce; a worker delivers them later. A failing receiver therefore never blocks
or undoes the action, and an action that rolls back announces nothing."""

from __future__ import annotations

from typing import Any

from actas.domain.ports import Channel, UnitOfWork

#: What gets announced (ISSUE 3): every change in a session's life.
ANNOUNCED = frozenset(
    {
        "access.requested",
        "access.approved",
        "access.denied",
        "access.break_glass",
        "session.started",
        "session.extended",
        "session.ended",
        "session.revoked",
        "alert.raised",
    }
)


def announce(
    uow: UnitOfWork,
    channels: tuple[Channel, ...],
    event_type: str,
    payload: dict[str, Any],
    *,
    at: Any,
) -> None:
    if event_type not in ANNOUNCED:
        raise ValueError(f"{event_type} is not an announced event")
    for channel in channels:
        uow.outbox.add(
            channel=channel.kind,
            target=channel.target,
            event_type=event_type,
            payload=payload,
            at=at,
        )
