"""The second rung from the case page: send a verification code, enter the code the customer
reads back, send the customer a one-time link. Staff see that a code or link went out and
whether the outbox delivered it; never the code or the link."""

from __future__ import annotations

from starlette.responses import Response

from actas.console.customer_pages import case_page
from actas.console.web import Page, path
from actas.domain.errors import ActasError
from actas.services import access_codes, consent_notices, support_flow
from actas.services import verification as verification_service


def send_code(page: Page) -> Response:
    case_id = page.param("case")
    try:
        verification_service.send_code(
            page.ctx, staff=page.staff, case_id=case_id, by=page.me.actor
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="code_queued")


def check_code(page: Page) -> Response:
    case_id = page.param("case")
    try:
        verification_service.check_code(
            page.ctx,
            staff=page.staff,
            verification_id=page.text("verification", limit=64),
            code=page.text("code", limit=32),
            by=page.me.actor,
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="code_verified")


def send_link(page: Page) -> Response:
    case_id = page.param("case")
    try:
        support_flow.send_case_link(
            page.ctx,
            staff=page.staff,
            case_id=case_id,
            purpose=page.text("purpose", limit=40),
            why=page.text("why"),
            by=page.me.actor,
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="link_queued")


def enter_access_code(page: Page) -> Response:
    """The customer read a support access code out: it becomes a grant for this case and this
    staff member (the service counts and audits wrong guesses)."""
    case_id = page.param("case")
    try:
        access_codes.enter_code(
            page.ctx,
            staff=page.staff,
            case_id=case_id,
            code=page.text("code", limit=40),
            by=page.me.actor,
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="access_code_used")


def ask_consent(page: Page) -> Response:
    """Email the customer asking them to grant access from the customer page."""
    case_id = page.param("case")
    try:
        consent_notices.ask_for_consent(
            page.ctx, staff=page.staff, case_id=case_id, by=page.me.actor
        )
    except ActasError as exc:
        return case_page(page, case_id, status=page.failed(exc))
    return page.redirect(path("cases", case_id), done="consent_asked")
