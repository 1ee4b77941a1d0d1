"""Staff sign-in: password plus a fresh TOTP code, sessions, roles; on both databases. The
throttle that replaced the lockout is in ``test_sign_in_throttle.py``."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from actas.bootstrap import Broker
from actas.domain.audit import AuditQuery
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.http.callers import SESSION_COOKIE
from actas.services import audit as audit_service
from actas.store.tables import audit_events
from tests.conftest import People, Persona


def login(client: TestClient, who: Persona, *, code: str, password: str | None = None) -> Any:
    return client.post(
        "/v1/auth/login",
        json={"email": who.email, "password": password or who.password, "code": code},
    )


def events(broker: Broker, type_: str | None = None) -> list[dict[str, Any]]:
    return audit_service.read_events(broker.services, AuditQuery(type=type_, limit=1000))


def event_count(broker: Broker) -> int:
    with broker.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


@pytest.fixture
def alice(people: People) -> Persona:
    return people.add("alice", Role.AGENT)


def test_sign_in_with_password_and_fresh_code(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    before = event_count(broker)
    response = login(client, alice, code=alice.code(clock))
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("actas_st_")
    assert body["roles"] == ["agent"]
    # The API answers with the token only: no cookie a browser could replay cross-site.
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    me = client.get("/v1/staff/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == alice.email
    # Exactly one event for the one state change, and no secret in it.
    assert event_count(broker) == before + 1
    (event,) = events(broker, "staff.login")
    assert event["actor"] == alice.id
    assert body["token"] not in str(event)


def test_the_api_takes_no_session_cookie(
    client: TestClient, alice: Persona, clock: FrozenClock
) -> None:
    client.cookies.clear()
    token = login(client, alice, code=alice.code(clock)).json()["token"]
    client.cookies.set(SESSION_COOKIE, token)
    assert client.get("/v1/staff/me").status_code == 401  # the cookie alone: nobody
    client.cookies.clear()
    me = client.get("/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200


def test_replayed_code_is_refused(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    code = alice.code(clock)
    assert login(client, alice, code=code).status_code == 200
    clock.advance(5)  # same 30 s step: a second sign-in with the same code
    replay = login(client, alice, code=code)
    assert replay.status_code == 401
    assert replay.headers["content-type"] == "application/problem+json"
    assert replay.json()["detail"] == "email, password or code is wrong"
    failed = events(broker, "staff.login_failed")
    assert [e["data"]["reason"] for e in failed] == ["totp_replayed"]


def test_older_code_after_a_newer_one_is_refused(
    client: TestClient, alice: Persona, clock: FrozenClock
) -> None:
    old = alice.code(clock)
    clock.advance(30)
    assert login(client, alice, code=alice.code(clock)).status_code == 200
    # `old` is still inside the one-step window, but its step is older than the last used.
    assert login(client, alice, code=old).status_code == 401


def test_code_two_steps_old_is_refused(
    client: TestClient, alice: Persona, clock: FrozenClock
) -> None:
    code = alice.code(clock)
    clock.advance(60)
    assert login(client, alice, code=code).status_code == 401


def test_code_one_step_old_is_accepted(
    client: TestClient, alice: Persona, clock: FrozenClock
) -> None:
    code = alice.code(clock)
    clock.advance(30)
    assert login(client, alice, code=code).status_code == 200


@pytest.mark.parametrize("case", ["wrong_code", "wrong_password", "unknown_email"])
def test_wrong_credentials_say_the_same_thing(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker, case: str
) -> None:
    code = alice.code(clock)
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    if case == "wrong_code":
        response = login(client, alice, code=wrong)
    elif case == "wrong_password":
        response = login(client, alice, code=code, password="not-the-password-at-all")
    else:
        response = client.post(
            "/v1/auth/login",
            json={"email": "nobody@staff.test", "password": "x" * 12, "code": code},
        )
    assert response.status_code == 401
    assert response.json()["detail"] == "email, password or code is wrong"
    assert response.headers["www-authenticate"] == "Bearer"
    (event,) = events(broker, "staff.login_failed")
    assert "nobody@staff.test" not in str(event)


def test_the_staff_cookie_is_host_prefixed_and_not_the_sdk_cookie() -> None:
    from actas_sdk._config import Config

    assert SESSION_COOKIE == "__Host-actas_staff"
    # In the demo both run on one host: the broker's cookie must never be the SDK's.
    assert Config.__dataclass_fields__["cookie_name"].default != SESSION_COOKIE


def test_disabled_staff_sessions_stop_at_once(
    client: TestClient, people: People, clock: FrozenClock, broker: Broker
) -> None:
    admin = people.add("root", Role.ADMIN)
    bob = people.add("bob", Role.AGENT)
    admin_headers = people.login(client, admin)
    bob_headers = people.login(client, bob)
    assert client.get("/v1/staff/me", headers=bob_headers).status_code == 200
    before = event_count(broker)
    response = client.post(f"/v1/staff/{bob.id}/disable", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 1}
    assert event_count(broker) == before + 1
    refused = client.get("/v1/staff/me", headers=bob_headers)
    assert refused.status_code == 401
    clock.advance(30)
    assert login(client, bob, code=bob.code(clock)).status_code == 401


def test_logout_ends_the_session(client: TestClient, people: People, alice: Persona) -> None:
    headers = people.login(client, alice)
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/v1/staff/me", headers=headers).status_code == 401


def test_idle_and_absolute_expiry(
    client: TestClient, people: People, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    headers = people.login(client, alice)
    clock.advance(broker.settings.staff_session_idle + 1)
    assert client.get("/v1/staff/me", headers=headers).status_code == 401
    headers = people.login(client, alice)
    for _ in range(broker.settings.staff_session_ttl // 600 + 1):
        clock.advance(600)  # active every 10 minutes: never idle, but the absolute limit holds
        client.get("/v1/staff/me", headers=headers)
    assert client.get("/v1/staff/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("role", "path", "allowed"),
    [
        (Role.AGENT, "/v1/staff", False),
        (Role.LEAD, "/v1/staff", False),
        (Role.SECURITY, "/v1/staff", False),
        (Role.ADMIN, "/v1/staff", True),
        (Role.AGENT, "/v1/audit/events", False),
        (Role.ENGINEER, "/v1/audit/events", False),
        (Role.ADMIN, "/v1/audit/events", False),
        (Role.SECURITY, "/v1/audit/events", True),
    ],
)
def test_routes_refuse_the_wrong_role(
    client: TestClient, people: People, role: Role, path: str, allowed: bool
) -> None:
    who = people.add("someone", role)
    response = client.get(path, headers=people.login(client, who))
    assert response.status_code == (200 if allowed else 403)
    if not allowed:
        assert response.headers["content-type"] == "application/problem+json"


def test_admin_manages_staff_and_every_change_is_audited(
    client: TestClient, people: People, broker: Broker
) -> None:
    admin = people.add("root", Role.ADMIN)
    headers = people.login(client, admin)
    created = client.post(
        "/v1/staff",
        headers=headers,
        json={"email": "Carol@Staff.test", "roles": ["agent"], "password": "carol-password-long"},
    )
    assert created.status_code == 201
    carol = created.json()["staff"]
    assert carol["email"] == "carol@staff.test"
    assert created.json()["otpauth_uri"].startswith("otpauth://totp/")
    duplicate = client.post(
        "/v1/staff",
        headers=headers,
        json={"email": "carol@staff.test", "roles": ["agent"], "password": "carol-password-long"},
    )
    assert duplicate.status_code == 409
    changed = client.put(
        f"/v1/staff/{carol['id']}/roles", headers=headers, json={"roles": ["lead"]}
    )
    assert changed.json()["roles"] == ["lead"]
    assert client.post(f"/v1/staff/{carol['id']}/disable", headers=headers).status_code == 200
    assert client.post(f"/v1/staff/{carol['id']}/enable", headers=headers).status_code == 204
    types = [e["type"] for e in events(broker) if e["actor"] == admin.id]
    assert types == [
        "staff.login",
        "staff.added",
        "staff.roles_changed",
        "staff.disabled",
        "staff.enabled",
    ]
