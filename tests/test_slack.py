"""Approving from Slack: signed requests only, mapped staff only, idempotent, never high risk."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from actas.app import create_app
from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.services import staff as staff_service
from actas.settings import Secret, SlackSettings
from tests.conftest import People
from tests.scenario import World, ask, open_case, set_flags

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


@pytest.fixture
def slack_world(
    broker: Broker,
    clock: FrozenClock,
    people: People,
    demo_app: tuple[str, dict[str, str]],
) -> Iterator[World]:
    broker.settings = dataclasses.replace(
        broker.settings, slack=SlackSettings(signing_secret=Secret(SECRET))
    )
    with TestClient(create_app(broker), base_url="https://broker.test") as client:
        _, headers = demo_app
        client.put(
            "/v1/accounts/acme", headers=headers, json={"name": "Acme", "flags": ["flagged"]}
        )
        client.put(
            "/v1/subjects/u-1", headers=headers, json={"account": "acme", "display_name": "Jane"}
        )
        world = World(
            client=client,
            broker=broker,
            clock=clock,
            people=people,
            app_headers=headers,
            alice=people.add("alice", Role.AGENT),
            lucy=people.add("lucy", Role.LEAD),
            sam=people.add("sam", Role.SECURITY),
        )
        staff_service.link_slack(
            broker.services, email=world.lucy.email, slack_user_id="ULUCY", by=Actor(id="t")
        )
        staff_service.link_slack(
            broker.services, email=world.alice.email, slack_user_id="UALICE", by=Actor(id="t")
        )
        yield world


def click(
    world: World,
    action: str,
    value: str,
    *,
    user: str = "ULUCY",
    secret: str = SECRET,
    age: int = 0,
) -> Any:
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "actions": [{"action_id": action, "value": value, "action_ts": "1700000000.1"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    timestamp = str(int(world.clock().timestamp()) - age)
    base = b"v0:" + timestamp.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return world.client.post(
        "/v1/slack/interactions",
        content=body,
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-slack-request-timestamp": timestamp,
            "x-slack-signature": signature,
        },
    )


def pending_request(world: World, **extra: Any) -> str:
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice), **extra).json()
    assert request["state"] == "pending_approval", request
    return str(request["id"])


def state(world: World, request_id: str) -> str:
    return str(
        world.client.get(f"/v1/access-requests/{request_id}", headers=world.as_(world.sam)).json()[
            "state"
        ]
    )


def test_approve_button_approves_once(slack_world: World) -> None:
    request_id = pending_request(slack_world)
    first = click(slack_world, "approve", request_id)
    assert first.status_code == 200
    assert "approved" in first.json()["text"]
    again = click(slack_world, "approve", request_id)  # Slack retries the same delivery
    assert again.status_code == 200
    assert state(slack_world, request_id) == "approved"
    approvals = list(slack_world.events(type="access.approved"))
    assert len(approvals) == 1
    assert approvals[0]["data"]["via"] == "slack"
    assert approvals[0]["actor"] == slack_world.lucy.id


def test_deny_button_denies(slack_world: World) -> None:
    request_id = pending_request(slack_world)
    assert "denied" in click(slack_world, "deny", request_id).json()["text"]
    assert state(slack_world, request_id) == "denied"


@pytest.mark.parametrize(
    ("secret", "age"),
    [("wrong-secret-0000000000000000000", 0), (SECRET, 6 * 60), (SECRET, -6 * 60)],
)
def test_bad_or_stale_signature_changes_nothing(slack_world: World, secret: str, age: int) -> None:
    request_id = pending_request(slack_world)
    before = len(slack_world.events())
    response = click(slack_world, "approve", request_id, secret=secret, age=age)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert len(slack_world.events()) == before  # nothing at all was written
    assert state(slack_world, request_id) == "pending_approval"


def test_unlinked_slack_user_changes_nothing(slack_world: World) -> None:
    request_id = pending_request(slack_world)
    response = click(slack_world, "approve", request_id, user="UNOBODY")
    assert "not linked" in response.json()["text"]
    assert state(slack_world, request_id) == "pending_approval"


def test_requester_cannot_approve_from_slack(slack_world: World) -> None:
    request_id = pending_request(slack_world)
    response = click(slack_world, "approve", request_id, user="UALICE")
    assert "Nothing changed" in response.json()["text"]
    assert state(slack_world, request_id) == "pending_approval"


def test_high_risk_requests_are_not_approved_from_slack(slack_world: World) -> None:
    set_flags(slack_world, "flagged")
    lucy = slack_world.as_(slack_world.lucy)
    request = ask(slack_world, lucy, open_case(slack_world, lucy), scopes=["write"]).json()
    assert request["decision"]["high_risk"] is True
    staff_service.link_slack(
        slack_world.broker.services,
        email=slack_world.sam.email,
        slack_user_id="USAM",
        by=Actor(id="t"),
    )
    response = click(slack_world, "approve", request["id"], user="USAM")
    assert "console" in response.json()["text"]
    assert state(slack_world, request["id"]) == "pending_approval"


def test_slack_not_configured_is_404(client: TestClient) -> None:
    response = client.post("/v1/slack/interactions", content=b"payload=%7B%7D")
    assert response.status_code == 404
