"""Request dependencies: who is calling (staff session or application credential), with what
roles, and the request metadata the audit log records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.domain.errors import AuthenticationFailed, Forbidden
from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import Application
from actas.services import applications as app_service
from actas.services import staff as staff_service

#: ``__Host-``: the browser keeps it only if Secure, Path=/ and without Domain, so no sibling
#: host can plant or shadow it; and it never collides with the SDK's cookie in a host app.
SESSION_COOKIE = "__Host-actas_staff"
MAX_UA = 300


def get_broker(request: Request) -> Broker:
    broker: Broker = request.app.state.broker
    return broker


BrokerDep = Annotated[Broker, Depends(get_broker)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def request_actor(request: Request, actor_id: str | None) -> Actor:
    ua = request.headers.get("user-agent")
    return Actor(
        id=actor_id,
        ip=request.client.host if request.client else None,
        user_agent=ua[:MAX_UA] if ua else None,
    )


@dataclass(frozen=True)
class StaffCaller:
    staff: Staff
    session: StaffSession
    actor: Actor


def current_staff(request: Request, broker: BrokerDep) -> StaffCaller:
    token = _bearer(request) or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise AuthenticationFailed("sign in first: no staff session was sent")
    staff, session = staff_service.authenticate(broker.services, token)
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


def current_application(request: Request, broker: BrokerDep) -> AppCaller:
    token = _bearer(request)
    if not token:
        raise AuthenticationFailed("send the application credential as a Bearer token")
    app = app_service.authenticate_application(broker.services, token)
    return AppCaller(application=app, actor=request_actor(request, f"app:{app.id}"))


AppDep = Annotated[AppCaller, Depends(current_application)]
