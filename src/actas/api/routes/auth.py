"""Staff sign-in and sign-out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from actas.api.deps import ServicesDep, StaffDep
from actas.api.responses.system import PasskeyRequestOptions
from actas.api.schemas import LoginIn, LoginOut
from actas.http.callers import request_actor
from actas.services import passkeys
from actas.services import staff as staff_service

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.post("/login", summary="Sign in with email, password and a TOTP code")
def login(body: LoginIn, request: Request, response: Response, ctx: ServicesDep) -> LoginOut:
    """The token comes back in the body only: the API takes bearer tokens, never a cookie, so
    that no browser can send it on a cross-site request by itself. The console has its own
    sign-in, with a cookie, CSRF tokens and an Origin check."""
    signed = staff_service.login(
        ctx,
        email=body.email,
        password=body.password,
        code=body.code,
        by=request_actor(request, None),
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        token=signed.token,
        expires_at=signed.session.expires_at,
        staff_id=signed.staff.id,
        roles=sorted(signed.staff.roles),
    )


@router.post("/logout", status_code=204, summary="End the current staff session")
def logout(caller: StaffDep, ctx: ServicesDep) -> Response:
    staff_service.logout(ctx, staff=caller.staff, session=caller.session, by=caller.actor)
    return Response(status_code=204)


@router.post(
    "/step-up/passkey-options",
    summary="WebAuthn request options for a step-up with one of your passkeys",
    description="Answer with `navigator.credentials.get`, then send the response as JSON in "
    "`assertion` to `.../start` or `.../approve` instead of a `code` (the challenge works once, "
    "for five minutes, for you only; user verification is required).",
    response_model=PasskeyRequestOptions,
)
def step_up_options(caller: StaffDep, ctx: ServicesDep) -> Response:
    options = passkeys.step_up_options(ctx, caller.staff)
    return Response(options, media_type="application/json", headers={"Cache-Control": "no-store"})
