"""Staff enter a support access code on the case page: it becomes a grant for that case and
that staff member; a wrong code changes nothing but is counted, and the form needs its token."""

from __future__ import annotations

from tests.scenario import World
from tests.test_console import Staffer, open_case, staffers

__all__ = ["staffers"]

CUSTOMER = "/v1/customers/u-1"


def _code(world: World) -> str:
    made = world.client.post(
        CUSTOMER + "/access-codes", headers=world.app_headers, json={"read_only": True}
    )
    assert made.status_code == 201, made.text
    return str(made.json()["code"])


def test_a_code_entered_on_the_case_page_grants_that_case(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    case = open_case(alice)
    page = alice.get(f"/console/cases/{case}")
    assert f'action="/console/cases/{case}/access-code"' in page.text
    code = _code(world)
    wrong = alice.post(f"/console/cases/{case}/access-code", {"code": "0000-0000"})
    assert wrong.status_code >= 400
    assert "access-code" in wrong.text
    forged = alice.client.post(
        f"/console/cases/{case}/access-code", data={"code": code}, follow_redirects=False
    )
    assert forged.status_code == 403
    grants = world.client.get(CUSTOMER + "/grants", headers=world.app_headers).json()["grants"]
    assert grants == []
    used = alice.post(f"/console/cases/{case}/access-code", {"code": code})
    assert used.status_code == 303, used.text
    assert used.headers["location"] == f"/console/cases/{case}?done=access_code_used"
    (grant,) = world.client.get(CUSTOMER + "/grants", headers=world.app_headers).json()["grants"]
    assert grant["case"] == case
    assert grant["source"] == "access_code"
    assert grant["read_only"] is True
    assert len(world.events(type="access_code.failed")) == 1


def test_the_case_page_asks_the_customer_to_grant_access(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    case = open_case(alice)
    unverified = alice.post(f"/console/cases/{case}/ask-consent")
    assert unverified.status_code == 409
    assert "verified email" in unverified.text
    verified = {
        "account": "acme",
        "display_name": "Jane",
        "email": "jane@customer.test",
        "email_verified": True,
    }
    put = world.client.put("/v1/subjects/u-1", headers=world.app_headers, json=verified)
    assert put.status_code == 200, put.text
    assert f'action="/console/cases/{case}/ask-consent"' in alice.get(f"/console/cases/{case}").text
    asked = alice.post(f"/console/cases/{case}/ask-consent")
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == f"/console/cases/{case}?done=consent_asked"
    (event,) = world.events(type="consent.asked")
    assert event["case"] == case
    forged = alice.client.post(f"/console/cases/{case}/ask-consent", follow_redirects=False)
    assert forged.status_code == 403
    assert len(world.events(type="consent.asked")) == 1
