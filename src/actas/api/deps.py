"""Request dependencies: who is calling (staff session or application credential), with what
roles, and the service context each route calls into."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from actas.domain.audit import Actor
from actas.domain.errors import AuthenticationFailed, Forbidden
from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import Application
from actas.http.callers import bearer, request_actor, services_of, settings_of
from actas.services import applications as app_service
from actas.services import staff as staff_service
from actas.services.context import ServiceContext
from actas.settings import Settings

ServicesDep = Annotated[ServiceContext, Depends(services_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]


@dataclass(frozen=True)
class StaffCaller:
    staff: Staff
    session: StaffSession
    actor: Actor


def current_staff(request: Request, ctx: ServicesDep) -> StaffCaller:
    """The staff member named by the ``Authorization: Bearer`` token, and by nothing else.

    The console's session cookie is deliberately not read here: a browser attaches it to
    cross-site requests by itself, and the API has no CSRF token or Origin check (the console
    has both). A bearer token must be put on each request by code that holds it (finding 3)."""
    token = bearer(request)
    if not token:
        raise AuthenticationFailed("sign in first: send the staff token as a Bearer token")
    staff, session = staff_service.authenticate(ctx, token)
    return StaffCaller(staff=staff, session=session, actor=request_actor(request, staff.id))


StaffDep = Annotated[StaffCaller, Depends(current_staff)]


def require_roles(*roles: Role) -> Callable[[StaffCaller], StaffCaller]:
    allowed = frozenset(roles)
    names = " or ".join(r.value for r in roles)

    def check(caller: StaffDep) -> StaffCaller:
        if not caller.staff.has_any(allowed):
            raise Forbidden(f"this needs the {names} role")
        return caller

    return check


@dataclass(frozen=True)
class AppCaller:
    application: Application
    actor: Actor


def current_application(request: Request, ctx: ServicesDep) -> AppCaller:
    token = bearer(request)
    if not token:
        raise AuthenticationFailed("send the application credential as a Bearer token")
    app = app_service.authenticate_application(ctx, token)
    return AppCaller(application=app, actor=request_actor(request, f"app:{app.id}"))


AppDep = Annotated[AppCaller, Depends(current_application)]
