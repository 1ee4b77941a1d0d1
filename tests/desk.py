"""A support desk for tests that call the services directly against the real store (SQLite
and PostgreSQL), with no HTTP in between."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from actas.bootstrap import Broker
from actas.domain.audit import Actor, AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import AccountFlag, Application
from actas.services import applications as app_service
from actas.services import audit as audit_service
from actas.services import staff as staff_service
from actas.services.context import ServiceContext
from tests.conftest import People, Persona

SETUP = Actor(id="test-setup")


@dataclass
class Desk:
    """A support desk: the services, the clock, one application, one customer, and staff."""

    ctx: ServiceContext
    clock: FrozenClock
    app: Application
    people: People
    alice: Persona
    lucy: Persona

    def staff(self, who: Persona) -> Staff:
        return staff_service.get_staff(self.ctx, who.id)

    def actor(self, who: Persona) -> Actor:
        return Actor(id=who.id, ip="127.0.0.1", user_agent="pytest")

    def code(self, who: Persona) -> str:
        self.clock.advance(30)  # a fresh TOTP step: codes are single use
        return who.code(self.clock)

    def types(self) -> list[str]:
        events = audit_service.read_events(self.ctx, AuditQuery(limit=1000))
        return [str(e["type"]) for e in events]

    def set_flags(self, *flags: AccountFlag) -> None:
        app_service.upsert_account(
            self.ctx,
            app=self.app,
            account_id="acme",
            name="Acme",
            flags=frozenset(flags),
            handoff_url=None,
            by=SETUP,
        )


@pytest.fixture
def desk(broker: Broker, clock: FrozenClock, people: People) -> Desk:
    return open_desk(broker, clock, people)


def open_desk(broker: Broker, clock: FrozenClock, people: People) -> Desk:
    """The desk's set-up, for tests that build their own broker (the stateful model)."""
    ctx = broker.services
    app = app_service.add_application(
        ctx,
        app_id="notes",
        name="Notes",
        handoff_url="https://notes.test/actas/handoff",
        by=SETUP,
    ).application
    app_service.upsert_account(
        ctx, app=app, account_id="acme", name="Acme", flags=frozenset(), handoff_url=None, by=SETUP
    )
    app_service.upsert_subject(
        ctx,
        app=app,
        subject_id="u-1",
        account_id="acme",
        email="jane@customer.test",
        email_verified=True,
        display_name="Jane",
        privileged=False,
        by=SETUP,
    )
    return Desk(
        ctx=ctx,
        clock=clock,
        app=app,
        people=people,
        alice=people.add("alice", Role.AGENT),
        lucy=people.add("lucy", Role.LEAD),
    )
