"""Reading the audit log (role ``security`` only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from actas.api.deps import ServicesDep, StaffCaller, require_roles
from actas.api.schemas import AuditPage
from actas.domain.audit import AuditQuery
from actas.domain.roles import Role
from actas.http.downloads import attachment
from actas.services import audit as audit_service

router = APIRouter(prefix="/v1/audit", tags=["audit"])
Security = Annotated[StaffCaller, Depends(require_roles(Role.SECURITY))]


@router.get("/events", summary="Audit events, oldest first, with filters")
def events(
    _: Security,
    ctx: ServicesDep,
    account: Annotated[str | None, Query(max_length=128)] = None,
    application: Annotated[str | None, Query(max_length=128)] = None,
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
        application=application,
        subject=subject,
        actor=staff,
        type=type,
        since=since,
        until=until,
        after_seq=after_seq,
        limit=limit,
    )
    found = audit_service.read_events(ctx, query)
    next_after = int(str(found[-1]["seq"])) if len(found) == limit else None
    return AuditPage(events=found, next_after_seq=next_after)


@router.get(
    "/export",
    summary="Export events (JSON Lines or CSV) with the latest signed checkpoint",
    response_class=StreamingResponse,
)
def export_events(
    _: Security,
    ctx: ServicesDep,
    account: Annotated[str | None, Query(max_length=128)] = None,
    application: Annotated[
        str | None,
        Query(max_length=128, description="with account: that account of this application"),
    ] = None,
    subject: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
) -> StreamingResponse:
    query = AuditQuery(
        account=account, application=application, subject=subject, since=since, until=until
    )
    made = audit_service.export(ctx, query, "csv" if format == "csv" else "jsonl")
    return StreamingResponse(
        made.body,
        media_type=made.media_type,
        headers={"Content-Disposition": attachment(made.filename)},
    )
