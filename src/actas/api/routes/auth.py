"""Staff sign-in and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from actas.api.deps import SESSION_COOKIE, BrokerDep, StaffDep, request_actor
from actas.api.schemas import LoginIn, LoginOut
from actas.services import staff as staff_service

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/login", summary="Sign in with email, password and a TOTP code")
def login(body: LoginIn, request: Request, response: Response, broker: BrokerDep) -> LoginOut:
    signed = staff_service.login(
        broker.services,
        email=body.email,
        password=body.password,
        code=body.code,
        by=request_actor(request, None),
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=broker.settings.staff_session_ttl,
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        token=signed.token,
        expires_at=signed.session.expires_at,
        staff_id=signed.staff.id,
        roles=sorted(signed.staff.roles),
    )


@router.post("/logout", status_code=204, summary="End the current staff session")
def logout(caller: StaffDep, response: Response, broker: BrokerDep) -> Response:
    staff_service.logout(
        broker.services, staff=caller.staff, session=caller.session, by=caller.actor
    )
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    response.status_code = 204
    return response
