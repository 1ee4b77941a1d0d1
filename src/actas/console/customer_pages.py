"""Finding a customer, their card, and the case: open, observe, note, close."""

from __future__ import annotations

from starlette.responses import Response

from actas.console.web import Page, path, staff_names, waiting_names
from actas.domain.access import CaseStatus, NoteKind
from actas.domain.errors import ActasError, InvalidInput
from actas.domain.links import LinkPurpose
from actas.domain.roles import Role
from actas.services import cases as cases_service
from actas.services import directory, support_flow
from actas.services import verification as verification_service

NOTE_LABELS = (
    ("text", "Note"),
    ("device", "Device"),
    ("browser", "Browser"),
    ("time", "When"),
    ("repeatable", "Happens again"),
    ("steps", "Steps"),
    ("error_text", "Error text"),
    ("rung", "Rung"),
    ("why", "Why"),
    ("follow_up", "Follow-up"),
)
OBSERVATION_FIELDS = ("device", "browser", "steps", "error_text", "time")
#: The fields the console's forms may set, per kind (a rung note is written by the broker).
FORM_FIELDS = {
    NoteKind.NOTE: ("text",),
    NoteKind.OBSERVATION: OBSERVATION_FIELDS,
    NoteKind.PREVENTION: ("text", "follow_up"),
}


def search(page: Page) -> Response:
    results: list[directory.SubjectCard] = []
    status = 200
    query = ""
    try:
        query = page.query("q")
        results = directory.find_subjects(page.ctx, query)
    except ActasError as exc:
        status = page.failed(exc)
    return page.render(
        "search.html",
        status=status,
        title="Find a customer",
        query=query,
        results=results,
        **(waiting_names(page) if not query else {}),
    )


def _subject_page(
    page: Page, application_id: str, subject_id: str, *, status: int = 200
) -> Response:
    card = directory.subject_card(page.ctx, application_id, subject_id)
    page.shown_at = path("subjects", application_id, subject_id)
    return page.render(
        "subject.html",
        status=status,
        title=card.subject.display_name or card.subject.id,
        card=card,
        cases=directory.cases_for_subject(page.ctx, application_id, subject_id),
        reason_codes=page.ctx.policy.reason_codes,
        is_admin=Role.ADMIN in page.staff.roles,
        form={
            "ticket": page.text("ticket", limit=200),
            "reason_code": page.text("reason_code", limit=64),
            "reason": page.text("reason"),
        },
    )


def subject(page: Page) -> Response:
    return _subject_page(page, page.param("app"), page.param("subject"))


def open_case(page: Page) -> Response:
    application_id = page.text("application", limit=63)
    subject_id = page.text("subject", limit=128)
    try:
        case = cases_service.open_case(
            page.ctx,
            staff=page.staff,
            application_id=application_id,
            subject_id=subject_id,
            ticket=page.text("ticket", limit=200),
            reason_code=page.text("reason_code", limit=64),
            reason_text=page.text("reason"),
            by=page.me.actor,
        )
    except ActasError as exc:
        status = page.failed(exc)
        return _subject_page(page, application_id, subject_id, status=status)
    return page.redirect(path("cases", case.id), done="case_opened")


def case_page(page: Page, case_id: str, *, status: int = 200) -> Response:
    detail = cases_service.case_detail(page.ctx, case_id, staff=page.staff)
    flow = support_flow.support_flow(page.ctx, case_id)
    verifications = verification_service.verifications_for_case(page.ctx, case_id)
    case = detail.case
    page.shown_at = path("cases", case.id)
    cards = directory.subject_cards(page.ctx, [(case.application_id, case.subject_id)])
    return page.render(
        "case.html",
        status=status,
        title=f"Case {case.ticket}",
        detail=detail,
        card=cards.get((case.application_id, case.subject_id)),
        names=staff_names(page.ctx),
        open=case.status is CaseStatus.OPEN,
        mine=case.staff_id == page.staff.id,
        note_labels=NOTE_LABELS,
        flow=flow,
        verifications=verifications,
        pending=next((v for v in reversed(verifications) if v.status.value == "pending"), None),
        email_state=support_flow.email_state,
        purposes=[p.value for p in LinkPurpose],
    )


def case(page: Page) -> Response:
    return case_page(page, page.param("case"))


def add_note(page: Page) -> Response:
    case_id = page.param("case")
    try:
        kind = NoteKind(page.text("kind", limit=20) or NoteKind.NOTE.value)
    except ValueError:
        kind = NoteKind.NOTE
    if kind not in FORM_FIELDS:
        kind = NoteKind.NOTE
    body: dict[str, str | bool] = {}
    try:
        fields = FORM_FIELDS[kind]
        for name in fields:
            value = page.text(name, limit=2000).strip()
            if value:
                body[name] = value
        if kind is NoteKind.OBSERVATION:
            repeatable = page.text("repeatable", limit=5)
            if repeatable in {"yes", "no"}:
                body["repeatable"] = repeatable == "yes"
        if not body:
            raise InvalidInput("write something in at least one field")
        cases_service.add_note(
            page.ctx, staff=page.staff, case_id=case_id, kind=kind, body=body, by=page.me.actor
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="note_added")


def close_case(page: Page) -> Response:
    case_id = page.param("case")
    try:
        cases_service.close_case(
            page.ctx,
            staff=page.staff,
            case_id=case_id,
            changes=page.text("changes"),
            verify=page.text("verify"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="case_closed")
