"""The shared scenario of the access tests: an application with one account and subject, an
agent (alice), a lead (lucy) and security (sam), and helpers to walk a session's life."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from actas.bootstrap import Broker
from actas.domain.audit import AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.services import audit as audit_service
from tests.conftest import People, Persona

HANDOFF = "https://notes.test/actas/handoff"


@dataclass
class World:
    client: TestClient
    broker: Broker
    clock: FrozenClock
    people: People
    app_headers: dict[str, str]
    alice: Persona  # agent
    lucy: Persona  # lead
    sam: Persona  # security

    def as_(self, who: Persona) -> dict[str, str]:
        return self.people.login(self.client, who)

    def code(self, who: Persona) -> str:
        self.clock.advance(30)  # a fresh step, never used before
        return who.code(self.clock)

    def events(self, **filters: Any) -> list[dict[str, Any]]:
        return audit_service.read_events(self.broker.services, AuditQuery(limit=1000, **filters))

    def types_for_session(self, session_id: str) -> list[str]:
        return [e["type"] for e in self.events() if e["session"] == session_id]


@pytest.fixture
def world(
    client: TestClient,
    broker: Broker,
    clock: FrozenClock,
    people: People,
    demo_app: tuple[str, dict[str, str]],
) -> World:
    _, headers = demo_app
    assert (
        client.put("/v1/accounts/acme", headers=headers, json={"name": "Acme"}).status_code == 201
    )
    subject = {"account": "acme", "display_name": "Jane", "email": "jane@customer.test"}
    assert client.put("/v1/subjects/u-1", headers=headers, json=subject).status_code == 201
    return World(
        client=client,
        broker=broker,
        clock=clock,
        people=people,
        app_headers=headers,
        alice=people.add("alice", Role.AGENT),
        lucy=people.add("lucy", Role.LEAD),
        sam=people.add("sam", Role.SECURITY),
    )


def set_flags(world: World, *flags: str) -> None:
    response = world.client.put(
        "/v1/accounts/acme", headers=world.app_headers, json={"name": "Acme", "flags": list(flags)}
    )
    assert response.status_code == 200, response.text


def open_case(world: World, headers: dict[str, str]) -> str:
    response = world.client.post(
        "/v1/cases",
        headers=headers,
        json={
            "application": "notes",
            "subject": "u-1",
            "ticket": "ZD-4711",
            "reason_code": "bug_reproduction",
            "reason": "Export button fails with error 500",
        },
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ask(world: World, headers: dict[str, str], case: str, minutes: int = 15, **extra: Any) -> Any:
    body = {"case": case, "kind": "impersonate", "scopes": ["read"], "minutes": minutes, **extra}
    return world.client.post("/v1/access-requests", headers=headers, json=body)


def started_session(world: World, minutes: int = 15) -> tuple[str, str, dict[str, str]]:
    """An allowed request started by alice: (session id, handoff code, alice's headers)."""
    headers = world.as_(world.alice)
    case = open_case(world, headers)
    request = ask(world, headers, case, minutes=minutes).json()
    assert request["state"] == "approved", request
    start = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=headers,
        json={"code": world.code(world.alice)},
    )
    assert start.status_code == 200, start.text
    body = start.json()
    return body["session"]["id"], body["handoff_code"], headers


def redeem(world: World, code: str, handoff_url: str = HANDOFF, headers: Any = None) -> Any:
    return world.client.post(
        "/v1/handoff/redeem",
        headers=headers or world.app_headers,
        json={"code": code, "handoff_url": handoff_url},
    )


def refresh(world: World, session: str, handle: str) -> Any:
    return world.client.post(
        f"/v1/sessions/{session}/refresh",
        headers=world.app_headers,
        json={"refresh_handle": handle},
    )
