"""Reading the audit log. Who may read it is decided at the edge (role ``security``)."""

from __future__ import annotations

from typing import Any

from actas.domain.audit import AuditQuery
from actas.domain.ports import Checkpoint
from actas.services.context import ServiceContext


def read_events(ctx: ServiceContext, query: AuditQuery) -> list[dict[str, Any]]:
    with ctx.read() as uow:
        return uow.audit.query(query)


def latest_checkpoint(ctx: ServiceContext) -> Checkpoint | None:
    with ctx.read() as uow:
        return uow.audit.latest_checkpoint()
