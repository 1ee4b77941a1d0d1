"""Who is calling, and what an edge may reach: the service context and the settings the app
was built with (never the store, the engine or the keys themselves)."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from actas.domain.audit import Actor
from actas.services.context import ServiceContext
from actas.settings import Settings

#: The staff session cookie of the API and the console. ``__Host-``: the browser keeps it only if
#: Secure, Path=/ and without Domain, so no sibling host can plant or shadow it; and it never
#: collides with the SDK's cookie in a host app.
SESSION_COOKIE = "__Host-actas_staff"
MAX_UA = 300


def services_of(request: HTTPConnection) -> ServiceContext:
    services: ServiceContext = request.app.state.services
    return services


def settings_of(request: HTTPConnection) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def bearer(request: HTTPConnection) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def request_actor(request: HTTPConnection, actor_id: str | None) -> Actor:
    ua = request.headers.get("user-agent")
    return Actor(
        id=actor_id,
        ip=request.client.host if request.client else None,
        user_agent=ua[:MAX_UA] if ua else None,
    )
