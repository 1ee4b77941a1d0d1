"""Finding 4: a subject whose email is a broker staff member's, spelled with a space, capitals,
fullwidth letters or an invisible character, was approved for an agent. Emails are stored
canonical where they enter and compared canonical, so the rule "broker staff are never
reachable" holds for every spelling, rows written before the fix included."""

from __future__ import annotations

import pytest

from actas.domain.roles import Role
from actas.store.tables import subjects
from tests.scenario import World, ask, open_case

SPELLINGS = [
    " {email}",
    "{email}\t",
    "{upper}",
    "\u200b{email}",
    "{fullwidth}",
]


def _spell(template: str, email: str) -> str:
    local, domain = email.split("@")
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in local)
    return template.format(email=email, upper=email.upper(), fullwidth=f"{fullwidth}@{domain}")


@pytest.mark.parametrize("template", SPELLINGS)
def test_broker_staff_stay_unreachable_whatever_the_spelling(world: World, template: str) -> None:
    lead = world.people.add("lead1", Role.LEAD)
    spelled = _spell(template, lead.email)
    upsert = world.client.put(
        "/v1/subjects/u-1",
        headers=world.app_headers,
        json={"account": "acme", "display_name": "Lead", "email": spelled},
    )
    assert upsert.status_code == 200, upsert.text
    assert upsert.json()["email"] == lead.email  # stored canonical
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice), break_glass=True).json()
    assert request["state"] == "denied", request
    assert any("broker staff" in r for r in request["decision"]["reasons"])


def test_a_row_stored_before_the_fix_is_compared_canonical(world: World) -> None:
    lead = world.people.add("lead1", Role.LEAD)
    with world.broker.engine.begin() as conn:  # as an older broker wrote it: verbatim
        conn.execute(
            subjects.update()
            .where(subjects.c.id == "u-1")
            .values(email=" " + lead.email.upper() + "\u200b")
        )
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice)).json()
    assert request["state"] == "denied", request


@pytest.mark.parametrize("bad", ["not an address", "a@b.test\r\nBcc: x@y.test", "two@@x.test"])
def test_an_email_that_is_not_one_address_is_refused_and_writes_nothing(
    world: World, bad: str
) -> None:
    before = len(world.events())
    upsert = world.client.put(
        "/v1/subjects/u-2",
        headers=world.app_headers,
        json={"account": "acme", "display_name": "X", "email": bad},
    )
    assert upsert.status_code == 422, upsert.text
    assert upsert.headers["content-type"] == "application/problem+json"
    assert len(world.events()) == before
