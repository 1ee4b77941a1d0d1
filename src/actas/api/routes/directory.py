"""Accounts and subjects, upserted by the application with its credential."""

from __future__ import annotations

from fastapi import APIRouter, Response

from actas.api.deps import AppDep, ServicesDep
from actas.api.schemas import AccountIn, AccountOut, SubjectIn, SubjectOut
from actas.services import applications as app_service

router = APIRouter(prefix="/v1", tags=["directory"])


@router.put(
    "/accounts/{account_id}",
    summary="Create or update an account (application credential)",
    responses={201: {"description": "Created", "model": AccountOut}},
)
def put_account(
    account_id: str, body: AccountIn, caller: AppDep, ctx: ServicesDep, response: Response
) -> AccountOut:
    account, created = app_service.upsert_account(
        ctx,
        app=caller.application,
        account_id=account_id,
        name=body.name,
        flags=frozenset(body.flags),
        handoff_url=body.handoff_url,
        by=caller.actor,
    )
    response.status_code = 201 if created else 200
    return AccountOut(
        id=account.id,
        application=account.application_id,
        name=account.name,
        flags=sorted(account.flags),
        handoff_url=account.handoff_url,
        updated_at=account.updated_at,
    )


@router.put(
    "/subjects/{subject_id}",
    summary="Create or update a subject (application credential)",
    responses={201: {"description": "Created", "model": SubjectOut}},
)
def put_subject(
    subject_id: str, body: SubjectIn, caller: AppDep, ctx: ServicesDep, response: Response
) -> SubjectOut:
    subject, created = app_service.upsert_subject(
        ctx,
        app=caller.application,
        subject_id=subject_id,
        account_id=body.account,
        email=body.email,
        email_verified=body.email_verified,
        display_name=body.display_name,
        privileged=body.privileged,
        by=caller.actor,
    )
    response.status_code = 201 if created else 200
    return SubjectOut(
        id=subject.id,
        application=subject.application_id,
        account=subject.account_id,
        email=subject.email,
        email_verified=subject.email_verified,
        display_name=subject.display_name,
        privileged=subject.privileged,
        updated_at=subject.updated_at,
    )
