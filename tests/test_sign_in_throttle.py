"""Finding 6: the sign-in throttle that replaced the account lockout, on both databases.

The lockout answered 423 for real accounts and 401 for unknown emails (enumeration), let anyone
who knew a staff email lock that person out, and locked again at the first wrong attempt after
it expired. The throttle answers the same for every email, slows the source (email and client
address) rather than the account, doubles its wait up to a cap, resets on success and after a
quiet spell, keeps its state in the database, audits every refused attempt, and an admin can
clear it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from actas.app import create_app
from actas.bootstrap import Broker, build
from actas.domain.audit import Actor
from actas.domain.clock import FrozenClock
from actas.domain.roles import Role
from actas.domain.throttle import ThrottleRule, ThrottleState
from actas.security.passwords import FastTestPasswords
from actas.services import throttle as throttle_service
from actas.settings import Settings
from tests.conftest import People, Persona
from tests.test_console import BASE, Staffer, token_of

ATTACKER = ("203.0.113.7", 40000)
OWNER = ("198.51.100.2", 40001)
WRONG_PASSWORD = "not-the-password-at-all"


def from_address(client: TestClient, address: tuple[str, int]) -> TestClient:
    return TestClient(client.app, base_url=BASE, client=address)


def attempt(client: TestClient, email: str, password: str, code: str = "000000") -> Any:
    return client.post("/v1/auth/login", json={"email": email, "password": password, "code": code})


def slow_down(client: TestClient, email: str, broker: Broker, clock: FrozenClock) -> int:
    """Fail until the source waits over a minute; returns the wait."""
    wait = 0
    while wait < 60:
        clock.advance(wait)
        assert attempt(client, email, WRONG_PASSWORD).status_code == 401
        wait = events(broker, "staff.login_failed")[-1]["data"].get("wait_seconds", 0)
    return int(wait)


def answer(response: Any) -> tuple[Any, ...]:
    """Everything a caller can see of an answer but the request id."""
    return (
        response.status_code,
        response.headers["content-type"],
        response.headers.get("retry-after"),
        response.headers.get("www-authenticate"),
        response.json(),
    )


@pytest.fixture
def alice(people: People) -> Persona:
    return people.add("alice", Role.AGENT)


def events(broker: Broker, type_: str) -> list[dict[str, Any]]:
    from actas.domain.audit import AuditQuery
    from actas.services import audit as audit_service

    return audit_service.read_events(broker.services, AuditQuery(type=type_, limit=1000))


@pytest.mark.parametrize(
    ("failures", "wait"),
    [(1, 0), (5, 0), (6, 1), (7, 2), (8, 4), (15, 512), (16, 900), (17, 900), (10_000, 900)],
)
def test_waits_double_after_the_free_failures_up_to_the_cap(failures: int, wait: int) -> None:
    rule = ThrottleRule(free_failures=5, max_delay=timedelta(seconds=900))
    assert rule.delay_for(failures) == timedelta(seconds=wait)


def test_a_quiet_spell_as_long_as_the_cap_forgets(clock: FrozenClock) -> None:
    rule = ThrottleRule(free_failures=5, max_delay=timedelta(seconds=900))
    now = clock()
    state = ThrottleState(
        failures=9, blocked_until=now + timedelta(seconds=16), last_failure_at=now
    )
    assert rule.retry_after(state, now) == 16
    assert rule.after_failure(state, now + timedelta(seconds=16)).failures == 10
    later = now + timedelta(seconds=16 + 900)
    assert rule.after_failure(state, later) == ThrottleState(1, None, later)


def test_known_and_unknown_emails_get_the_same_answers(
    client: TestClient, alice: Persona, broker: Broker
) -> None:
    free = broker.settings.sign_in_free_failures
    known = [answer(attempt(client, alice.email, WRONG_PASSWORD)) for _ in range(free + 2)]
    unknown = [
        answer(attempt(client, "nobody@staff.test", WRONG_PASSWORD)) for _ in range(free + 2)
    ]
    assert known == unknown
    assert [a[0] for a in known] == [401] * (free + 1) + [429]
    _, content_type, retry_after, _, body = known[-1]
    assert content_type == "application/problem+json"
    assert retry_after == "1"
    assert body["detail"] == "too many failed sign-ins from here; try again in 1 seconds"
    assert body["type"].endswith("/throttled")


def test_the_source_waits_not_the_account(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    attacker, owner = from_address(client, ATTACKER), from_address(client, OWNER)
    for _ in range(broker.settings.sign_in_free_failures + 1):
        assert attempt(attacker, alice.email, WRONG_PASSWORD).status_code == 401
    # Even the right password and code wait, from the address that failed...
    assert attempt(attacker, alice.email, alice.password, alice.code(clock)).status_code == 429
    # ...but alice signing in from her own address is not slowed at all.
    assert attempt(owner, alice.email, alice.password, alice.code(clock)).status_code == 200


def test_every_refused_attempt_is_audited_and_the_wait_doubles(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    free = broker.settings.sign_in_free_failures
    cap = broker.settings.sign_in_max_delay_seconds
    for _ in range(free + 12):
        response = attempt(client, alice.email, WRONG_PASSWORD)
        assert response.status_code == 401
        wait = events(broker, "staff.login_failed")[-1]["data"].get("wait_seconds", 0)
        for _ in range(2 if wait else 0):
            refused = attempt(client, alice.email, WRONG_PASSWORD)
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) == wait
        clock.advance(wait)
    failed = events(broker, "staff.login_failed")
    assert [e["data"]["failures"] for e in failed] == list(range(1, free + 13))
    assert all(e["actor"] == alice.id and e["data"]["reason"] == "password" for e in failed)
    waits = [e["data"].get("wait_seconds", 0) for e in failed]
    assert waits == [0] * free + [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, cap, cap]
    throttled = events(broker, "staff.login_throttled")
    assert len(throttled) == 2 * 12
    assert {e["actor"] for e in throttled} == {alice.id}
    assert throttled[0]["data"] == {"bucket": "pair", "retry_after": 1}


def test_a_success_resets_and_a_quiet_spell_forgets(
    client: TestClient, alice: Persona, clock: FrozenClock, broker: Broker
) -> None:
    free = broker.settings.sign_in_free_failures
    cap = broker.settings.sign_in_max_delay_seconds
    for _ in range(free + 1):
        attempt(client, alice.email, WRONG_PASSWORD)
    clock.advance(30)
    assert attempt(client, alice.email, alice.password, alice.code(clock)).status_code == 200
    for _ in range(free):  # the count started again: every one of these is free
        assert attempt(client, alice.email, WRONG_PASSWORD).status_code == 401
    assert attempt(client, alice.email, WRONG_PASSWORD).status_code == 401
    assert attempt(client, alice.email, WRONG_PASSWORD).status_code == 429
    # Once the wait is over and a quiet spell has passed, one typo does not slow her again
    # (the lockout locked again at the first wrong attempt after it expired).
    clock.advance(1 + cap)
    assert attempt(client, alice.email, WRONG_PASSWORD).status_code == 401
    clock.advance(30)
    assert attempt(client, alice.email, alice.password, alice.code(clock)).status_code == 200


def test_replicas_share_the_wait(
    client: TestClient, alice: Persona, settings: Settings, clock: FrozenClock, broker: Broker
) -> None:
    other = build(settings, clock=clock, passwords=FastTestPasswords())
    try:
        replica = TestClient(create_app(other), base_url=BASE)
        for _ in range(broker.settings.sign_in_free_failures + 1):
            assert attempt(client, alice.email, WRONG_PASSWORD).status_code == 401
        refused = attempt(replica, alice.email, alice.password, alice.code(clock))
        assert refused.status_code == 429
    finally:
        other.engine.dispose()


def test_one_address_spraying_many_emails_is_slowed(client: TestClient, broker: Broker) -> None:
    spray = 4 * broker.settings.sign_in_free_failures + 1
    for n in range(spray):
        assert attempt(client, f"guess{n}@staff.test", WRONG_PASSWORD).status_code == 401
    refused = attempt(client, "yet-another@staff.test", WRONG_PASSWORD)
    assert refused.status_code == 429
    assert events(broker, "staff.login_throttled")[-1]["data"]["bucket"] == "address"
    elsewhere = from_address(client, OWNER)
    assert attempt(elsewhere, "yet-another@staff.test", WRONG_PASSWORD).status_code == 401


def test_an_admin_clears_the_wait_from_the_console(world: Any) -> None:
    boss_persona = world.people.add("boss", Role.ADMIN)
    attacker = from_address(world.client, ATTACKER)
    slow_down(attacker, world.alice.email, world.broker, world.clock)
    assert attempt(attacker, world.alice.email, WRONG_PASSWORD).status_code == 429
    boss = Staffer(world, boss_persona)
    page = boss.get("/console/staff").text
    assert "sign-in slowed until" in page
    assert f'/console/staff/{world.alice.id}/unthrottle"' in page
    assert f'/console/staff/{world.lucy.id}/unthrottle"' not in page
    # The form needs its CSRF token, like every other (test_console checks every route).
    forged = boss.client.post(f"/console/staff/{world.alice.id}/unthrottle", data={})
    assert forged.status_code == 403
    done = boss.post(f"/console/staff/{world.alice.id}/unthrottle")
    assert done.status_code == 303
    assert done.headers["location"] == "/console/staff?done=unthrottled"
    (event,) = world.events(type="staff.unthrottled")
    assert event["actor"] == boss_persona.id
    assert event["data"] == {"staff": world.alice.id, "cleared": 1}
    assert "sign-in slowed until" not in boss.get("/console/staff").text
    assert attempt(attacker, world.alice.email, WRONG_PASSWORD).status_code == 401
    boss.close()


def test_only_an_admin_clears_a_wait(world: Any) -> None:
    lead = Staffer(world, world.lucy)
    response = lead.post(f"/console/staff/{world.alice.id}/unthrottle")
    assert response.status_code == 403
    assert world.events(type="staff.unthrottled") == []
    lead.close()


def test_clearing_a_wait_that_is_not_there_changes_nothing(broker: Broker, alice: Persona) -> None:
    cleared = throttle_service.unthrottle(broker.services, email=alice.email, by=Actor(id="t"))
    assert cleared == 0
    assert events(broker, "staff.unthrottled") == []


def test_step_up_waits_after_too_many_wrong_codes(world: Any) -> None:
    from tests.scenario import ask, open_case

    headers = world.as_(world.alice)
    request = ask(world, headers, open_case(world, headers)).json()
    start = f"/v1/access-requests/{request['id']}/start"
    free = world.broker.settings.sign_in_free_failures
    for _ in range(free + 1):
        wrong = world.client.post(start, headers=headers, json={"code": "000000"})
        assert wrong.status_code == 401
    refused = world.client.post(
        start, headers=headers, json={"code": world.alice.code(world.clock)}
    )
    assert refused.status_code == 401
    assert refused.json()["detail"] == "too many wrong codes; try again in 1 seconds"
    assert len(world.events(type="staff.step_up_failed")) == free + 1
    assert len(world.events(type="staff.step_up_throttled")) == 1
    world.clock.advance(30)
    good = world.client.post(start, headers=headers, json={"code": world.alice.code(world.clock)})
    assert good.status_code == 200, good.text


def test_the_sign_in_page_says_wait_the_same_way_for_everyone(world: Any) -> None:
    pages = []
    for email in (world.alice.email, "nobody@staff.test"):
        client = TestClient(world.client.app, base_url=BASE, client=ATTACKER)
        for _ in range(world.broker.settings.sign_in_free_failures + 2):
            response = client.post(
                "/console/login",
                data={
                    "csrf_token": token_of(client.get("/console/login").text),
                    "email": email,
                    "password": WRONG_PASSWORD,
                    "code": "000000",
                },
            )
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert "Too many failed sign-ins from here. Try again in 1 second;" in response.text
        pages.append(response.text.replace(email, "EMAIL"))
        client.close()
    # The pages differ only by their one-time form token.
    strip = [token_of(p) for p in pages]
    assert pages[0].replace(strip[0], "T") == pages[1].replace(strip[1], "T")
