"""The application asks for a one-time sign-in to the customer page for one of its subjects."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from actas.api.deps import AppDep, ServicesDep, StaffDep
from actas.api.responses.customer import AskedOut, PageCodeOut
from actas.api.schemas import Strict
from actas.services import consent_notices, customer_page

router = APIRouter(prefix="/v1", tags=["customer"])


class PageIn(Strict):
    #: The application says who administers the account: only they may change its policy.
    account_admin: bool = Field(default=False)


@router.post(
    "/customers/{subject_id}/page",
    status_code=201,
    summary="A one-time sign-in to the customer page (app)",
)
def page_code(subject_id: str, body: PageIn, caller: AppDep, ctx: ServicesDep) -> PageCodeOut:
    issued = customer_page.issue_code(
        ctx,
        app=caller.application,
        subject_id=subject_id,
        account_admin=body.account_admin,
        by=caller.actor,
    )
    return PageCodeOut(url=issued.url, code=issued.code, expires_at=issued.expires_at)


@router.post(
    "/cases/{case_id}/ask-consent",
    status_code=202,
    summary="Ask the customer by email to grant access (staff)",
)
def ask_consent(case_id: str, caller: StaffDep, ctx: ServicesDep) -> AskedOut:
    outbox_id = consent_notices.ask_for_consent(
        ctx, staff=caller.staff, case_id=case_id, by=caller.actor
    )
    return AskedOut(email=outbox_id)
