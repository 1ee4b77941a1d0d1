"""The safe support flow on a case (the seeds' five steps), so a lead can see a case was
handled properly: identity confirmed (how), what was observed, which rung was used and why,
the customer's confirmation that the fix worked, and a prevention note or follow-up.

Also the second rung from a case: a staff member triggers a one-time link to the customer.
The link goes to the subject's verified email; the staff member learns only that it went.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from actas.domain.access import CaseNote, CaseStatus, NoteKind, bounded_text
from actas.domain.audit import Actor
from actas.domain.customer import ActionKind, CustomerAction
from actas.domain.errors import Conflict, NotFound
from actas.domain.links import Verification, VerificationStatus, purpose_of
from actas.domain.staff import Staff
from actas.services import trail
from actas.services.context import ServiceContext
from actas.services.links import IssuedLink, issue_in

#: The rungs of the access ladder (DESIGN.md), as recorded on a case.
GUIDE_ONLY = "guide_only"
USER_AUTHORIZED = "user_authorized"
ADMIN_ONLY = "admin_only"


def send_case_link(
    ctx: ServiceContext, *, staff: Staff, case_id: str, purpose: str, why: str, by: Actor
) -> IssuedLink:
    """Email the case subject a link of ``purpose``; records the rung and why on the case.

    :raises UnknownPurpose: not a link purpose.
    :raises NoVerifiedEmail: the subject has no verified email (nothing is written).
    """
    kind = purpose_of(purpose)
    why = bounded_text("why", why, required=False) or f"{kind.value.replace('_', ' ')} link"
    with ctx.uow() as uow:
        case = trail.load_case(uow, case_id)
        if case.status is not CaseStatus.OPEN:
            raise Conflict("the case is closed")
        app = uow.applications.by_id(case.application_id)
        if app is None or app.disabled_at is not None:
            raise Conflict("the application is gone or disabled")
        issued = issue_in(
            ctx, uow, application=app, subject_id=case.subject_id, kind=kind, by=by, case=case
        )
        note = CaseNote(
            id=str(uuid.uuid4()),
            case_id=case.id,
            staff_id=staff.id,
            at=ctx.clock(),
            kind=NoteKind.RUNG,
            body={"rung": USER_AUTHORIZED, "why": why, "text": f"{kind.value} link sent"},
        )
        uow.cases.add_note(note)
        uow.audit.record(
            trail.event(
                "case.note_added", by, case=case, data={"note": note.id, "kind": note.kind.value}
            )
        )
    return issued


@dataclass(frozen=True)
class Step:
    name: str
    done: bool
    detail: str


@dataclass(frozen=True)
class SupportFlow:
    steps: tuple[Step, ...]
    #: The close-out email: "pending", "sent", "failed" (from its outbox row) or None.
    close_out: str | None
    #: The customer's answer ("yes"/"no") to "did the fix work?", if given.
    confirmation: str | None


def email_state(item: Verification | CustomerAction) -> str:
    """What the outbox did with an email: the console says "sent" only once it is true."""
    if item.sent_at is not None:
        return "sent"
    if item.send_failed_at is not None:
        return "failed"
    return "pending"


def support_flow(ctx: ServiceContext, case_id: str) -> SupportFlow:
    with ctx.read() as uow:
        case = uow.cases.get(case_id)
        if case is None:
            raise NotFound(f"no case {case_id[:40]}")
        notes = uow.cases.notes(case.id)
        verified = [
            v
            for v in uow.verifications.for_case(case.id)
            if v.status is VerificationStatus.VERIFIED
        ]
        requests = uow.requests.for_case(case.id)
        actions = uow.customer_actions.for_case(case.id)
    observed = [n for n in notes if n.kind is NoteKind.OBSERVATION]
    rungs = [str(n.body.get("rung", "")) + ": " + str(n.body.get("why", "")) for n in notes]
    rungs = [r for r, n in zip(rungs, notes, strict=True) if n.kind is NoteKind.RUNG]
    rungs += [f"{ADMIN_ONLY}: {r.kind} ({case.reason_code})" for r in requests]
    prevention = [n for n in notes if n.kind is NoteKind.PREVENTION]
    answer_link = next((a for a in actions if a.kind is ActionKind.CONFIRM_FIX), None)
    confirmation = answer_link.answer if answer_link else None
    steps = (
        Step(
            "Identity confirmed",
            bool(verified),
            f"{verified[-1].method}, by {verified[-1].decided_by}" if verified else "not yet",
        ),
        Step(
            "What was observed",
            bool(observed),
            str(observed[-1].body.get("error_text") or observed[-1].body.get("text") or "noted")
            if observed
            else "no observation yet",
        ),
        Step("Which rung and why", bool(rungs), "; ".join(rungs) or "none recorded"),
        Step(
            "Customer confirmed the fix",
            confirmation == "yes",
            {"yes": "yes", "no": "no: not fixed"}.get(confirmation or "", "no answer yet"),
        ),
        Step(
            "Prevention or follow-up",
            bool(prevention),
            str(prevention[-1].body.get("follow_up") or prevention[-1].body.get("text") or "")
            if prevention
            else "none yet",
        ),
    )
    return SupportFlow(
        steps=steps,
        close_out=email_state(answer_link) if answer_link else None,
        confirmation=confirmation,
    )
