"""Staff administration (role ``admin``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from actas.api.deps import ServicesDep, StaffCaller, StaffDep, require_roles
from actas.api.responses.system import DisabledOut
from actas.api.schemas import EnrollmentOut, RolesIn, StaffIn, StaffOut
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.services import staff as staff_service

router = APIRouter(prefix="/v1/staff", tags=["staff"])
Admin = Annotated[StaffCaller, Depends(require_roles(Role.ADMIN))]


def _out(member: Staff) -> StaffOut:
    return StaffOut(
        id=member.id,
        email=member.email,
        display_name=member.display_name,
        roles=sorted(member.roles),
        disabled=not member.active,
    )


@router.get("/me", summary="The signed-in staff member")
def me(caller: StaffDep) -> StaffOut:
    return _out(caller.staff)


@router.get("", summary="Every staff member")
def list_staff(_: Admin, ctx: ServicesDep) -> list[StaffOut]:
    return [_out(m) for m in staff_service.list_staff(ctx)]


@router.post("", status_code=201, summary="Add a staff member; returns the TOTP enrollment URI")
def add(body: StaffIn, caller: Admin, ctx: ServicesDep) -> EnrollmentOut:
    enrollment = staff_service.add_staff(
        ctx,
        email=body.email,
        display_name=body.display_name,
        roles=frozenset(body.roles),
        password=body.password,
        by=caller.actor,
    )
    return EnrollmentOut(staff=_out(enrollment.staff), otpauth_uri=enrollment.otpauth_uri)


@router.post(
    "/{staff_id}/disable",
    summary="Disable and end every session at once",
    response_model=DisabledOut,
)
def disable(staff_id: str, caller: Admin, ctx: ServicesDep) -> dict[str, int]:
    member = staff_service.get_staff(ctx, staff_id)
    ended = staff_service.disable_staff(ctx, email=member.email, by=caller.actor)
    return {"sessions_ended": ended}


@router.post("/{staff_id}/enable", status_code=204, summary="Enable a disabled staff member")
def enable(staff_id: str, caller: Admin, ctx: ServicesDep) -> None:
    member = staff_service.get_staff(ctx, staff_id)
    staff_service.enable_staff(ctx, email=member.email, by=caller.actor)


@router.put("/{staff_id}/roles", summary="Replace a staff member's roles")
def set_roles(staff_id: str, body: RolesIn, caller: Admin, ctx: ServicesDep) -> StaffOut:
    member = staff_service.get_staff(ctx, staff_id)
    staff_service.set_roles(ctx, email=member.email, roles=frozenset(body.roles), by=caller.actor)
    return _out(staff_service.get_staff(ctx, staff_id))
