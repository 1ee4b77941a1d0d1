"""Reading the audit log (role ``security`` only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from actas.api.deps import BrokerDep, StaffCaller, require_roles
from actas.api.schemas import AuditPage
from actas.audit import export
from actas.domain.audit import AuditQuery
from actas.domain.roles import Role
from actas.services import audit as audit_service

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Security = Annotated[StaffCaller, Depends(require_roles(Role.SECURITY))]


@router.get("/events", summary="Audit events, oldest first, with filters")
def events(
    _: Security,
    broker: BrokerDep,
    account: Annotated[str | None, Query(max_length=128)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    staff: Annotated[str | None, Query(max_length=128, description="actor id")] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    query = AuditQuery(
        account=account,
        subject=subject,
        actor=staff,
        type=type,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    found = audit_service.read_events(broker.services, query)
    next_after = int(str(found[-1]["seq"])) if len(found) == limit else None
    return AuditPage(events=found, next_after_seq=next_after)


@router.get(
    "/export",
    summary="Export events (JSON Lines or CSV) with the latest signed checkpoint",
    response_class=StreamingResponse,
)
def export_events(
    _: Security,
    broker: BrokerDep,
    account: Annotated[str | None, Query(max_length=128)] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
) -> StreamingResponse:
    query = AuditQuery(account=account, subject=subject, since=since, until=until)
    head = export.header(
        query=query,
        checkpoint=audit_service.latest_checkpoint(broker.services),
        ring=broker.keys.ring(),
        now=broker.clock(),
    )
    events = export.all_matching(lambda q: audit_service.read_events(broker.services, q), query)
    stamp = broker.clock().strftime("%Y%m%dT%H%M%SZ")
    name = f"actas-audit-{account or 'all'}-{stamp}.{format}"
    body = export.csv_lines(head, events) if format == "csv" else export.jsonl(head, events)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/jsonl; charset=utf-8"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
