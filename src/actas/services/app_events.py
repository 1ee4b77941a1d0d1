"""What the host app reports: the SDK's events, appended to the log exactly once by id and
attributed to the staff member acting for the subject."""

from __future__ import annotations

from typing import Any

from actas.domain.access import AccessSession, AppEvent
from actas.domain.audit import Actor, AuditEvent
from actas.domain.errors import InvalidInput, NotFound
from actas.domain.subjects import Application
from actas.services.context import ServiceContext

MAX_APP_EVENTS = 500


def ingest_app_events(
    ctx: ServiceContext, *, app: Application, events: list[AppEvent], by: Actor
) -> int:
    """Append the SDK's events to the log, attributed to the staff member acting for the
    subject. A batch sent twice (a retry after a crash) is appended once. Returns the number
    of events appended."""
    if len(events) > MAX_APP_EVENTS:
        raise InvalidInput(f"a batch holds at most {MAX_APP_EVENTS} events, got {len(events)}")
    appended = 0
    with ctx.uow() as uow:
        by_session: dict[str, list[AppEvent]] = {}
        for event in events:
            by_session.setdefault(event.session_id, []).append(event)
        for session_id, group in by_session.items():
            session = uow.sessions.get(session_id)
            if session is None or session.application_id != app.id:
                raise NotFound(f"no session {session_id[:40]} of application {app.id}")
            fresh = uow.ingested.claim([e.id for e in group], session_id=session_id, at=ctx.clock())
            for event in group:
                if event.id not in fresh:
                    continue
                fresh.discard(event.id)  # a duplicate inside one batch counts once too
                uow.audit.record(_app_event(session, event, by))
                appended += 1
    return appended


def _app_event(session: AccessSession, event: AppEvent, by: Actor) -> AuditEvent:
    data: dict[str, Any] = {
        "event": event.id,
        "application": session.application_id,
        "reported_at": event.at.isoformat(),
    }
    for name in ("method", "route", "status", "resource", "detail"):
        value = getattr(event, name)
        if value is not None:
            data[name] = value
    if event.suppressed:
        data["suppressed"] = dict(event.suppressed)
    return AuditEvent(
        type=f"app.{event.kind}",
        actor=session.staff_id,
        subject=session.subject_id,
        account=session.account_id,
        case=session.case_id,
        session=session.id,
        ip=by.ip,
        user_agent=by.user_agent,
        data=data,
    )
