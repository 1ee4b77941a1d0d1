""" "Notify me of every session", set by the account's admins, is honoured by the notices even
where the policy file tells the customer nothing but break-glass."""

from __future__ import annotations

from tests.customer_world import Mailed, mailed, tls
from tests.scenario import started_session
from tests.test_customer_notices_policy import settings

__all__ = ["mailed", "settings", "tls"]


def test_every_session_is_told_when_the_account_asked(mailed: Mailed) -> None:
    world = mailed.world
    started_session(world)
    assert mailed.deliver() == []  # the policy file leaves session notices out
    put = world.client.put(
        "/v1/customers/u-1/policy",
        headers=world.app_headers,
        json={"rule": "default", "notify_every_session": True},
    )
    assert put.status_code == 200, put.text
    session, _, headers = started_session(world)
    told = mailed.one("support is looking at your account")
    assert str(told["To"]) == "jane@customer.test"
    ended = world.client.post(f"/v1/sessions/{session}/end", headers=headers)
    assert ended.status_code == 200, ended.text
    assert mailed.one("session on your account ended")
