"""Links and verification codes over the API: the application issues and redeems one-time
links with its credential; staff on a case send a code, check it and send a link. No response
ever carries a link token or a code: they go to the customer's verified email only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from actas.api.deps import AppDep, ServicesDep, StaffDep
from actas.api.responses.access import FlowOut, IssuedLinkOut, RedeemedLinkOut, VerificationOut
from actas.api.schemas import Strict
from actas.domain.links import Verification
from actas.services import links as link_service
from actas.services import support_flow
from actas.services import verification as verification_service

router = APIRouter(prefix="/v1", tags=["links and codes"])


class LinkIn(Strict):
    subject: str = Field(min_length=1, max_length=128)
    purpose: str = Field(min_length=1, max_length=40)


class RedeemLinkIn(Strict):
    token: str = Field(min_length=1, max_length=256)
    purpose: str = Field(min_length=1, max_length=40)


class CaseLinkIn(Strict):
    purpose: str = Field(min_length=1, max_length=40)
    why: str = Field(default="", max_length=2000, description="Why this rung, for the case")


class CodeIn(Strict):
    code: str = Field(min_length=1, max_length=32)


def issued_out(issued: link_service.IssuedLink) -> dict[str, Any]:
    return {
        "id": issued.id,
        "purpose": issued.purpose.value,
        "subject": issued.subject_id,
        "expires_at": issued.expires_at,
        "status": "queued",
    }


def verification_out(v: Verification) -> dict[str, Any]:
    return {
        "id": v.id,
        "case": v.case_id,
        "method": v.method,
        "status": v.status.value,
        "requested_by": v.requested_by,
        "issued_at": v.issued_at,
        "expires_at": v.expires_at,
        "attempts": v.attempts,
        "decided_at": v.decided_at,
        "decided_by": v.decided_by,
        "email": support_flow.email_state(v),
    }


@router.post(
    "/links",
    status_code=202,
    summary="Email a one-time link to a subject (app)",
    response_model=IssuedLinkOut,
)
def issue_link(body: LinkIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    issued = link_service.issue_link(
        ctx,
        application=caller.application,
        subject_id=body.subject,
        purpose=body.purpose,
        by=caller.actor,
    )
    return issued_out(issued)


@router.post(
    "/links/redeem",
    summary="Use up a one-time link: its subject (app)",
    response_model=RedeemedLinkOut,
)
def redeem_link(body: RedeemLinkIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    redeemed = link_service.redeem_link(
        ctx,
        application=caller.application,
        token=body.token,
        purpose=body.purpose,
        by=caller.actor,
    )
    return {
        "id": redeemed.id,
        "subject": redeemed.subject_id,
        "account": redeemed.account_id,
        "purpose": redeemed.purpose.value,
        "issued_at": redeemed.issued_at,
        "redeemed_at": redeemed.redeemed_at,
    }


@router.post(
    "/cases/{case_id}/links",
    status_code=202,
    summary="Email the case subject a link (staff)",
    response_model=IssuedLinkOut,
)
def case_link(case_id: str, body: CaseLinkIn, caller: StaffDep, ctx: ServicesDep) -> Any:
    issued = support_flow.send_case_link(
        ctx,
        staff=caller.staff,
        case_id=case_id,
        purpose=body.purpose,
        why=body.why,
        by=caller.actor,
    )
    return issued_out(issued)


@router.post(
    "/cases/{case_id}/verifications",
    status_code=202,
    summary="Email the case subject a verification code (staff)",
    response_model=VerificationOut,
)
def send_code(case_id: str, caller: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    sent = verification_service.send_code(ctx, staff=caller.staff, case_id=case_id, by=caller.actor)
    return verification_out(sent)


@router.post(
    "/verifications/{verification_id}/check",
    summary="Check the code read back",
    response_model=VerificationOut,
)
def check_code(
    verification_id: str, body: CodeIn, caller: StaffDep, ctx: ServicesDep
) -> dict[str, Any]:
    checked = verification_service.check_code(
        ctx,
        staff=caller.staff,
        verification_id=verification_id,
        code=body.code,
        by=caller.actor,
    )
    return verification_out(checked)


@router.get(
    "/cases/{case_id}/flow",
    summary="The five steps of the safe support flow",
    response_model=FlowOut,
)
def flow(case_id: str, _: StaffDep, ctx: ServicesDep) -> dict[str, Any]:
    found = support_flow.support_flow(ctx, case_id)
    return {
        "steps": [{"name": s.name, "done": s.done, "detail": s.detail} for s in found.steps],
        "close_out_email": found.close_out,
        "customer_confirmed": found.confirmation,
    }
