"""Cases: the guide-only rung. A ticket reference, the reason, what support observed, and a
close-out summary; closing a case ends its sessions and cancels its waiting requests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from actas.domain.access import (
    AccessRequest,
    AccessSession,
    Case,
    CaseNote,
    CaseStatus,
    EndReason,
    NoteKind,
    bounded_text,
    may_act_on,
)
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services import notices, requests, sessions, trail
from actas.services.context import ServiceContext

#: What an observation may record (DESIGN.md, the guide-only rung).
NOTE_FIELDS = (
    "text",
    "device",
    "browser",
    "steps",
    "error_text",
    "time",
    "repeatable",
    # A rung note (which rung, why) and a prevention note (the follow-up task).
    "rung",
    "why",
    "follow_up",
)


def open_case(
    ctx: ServiceContext,
    *,
    staff: Staff,
    application_id: str,
    subject_id: str,
    ticket: str,
    reason_code: str,
    reason_text: str,
    by: Actor,
) -> Case:
    ticket = bounded_text("ticket", ticket, limit=200)
    reason_text = bounded_text("reason", reason_text)
    if reason_code not in ctx.policy.reason_codes:
        codes = ", ".join(ctx.policy.reason_codes)
        raise InvalidInput(f"reason code {reason_code[:64]!r} is not one of {codes}")
    with ctx.uow() as uow:
        subject = uow.subjects.get(application_id, subject_id)
        if subject is None:
            raise NotFound(f"no subject {subject_id[:128]} in application {application_id[:63]}")
        case = Case(
            id=str(uuid.uuid4()),
            application_id=application_id,
            subject_id=subject_id,
            account_id=subject.account_id,
            staff_id=staff.id,
            ticket=ticket,
            reason_code=reason_code,
            reason_text=reason_text,
            status=CaseStatus.OPEN,
            opened_at=ctx.clock(),
        )
        uow.cases.add(case)
        uow.audit.record(
            trail.event(
                "case.opened",
                by,
                case=case,
                data={"application": application_id, "reason_code": reason_code},
            )
        )
    return case


def _load_for(uow: UnitOfWork, case_id: str, staff: Staff, doing: str) -> Case:
    """The case, if ``staff`` may act on it (its owner, a lead, security or an admin)."""
    case = trail.load_case(uow, case_id)
    if not may_act_on(staff_id=staff.id, roles=staff.roles, owner_id=case.staff_id):
        raise Forbidden(f"only the case's owner, a lead, security or an admin may {doing}")
    return case


def add_note(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    kind: NoteKind,
    body: dict[str, str | bool],
    by: Actor,
) -> CaseNote:
    """Record what support observed (device, browser, steps, error text, time, repeatable)."""
    unknown = sorted(set(body) - set(NOTE_FIELDS))
    if unknown:
        raise InvalidInput(f"unknown note field {unknown[0]!r}; expected {', '.join(NOTE_FIELDS)}")
    if not any(v for v in body.values() if v is not False):
        raise InvalidInput("a note needs at least one field")
    for name, value in body.items():
        if isinstance(value, str):
            bounded_text(name, value, required=False)
    with ctx.uow() as uow:
        case = _load_for(uow, case_id, staff, "add notes to it")
        if case.status is not CaseStatus.OPEN:
            raise Conflict("the case is closed")
        note = CaseNote(
            id=str(uuid.uuid4()),
            case_id=case.id,
            staff_id=staff.id,
            at=ctx.clock(),
            kind=kind,
            body=dict(body),
        )
        uow.cases.add_note(note)
        # The note's text stays in the case; the log records that it was written.
        uow.audit.record(
            trail.event(
                "case.note_added", by, case=case, data={"note": note.id, "kind": kind.value}
            )
        )
    return note


def close_case(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    changes: str,
    verify: str,
    by: Actor,
) -> Case:
    """Close a case with its summary (what changed, how to check or undo it), ending every
    session and open request that belongs to it."""
    changes = bounded_text("changes", changes)
    verify = bounded_text("verify", verify)
    with ctx.uow() as uow:
        # Closing ends the owner's sessions: the same people who may revoke them (finding 2).
        case = _load_for(uow, case_id, staff, "close it")
        now = ctx.clock()
        if not uow.cases.close(case.id, at=now, by=staff.id, changes=changes, verify=verify):
            raise Conflict("the case is already closed")
        for session in uow.sessions.for_case(case.id):
            sessions.end(ctx, uow, session, EndReason.CASE_CLOSED, by)
        for request in uow.requests.for_case(case.id):
            requests.cancel_waiting(ctx, uow, case, request, by)
        uow.audit.record(trail.event("case.closed", by, case=case, data={"closed_by": staff.id}))
        notices.close_out(ctx, uow, case=case, changes=changes, verify=verify, by=by)
        closed = uow.cases.get(case.id)
    assert closed is not None
    return closed


@dataclass(frozen=True)
class CaseDetail:
    case: Case
    notes: list[CaseNote]
    requests: list[AccessRequest]
    sessions: list[AccessSession]


def case_detail(ctx: ServiceContext, case_id: str, *, staff: Staff) -> CaseDetail:
    """A case with its notes, requests and sessions, for those who may act on it."""
    with ctx.read() as uow:
        case = _load_for(uow, case_id, staff, "read it")
        return CaseDetail(
            case=case,
            notes=uow.cases.notes(case.id),
            requests=uow.requests.for_case(case.id),
            sessions=uow.sessions.for_case(case.id),
        )


def case_of_request(ctx: ServiceContext, request: AccessRequest) -> tuple[Case, str | None]:
    """The case header (ticket, reason) of a request and the session it started, if any: what
    the requester and those asked to approve need to see to decide, without its notes."""
    with ctx.read() as uow:
        case = trail.load_case(uow, request.case_id)
        started = next(
            (s.id for s in uow.sessions.for_case(case.id) if s.request_id == request.id), None
        )
        return case, started
