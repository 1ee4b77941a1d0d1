"""The consent emails, delivered over real SMTP: support asks the customer from a case (a
limited number of times, owners only), and the customer is told of every grant given or
revoked, with a link to the customer page."""

from __future__ import annotations

from actas.domain.roles import Role
from tests.customer_world import Mailed, html, mailed, plain, tls
from tests.scenario import open_case

__all__ = ["mailed", "tls"]

CUSTOMER = "/v1/customers/u-1"


def test_support_asks_the_customer_from_the_case_a_few_times_a_day(mailed: Mailed) -> None:
    world = mailed.world
    headers = world.as_(world.alice)
    case = open_case(world, headers)
    bob = world.people.add("bob", Role.AGENT)
    stranger = world.client.post(f"/v1/cases/{case}/ask-consent", headers=world.as_(bob))
    assert stranger.status_code == 403
    assert mailed.deliver() == []
    asked = world.client.post(f"/v1/cases/{case}/ask-consent", headers=headers)
    assert asked.status_code == 202, asked.text
    mail = mailed.one("asks for access to your account")
    assert str(mail["To"]) == "jane@customer.test"
    assert "https://broker.test/customer/page" in plain(mail)
    assert "ZD-4711" in plain(mail)
    assert 'href="https://broker.test/customer/page"' in html(mail)
    for _ in range(2):
        assert world.client.post(f"/v1/cases/{case}/ask-consent", headers=headers).is_success
    too_many = world.client.post(f"/v1/cases/{case}/ask-consent", headers=headers)
    assert too_many.status_code == 409
    assert len(mailed.deliver()) == 2
    assert len(world.events(type="consent.asked")) == 3


def test_the_customer_is_told_when_a_grant_is_given_and_revoked(mailed: Mailed) -> None:
    world = mailed.world
    grant = world.client.post(
        CUSTOMER + "/grants", headers=world.app_headers, json={"minutes": 60, "read_only": True}
    )
    assert grant.status_code == 201, grant.text
    given = mailed.one("support access to your account was granted")
    assert "read-only" in plain(given)
    revoked = world.client.post(
        f"{CUSTOMER}/grants/{grant.json()['id']}/revoke", headers=world.app_headers
    )
    assert revoked.status_code == 200
    told = mailed.one("support access to your account was revoked")
    assert "https://broker.test/customer/page" in plain(told)
    notices = [e["data"]["notice"] for e in world.events(type="notice.queued")]
    assert notices == ["grant_given", "grant_revoked"]
