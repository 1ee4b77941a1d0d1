"""The audit log for the ``security`` role: filters, each event's details, the chain's
verification status and exports (JSON Lines and CSV) of the filtered events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response, StreamingResponse

from actas.console import audit_rows, timefmt
from actas.console.web import Page
from actas.domain.audit import AuditQuery, in_time_order
from actas.domain.errors import ActasError, InvalidInput
from actas.http.downloads import attachment
from actas.services import audit as audit_service
from actas.services import directory
from actas.services import staff as staff_service

LIMITS = (50, 200, 1000)
FILTERS = ("account", "subject", "staff", "type", "since", "until")
#: Common event types, offered as suggestions in the type filter.
EVENT_TYPES = (
    "staff.login",
    "staff.login_failed",
    "staff.locked",
    "staff.logout",
    "staff.added",
    "staff.disabled",
    "staff.enabled",
    "staff.roles_changed",
    "staff.totp_reset",
    "case.opened",
    "case.note_added",
    "case.closed",
    "access.requested",
    "access.approved",
    "access.denied",
    "access.expired",
    "access.cancelled",
    "access.break_glass",
    "session.started",
    "session.handoff_redeemed",
    "session.refreshed",
    "session.extended",
    "session.reopened",
    "app.request",
    "app.refused",
    "session.ended",
    "session.revoked",
    "account.created",
    "account.updated",
    "subject.created",
    "subject.updated",
)


#: Prefix filters offered beside the types: every event of a kind.
TYPE_PREFIXES = ("app.*", "session.*", "access.*", "case.*", "staff.*")


def session_timeline(page: Page) -> Response:
    """Everything one session did, in the order it happened, with the approvals before it."""
    timeline = audit_service.session_timeline(page.ctx, page.param("session"))
    names = audit_rows.Names(page, timeline.events)
    session = timeline.session
    cards = directory.subject_cards(page.ctx, [(session.application_id, session.subject_id)])
    return page.render(
        "timeline.html",
        title="Session timeline",
        timeline=timeline,
        s=session,
        card=cards.get((session.application_id, session.subject_id)),
        events=[audit_rows.shown(e, names) for e in timeline.events],
        staff_name=names.staff_name,
    )


def _filters(page: Page) -> dict[str, Any]:
    values: dict[str, Any] = {name: page.query(name, limit=128).strip() for name in FILTERS}
    raw_limit = page.query("limit", limit=5)
    # ASCII digits only: str.isdigit() also passes "²", which int() then refuses (a 500).
    digits = raw_limit.isascii() and raw_limit.isdigit()
    values["limit"] = int(raw_limit) if digits and int(raw_limit) in LIMITS else 200
    return values


def _query(page: Page, filters: dict[str, Any]) -> AuditQuery:
    def moment(name: str) -> datetime | None:
        try:
            return timefmt.parse_local(filters[name], page.tz)
        except ValueError:
            label = "from" if name == "since" else "until"
            shown = filters[name][:32]
            raise InvalidInput(f"the {label} time {shown!r} is not a date and time") from None

    return AuditQuery(
        account=filters["account"] or None,
        subject=filters["subject"] or None,
        actor=filters["staff"] or None,
        type=filters["type"] or None,
        since=moment("since"),
        until=moment("until"),
        limit=filters["limit"],
        newest_first=True,
    )


def audit(page: Page) -> Response:
    filters = _filters(page)
    events: list[dict[str, Any]] = []
    status = 200
    try:
        found = audit_service.read_events(page.ctx, _query(page, filters))
        names = audit_rows.Names(page, found)
        # Newest first by when it happened: an End before the session.ended it caused.
        ordered = reversed(in_time_order(found))
        events = [audit_rows.shown(e, names) for e in ordered]
    except ActasError as exc:
        status = page.failed(exc)
    members = staff_service.list_staff(page.ctx)
    exported = {k: v for k, v in filters.items() if k in FILTERS and v}
    return page.render(
        "audit.html",
        status=status,
        title="Audit log",
        filters=filters,
        events=events,
        staff_list=sorted(members, key=lambda m: m.display_name.lower()),
        names={m.id: m for m in members},
        event_types=EVENT_TYPES,
        type_prefixes=TYPE_PREFIXES,
        export_query=f"?{urlencode(exported)}" if exported else "",
    )


def verify(page: Page) -> Response:
    report = audit_service.verify(page.ctx)
    template = "_verify.html" if page.is_htmx else "verify.html"
    return page.render(template, title="Chain verification", report=report)


def _export(page: Page, kind: str) -> Response:
    try:
        query = _query(page, _filters(page))
    except ActasError as exc:
        status = page.failed(exc)
        detail = page.errors[-1]
        return page.render("error.html", status=status, title="Export refused", detail=detail)
    made = audit_service.export(page.ctx, query, "csv" if kind == "csv" else "jsonl")
    return StreamingResponse(
        made.body,
        media_type=made.media_type,
        headers={"Content-Disposition": attachment(made.filename)},
    )


def export_jsonl(page: Page) -> Response:
    return _export(page, "jsonl")


def export_csv(page: Page) -> Response:
    return _export(page, "csv")
