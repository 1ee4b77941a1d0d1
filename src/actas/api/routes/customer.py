"""The customer's side, called by the application with its credential: consent grants, support
access codes, the account's own policy and the access history. Support has no route here that
creates, extends or changes a grant: the only staff route takes a code the customer read out.
A broker admin sets an account's flags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from actas.api.deps import AppDep, ServicesDep, StaffDep
from actas.api.openapi import answers
from actas.api.responses.access import session_out
from actas.api.responses.customer import (
    CodeOut,
    FlagsOut,
    GrantOut,
    GrantsOut,
    HistoryOut,
    PolicyOut,
)
from actas.api.schemas import Strict
from actas.domain.consent import GRANT_MINUTES, AccessCode, CustomerPolicy, Grant
from actas.domain.subjects import AccountFlag
from actas.services import access_codes, consent, customer_policy

router = APIRouter(prefix="/v1", tags=["customer"])

_SUBJECT = "/customers/{subject_id}"


class GrantIn(Strict):
    minutes: int = Field(
        description="one of the policy's grant_minutes (by default "
        f"{', '.join(map(str, GRANT_MINUTES))})"
    )
    read_only: bool = False
    case: str | None = Field(default=None, min_length=1, max_length=36)


class CodeIn(Strict):
    #: None: the shortest of the policy's grant_minutes.
    grant_minutes: int | None = None
    read_only: bool = False
    ttl_minutes: int = Field(default=10, ge=1, le=access_codes.MAX_CODE_MINUTES)


class PolicyIn(Strict):
    rule: str = Field(pattern="^(never|consent|default)$")
    notify_every_session: bool = False


class ContractIn(Strict):
    contract_access: bool


class EnterCodeIn(Strict):
    code: str = Field(min_length=1, max_length=40)


class FlagsIn(Strict):
    flags: list[AccountFlag] = Field(max_length=len(AccountFlag))


def grant_out(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "account": grant.account_id,
        "granted_by": grant.granted_by,
        "source": grant.source.value,
        "read_only": grant.read_only,
        "scopes": sorted(grant.scopes),
        "created_at": grant.created_at,
        "expires_at": grant.expires_at,
        "case": grant.case_id,
        "staff": grant.staff_id,
        "revoked_at": grant.revoked_at,
    }


def code_out(code: AccessCode) -> dict[str, Any]:
    return {
        "id": code.id,
        "issued_at": code.issued_at,
        "expires_at": code.expires_at,
        "grant_minutes": code.grant_minutes,
        "read_only": code.read_only,
        "used_at": code.used_at,
        "locked_at": code.locked_at,
    }


def policy_out(policy: CustomerPolicy) -> dict[str, Any]:
    return {
        "account": policy.account_id,
        "rule": policy.rule.value,
        "notify_every_session": policy.notify_every_session,
        "contract_access": policy.contract_access,
        "updated_at": policy.updated_at,
    }


@router.get(
    _SUBJECT + "/grants", summary="The account's consent grants (app)", response_model=GrantsOut
)
def list_grants(subject_id: str, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    grants = consent.grants_of(ctx, app=caller.application, subject_id=subject_id)
    return {"grants": [grant_out(g) for g in grants]}


@router.post(
    _SUBJECT + "/grants",
    status_code=201,
    summary="The customer grants access (app)",
    response_model=GrantOut,
)
def create_grant(
    subject_id: str, body: GrantIn, caller: AppDep, ctx: ServicesDep
) -> dict[str, Any]:
    grant = consent.grant_access(
        ctx,
        app=caller.application,
        subject_id=subject_id,
        minutes=body.minutes,
        read_only=body.read_only,
        case_id=body.case,
        by=caller.actor,
    )
    return grant_out(grant)


@router.post(
    _SUBJECT + "/grants/{grant_id}/revoke",
    summary="The customer revokes (app)",
    response_model=GrantOut,
)
def revoke_grant(
    subject_id: str, grant_id: str, caller: AppDep, ctx: ServicesDep
) -> dict[str, Any]:
    grant = consent.revoke_grant(
        ctx, app=caller.application, subject_id=subject_id, grant_id=grant_id, by=caller.actor
    )
    return grant_out(grant)


@router.post(
    _SUBJECT + "/access-codes",
    status_code=201,
    summary="A code to read out (app)",
    response_model=CodeOut,
)
def create_code(subject_id: str, body: CodeIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    issued = access_codes.issue_code(
        ctx,
        app=caller.application,
        subject_id=subject_id,
        grant_minutes=body.grant_minutes,
        read_only=body.read_only,
        ttl_minutes=body.ttl_minutes,
        by=caller.actor,
    )
    return {"code": issued.code, **code_out(issued.record)}


@router.get(
    _SUBJECT + "/policy", summary="The account's own policy (app)", response_model=PolicyOut
)
def get_policy(subject_id: str, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    return policy_out(
        customer_policy.get_policy(ctx, app=caller.application, subject_id=subject_id)
    )


@router.put(
    _SUBJECT + "/policy",
    summary="The customer sets the account's policy (app)",
    response_model=PolicyOut,
)
def put_policy(subject_id: str, body: PolicyIn, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    policy = customer_policy.set_policy(
        ctx,
        app=caller.application,
        subject_id=subject_id,
        rule=body.rule,
        notify_every_session=body.notify_every_session,
        by=caller.actor,
    )
    return policy_out(policy)


@router.get(
    _SUBJECT + "/history", summary="Every session on the account (app)", response_model=HistoryOut
)
def get_history(subject_id: str, caller: AppDep, ctx: ServicesDep) -> dict[str, Any]:
    entries = customer_policy.history(ctx, app=caller.application, subject_id=subject_id)
    return {
        "sessions": [
            {
                **session_out(e.session),
                "staff_name": e.staff_name,
                "staff_roles": list(e.staff_roles),
                "approved_by": list(e.approved_by),
                "reason_code": e.reason_code,
                "viewed": list(e.viewed),
                "written": list(e.written),
            }
            for e in entries
        ]
    }


@router.put(
    "/accounts/{account_id}/contract",
    summary="The contract requires access (app)",
    response_model=PolicyOut,
)
def put_contract(
    account_id: str, body: ContractIn, caller: AppDep, ctx: ServicesDep
) -> dict[str, Any]:
    policy = customer_policy.set_contract_access(
        ctx,
        app=caller.application,
        account_id=account_id,
        contract_access=body.contract_access,
        by=caller.actor,
    )
    return policy_out(policy)


@router.post(
    "/cases/{case_id}/access-code",
    summary="Enter the code the customer read out",
    response_model=GrantOut,
)
@answers(429)  # too many wrong codes: the code locks
def enter_code(
    case_id: str, body: EnterCodeIn, caller: StaffDep, ctx: ServicesDep
) -> dict[str, Any]:
    grant = access_codes.enter_code(
        ctx, staff=caller.staff, case_id=case_id, code=body.code, by=caller.actor
    )
    return grant_out(grant)


@router.put(
    "/applications/{application_id}/accounts/{account_id}/flags",
    summary="Set an account's flags (admin); acts at once",
    response_model=FlagsOut,
)
def put_flags(
    application_id: str, account_id: str, body: FlagsIn, caller: StaffDep, ctx: ServicesDep
) -> dict[str, Any]:
    account = customer_policy.set_account_flags(
        ctx,
        application_id=application_id,
        account_id=account_id,
        flags=frozenset(body.flags),
        staff=caller.staff,
        by=caller.actor,
    )
    return {
        "application": account.application_id,
        "account": account.id,
        "flags": sorted(f.value for f in account.flags),
    }
