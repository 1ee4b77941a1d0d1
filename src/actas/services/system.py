"""The broker's own health, for load balancers and orchestrators."""

from __future__ import annotations

from actas.services.context import ServiceContext


def ready(ctx: ServiceContext) -> None:
    """Reach the database; raises ``Unavailable`` when it does not answer."""
    with ctx.read() as uow:
        uow.ping()
