"""The customer's side over HTTP: the application grants and revokes, support cannot touch a
grant through any route, a code read out works on the case, and an admin's flags act at once."""

from __future__ import annotations

import re
from typing import Any

from actas.app import create_app
from actas.domain.roles import Role
from tests.scenario import World, ask, open_case, redeem, refresh, set_flags, started_session

CUSTOMER = "/v1/customers/u-1"


def _grants(world: World) -> list[dict[str, Any]]:
    response = world.client.get(CUSTOMER + "/grants", headers=world.app_headers)
    assert response.status_code == 200, response.text
    return list(response.json()["grants"])


def test_consent_through_the_application_moves_the_request_and_revoking_ends_the_session(
    world: World,
) -> None:
    put = world.client.put(
        CUSTOMER + "/policy",
        headers=world.app_headers,
        json={"rule": "consent", "notify_every_session": True},
    )
    assert put.json()["rule"] == "consent"
    headers = world.as_(world.alice)
    case = open_case(world, headers)
    request = ask(world, headers, case).json()
    assert request["state"] == "pending_consent"
    grant = world.client.post(
        CUSTOMER + "/grants", headers=world.app_headers, json={"minutes": 60, "read_only": True}
    )
    assert grant.status_code == 201, grant.text
    moved = world.client.get(f"/v1/access-requests/{request['id']}", headers=headers).json()
    assert moved["state"] == "approved"
    start = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=headers,
        json={"code": world.code(world.alice)},
    ).json()
    token = redeem(world, start["handoff_code"]).json()
    revoked = world.client.post(
        f"{CUSTOMER}/grants/{grant.json()['id']}/revoke", headers=world.app_headers
    )
    assert revoked.json()["revoked_at"] is not None
    assert refresh(world, start["session"]["id"], token["refresh_handle"]).status_code == 400
    history = world.client.get(CUSTOMER + "/history", headers=world.app_headers).json()
    (entry,) = history["sessions"]
    assert entry["end_reason"] == "revoked"
    assert entry["reason_code"] == "bug_reproduction"


def test_support_cannot_create_extend_or_change_a_grant_through_any_route(world: World) -> None:
    grant = world.client.post(
        CUSTOMER + "/grants", headers=world.app_headers, json={"minutes": 60}
    ).json()
    before = _grants(world)
    admin = world.people.add("ada", Role.ADMIN)
    tried = 0
    # Every route the broker publishes that touches grants, codes or the customer's policy.
    paths = create_app(world.broker).openapi()["paths"]
    for template, operations in paths.items():
        if not re.search(r"grant|/policy|/contract|access-codes", template):
            continue
        path = template.format(subject_id="u-1", grant_id=grant["id"], account_id="acme")
        for method in operations:
            for who in (world.alice, world.lucy, world.sam, admin):
                body = {
                    "minutes": 10080,
                    "read_only": False,
                    "rule": "default",
                    "contract_access": True,
                }
                response = world.client.request(method, path, headers=world.as_(who), json=body)
                assert response.status_code in (401, 403), (method, path, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                tried += 1
    assert tried >= 4 * 7
    assert _grants(world) == before
    types = [e["type"] for e in world.events()]
    assert types.count("consent.granted") == 1


def test_a_code_read_out_makes_a_grant_on_the_staff_members_case(world: World) -> None:
    set_flags(world, "enhanced_controls")
    issued = world.client.post(
        CUSTOMER + "/access-codes", headers=world.app_headers, json={"read_only": True}
    )
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    headers = world.as_(world.alice)
    case = open_case(world, headers)
    entered = world.client.post(
        f"/v1/cases/{case}/access-code", headers=headers, json={"code": code}
    )
    assert entered.status_code == 200, entered.text
    assert entered.json()["case"] == case
    again = world.client.post(f"/v1/cases/{case}/access-code", headers=headers, json={"code": code})
    assert again.status_code == 400
    assert again.json()["type"].endswith("/access_code_invalid")
    bad = world.client.post(f"/v1/cases/{case}/access-code", headers=headers, json={"code": "1"})
    assert bad.status_code == 422


def test_an_admin_sets_flags_and_no_access_ends_live_sessions(world: World) -> None:
    session, code, _ = started_session(world)
    redeem(world, code)
    path = "/v1/applications/notes/accounts/acme/flags"
    agent = world.client.put(path, headers=world.as_(world.alice), json={"flags": ["no_access"]})
    assert agent.status_code == 403
    ada = world.people.add("ada", Role.ADMIN)
    bad = world.client.put(path, headers=world.as_(ada), json={"flags": ["closed"]})
    assert bad.status_code == 422
    done = world.client.put(path, headers=world.as_(ada), json={"flags": ["no_access"]})
    assert done.json()["flags"] == ["no_access"]
    assert world.types_for_session(session)[-1] == "session.revoked"
