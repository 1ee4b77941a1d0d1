"""The broker's signing keys: what is published, rotation (audited), and a listing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from actas.domain.audit import Actor, AuditEvent
from actas.domain.ports import KeyInfo
from actas.services.context import ServiceContext


def jwks(ctx: ServiceContext) -> dict[str, Any]:
    return ctx.keys.jwks(ctx.clock())


def rotate(ctx: ServiceContext, *, grace: timedelta, by: Actor) -> KeyInfo:
    """Add a key that signs after ``grace`` and record it. The key file is written first: a
    rotation that could not be recorded is still safe (the old key keeps verifying), while a
    record of a rotation that never happened would not be."""
    fresh = ctx.keys.rotate(ctx.clock(), grace=grace)
    with ctx.uow() as uow:
        uow.audit.record(
            AuditEvent(
                type="keys.rotated",
                actor=by.id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={"kid": fresh.kid, "activates_at": fresh.activates_at.isoformat()},
            )
        )
    return fresh


def describe(ctx: ServiceContext) -> list[KeyInfo]:
    return ctx.keys.describe(ctx.clock())
