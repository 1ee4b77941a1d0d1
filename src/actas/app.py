"""The application factory: the API and the console on one ASGI app, and the background work
a broker process runs (checkpoints, the sweeper, outbox delivery, the revocation listener).

It sits above ``api`` and ``console`` (both are mounted here, neither imports the other) and
beside ``bootstrap``: it is the only web module that holds the whole :class:`Broker`. The
routes and pages get the service context and the settings, nothing more."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from actas import __version__
from actas.api import docs, openapi
from actas.api.routes import (
    access,
    audit,
    auth,
    customer,
    customer_page,
    directory,
    host_app,
    links,
    metrics,
    revocations,
    scim,
    slack,
    staff,
    system,
)
from actas.bootstrap import Broker, build
from actas.console import router as console_router
from actas.console.customer_actions import router as customer_router
from actas.console.customer_page import router as customer_page_router
from actas.domain.errors import Unavailable
from actas.http import logs, problems
from actas.http.observe import Observe
from actas.notify.outbox import OutboxRunner, start_delivery
from actas.services import audit as audit_service
from actas.services import revocations as revocation_service
from actas.services import sweep
from actas.settings import load_settings

log = logging.getLogger("actas")


async def _checkpoint_loop(broker: Broker, interval: float) -> None:
    """Sign the head of the log regularly, so a truncated tail is caught within ``interval``."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(audit_service.checkpoint, broker.services)
        except (SQLAlchemyError, Unavailable):
            log.exception("audit checkpoint failed; will retry")


async def _sweep_loop(broker: Broker, interval: float) -> None:
    """End sessions at their hard expiry or idle limit even when nobody asks for them again."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(sweep.sweep, broker.services)
        except (SQLAlchemyError, Unavailable):
            log.exception("session sweep failed; will retry")


def create_app(
    broker: Broker,
    *,
    checkpoint_interval: float | None = None,
    sweep_interval: float | None = None,
    deliver_outbox: bool = False,
) -> FastAPI:
    """``deliver_outbox`` runs the announcement delivery worker (Slack, webhooks) while the
    app lives; tests leave it off and deliver explicitly."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if checkpoint_interval:
            tasks.append(asyncio.create_task(_checkpoint_loop(broker, checkpoint_interval)))
        if sweep_interval:
            tasks.append(asyncio.create_task(_sweep_loop(broker, sweep_interval)))
        runner: OutboxRunner | None = None
        if deliver_outbox:
            runner = start_delivery(broker.store, broker.settings, clock=broker.clock)
        listener = None
        if not broker.settings.is_sqlite:  # replicas hear each other's revocations
            from actas.revocation.pg_listener import start_listener

            services = broker.services
            listener = await asyncio.to_thread(
                start_listener,
                broker.settings.database_url,
                broker.bus,
                lambda after: revocation_service.backlog(services, after_seq=after),
            )
        try:
            yield
        finally:
            broker.bus.close()
            if listener is not None:
                await asyncio.to_thread(listener.stop)
            if runner is not None:
                await asyncio.to_thread(runner.stop)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            broker.engine.dispose()

    app = FastAPI(
        title="actas broker",
        version=__version__,
        description="Consented, time-boxed, audited support access.",
        lifespan=lifespan,
        # Our own /docs (api/docs.py): Swagger UI from the broker, under a strict CSP.
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = broker.services
    app.state.settings = broker.settings
    #: This process's revocation fan-out, read by /metrics (clients, lag).
    app.state.bus = broker.bus
    problems.install(app)
    routers = (
        system.router,
        auth.router,
        staff.router,
        directory.router,
        access.router,
        host_app.router,
        links.router,
        customer.router,
        customer_page.router,
        slack.router,
        revocations.router,
        audit.router,
        scim.router,
        docs.router,
        metrics.router,
        console_router,
        customer_router,
        customer_page_router,
    )
    for router in routers:
        app.include_router(router)
    app.add_middleware(problems.BodyLimit, limit=broker.settings.max_body_bytes)
    # Outermost: the request id is bound before anything else logs, and every answer counts.
    app.add_middleware(Observe)
    openapi.install(app, routers)
    return app


def from_environment() -> FastAPI:
    """The app ``actas serve`` runs, in each worker process: settings from ``ACTAS_*`` (or
    actas.toml), the system clock, and all the background work of a production broker."""
    logs.configure()
    broker = build(load_settings())
    return create_app(broker, checkpoint_interval=60.0, sweep_interval=5.0, deliver_outbox=True)
