"""Finding 11: the broker always keeps an active admin, and nobody disables themselves.

An admin could disable their own account or drop their own admin role, leaving nobody to
recover but the CLI. The rule is in the domain (a truth table below), enforced by the service
under a row lock, and answered as a problem (403 for yourself, 409 for the last admin) that the
console shows on the staff page.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from actas.bootstrap import Broker
from actas.domain.audit import Actor
from actas.domain.errors import ActasError, Conflict, Forbidden
from actas.domain.roles import Role
from actas.domain.staff import Staff, check_admin_change
from actas.services import staff as staff_service
from tests.conftest import People
from tests.scenario import World
from tests.test_api_bad_input import snapshot
from tests.test_console import Staffer

ADMIN, AGENT = frozenset({Role.ADMIN}), frozenset({Role.AGENT})


def member(staff_id: str, roles: frozenset[Role], *, active: bool = True) -> Staff:
    return Staff(
        id=staff_id,
        email=f"{staff_id}@staff.test",
        display_name=staff_id,
        roles=roles,
        password_hash="-",
        totp_secret="-",
        totp_last_step=None,
        disabled_at=None if active else datetime(2026, 1, 1, tzinfo=UTC),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("actor", "target", "roles_after", "active_after", "admins", "refused"),
    [
        # Disabling yourself: never, however many admins there are.
        ("a", member("a", ADMIN), ADMIN, False, {"a", "b"}, Forbidden),
        ("a", member("a", AGENT), AGENT, False, set(), Forbidden),
        # Another admin disables you: fine while an admin remains.
        ("b", member("a", ADMIN), ADMIN, False, {"a", "b"}, None),
        ("cli:ops", member("a", ADMIN), ADMIN, False, {"a"}, Conflict),
        ("cli:ops", member("a", ADMIN), ADMIN, False, {"a", "b"}, None),
        # Dropping the admin role: yours or someone's, not from the last admin.
        ("a", member("a", ADMIN), AGENT, True, {"a"}, Conflict),
        ("a", member("a", ADMIN), AGENT, True, {"a", "b"}, None),
        ("a", member("a", ADMIN | AGENT), AGENT, True, {"a"}, Conflict),
        ("b", member("a", ADMIN), AGENT, True, {"a", "b"}, None),
        ("cli:ops", member("a", ADMIN), AGENT, True, {"a"}, Conflict),
        # Keeping the role, or changing someone who is no admin, is no concern of this rule.
        ("a", member("a", ADMIN), ADMIN | AGENT, True, {"a"}, None),
        ("a", member("c", AGENT), ADMIN, True, {"a"}, None),
        ("a", member("c", AGENT), AGENT, False, {"a"}, None),
        # A disabled admin is no admin to keep.
        ("cli:ops", member("a", ADMIN, active=False), AGENT, False, set(), None),
    ],
)
def test_the_admin_rule(
    actor: str,
    target: Staff,
    roles_after: frozenset[Role],
    active_after: bool,
    admins: set[str],
    refused: type[ActasError] | None,
) -> None:
    def change() -> None:
        check_admin_change(
            actor_id=actor,
            member=target,
            roles_after=roles_after,
            active_after=active_after,
            active_admins=frozenset(admins),
        )

    if refused is None:
        change()
    else:
        with pytest.raises(refused):
            change()


def test_an_admin_cannot_disable_themselves(
    client: TestClient, people: People, broker: Broker
) -> None:
    root = people.add("root", Role.ADMIN)
    people.add("second", Role.ADMIN)
    headers = people.login(client, root)
    before = snapshot(broker)
    response = client.post(f"/v1/staff/{root.id}/disable", headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        "you cannot disable your own account; another admin must do it"
    )
    assert snapshot(broker) == before
    assert client.get("/v1/staff/me", headers=headers).status_code == 200


def test_the_last_admin_keeps_the_role(client: TestClient, people: People, broker: Broker) -> None:
    root = people.add("root", Role.ADMIN)
    headers = people.login(client, root)
    before = snapshot(broker)
    response = client.put(f"/v1/staff/{root.id}/roles", headers=headers, json={"roles": ["agent"]})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        "root@staff.test is the last active admin; make someone else an admin first"
    )
    assert snapshot(broker) == before
    # With a second admin, dropping your own admin role is allowed; then the other is the last.
    second = people.add("second", Role.ADMIN)
    response = client.put(f"/v1/staff/{root.id}/roles", headers=headers, json={"roles": ["lead"]})
    assert response.status_code == 200
    second_headers = people.login(client, second)
    response = client.put(
        f"/v1/staff/{second.id}/roles", headers=second_headers, json={"roles": ["agent"]}
    )
    assert response.status_code == 409


def test_a_second_admin_disables_an_admin(
    client: TestClient, people: People, broker: Broker
) -> None:
    root = people.add("root", Role.ADMIN)
    second = people.add("second", Role.ADMIN)
    response = client.post(f"/v1/staff/{root.id}/disable", headers=people.login(client, second))
    assert response.status_code == 200
    # Now `second` is the last active admin: nobody, not the CLI either, disables them.
    with pytest.raises(Conflict):
        staff_service.disable_staff(broker.services, email=second.email, by=Actor(id="cli:ops"))


def test_two_admins_disabling_each_other_at_once_leave_one(people: People, broker: Broker) -> None:
    a = people.add("ann", Role.ADMIN)
    b = people.add("bob", Role.ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def disable(target: str, by: str) -> None:
        barrier.wait()
        try:
            staff_service.disable_staff(broker.services, email=target, by=Actor(id=by))
            outcomes.append("disabled")
        except Conflict:
            outcomes.append("refused")

    threads = [
        threading.Thread(target=disable, args=(a.email, b.id)),
        threading.Thread(target=disable, args=(b.email, a.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["disabled", "refused"]
    active = [m for m in staff_service.list_staff(broker.services) if m.is_active_admin]
    assert len(active) == 1


def test_the_console_shows_the_refusal(world: World) -> None:
    boss_persona = world.people.add("boss", Role.ADMIN)
    boss = Staffer(world, boss_persona)
    response = boss.post(f"/console/staff/{boss_persona.id}/disable")
    assert response.status_code == 403
    assert "You cannot disable your own account; another admin must do it." in response.text
    assert "<h1>Staff</h1>" in response.text
    response = boss.post(f"/console/staff/{boss_persona.id}/roles", {"roles": "agent"})
    assert response.status_code == 409
    assert "is the last active admin; make someone else an admin first." in response.text
    assert world.events(type="staff.disabled") == []
    assert world.events(type="staff.roles_changed") == []
    boss.close()
