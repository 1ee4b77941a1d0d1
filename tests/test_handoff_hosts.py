"""Finding 9: where staff browsers are sent. An application credential could point an
account's handoff at any https host, so a leaked credential sent freshly stepped-up staff to a
page of its choosing with a live code; a URL with CR/LF was stored and broke the response
later. Handoff hosts are now an allow-list per application that only a broker admin sets;
accounts pick among them, and control characters are refused at the door."""

from __future__ import annotations

from typing import Any

import pytest

from actas.domain.audit import Actor
from actas.domain.errors import Conflict
from actas.services import applications as app_service
from actas.store.tables import accounts
from tests.scenario import World, ask, open_case, redeem, started_session

ADMIN = Actor(id="cli-admin")


def _put_account(world: World, handoff_url: str) -> Any:
    return world.client.put(
        "/v1/accounts/acme",
        headers=world.app_headers,
        json={"name": "Acme", "handoff_url": handoff_url},
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.test/actas/handoff",
        "https://notes.test.evil.test/actas/handoff",
        "https://acme.notes.test:8443/actas/handoff",  # another port is another host
        "https://NOTES.test@evil.test/actas/handoff",
    ],
)
def test_the_credential_cannot_send_staff_to_a_host_of_its_choosing(world: World, url: str) -> None:
    before = len(world.events())
    response = _put_account(world, url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert len(world.events()) == before
    # Staff still land on the application's own handoff URL.
    _, code, _ = started_session(world)
    assert redeem(world, code).status_code == 200


def test_an_account_may_pick_a_host_the_admin_allowed(world: World) -> None:
    custom = "https://ACME.notes.test/actas/handoff"
    assert _put_account(world, custom).status_code == 200
    _, code, _ = started_session(world)
    assert redeem(world, code, handoff_url=custom).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.notes.test/actas/handoff\r\nSet-Cookie: x=1",
        "https://acme.notes.test/act\nas",
        "https://acme.notes.test/actas\t",
        "https://acme.notes.test/\x00",
        "https://acme.notes.test/actas handoff",
        "https://acme.notes.test/caf\u00e9",
    ],
)
def test_control_characters_are_refused_at_the_door(world: World, url: str) -> None:
    before = len(world.events())
    assert _put_account(world, url).status_code == 422
    assert len(world.events()) == before
    response = redeem(world, "actas_hc_x", handoff_url=url)
    assert response.status_code == 422, response.text


def test_a_host_taken_off_the_list_fails_closed_at_start(world: World) -> None:
    """A URL stored before the allow-list (or whose host an admin removed) sends nobody."""
    with world.broker.engine.begin() as conn:
        conn.execute(accounts.update().values(handoff_url="https://evil.test/actas/handoff"))
    alice = world.as_(world.alice)
    request = ask(world, alice, open_case(world, alice)).json()
    before = len(world.events())
    start = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=alice,
        json={"code": world.code(world.alice)},
    )
    assert start.status_code == 409, start.text
    assert "evil.test" in start.json()["detail"]
    assert "handoff_code" not in start.text
    assert len(world.events()) == before
    app_service.set_handoff_hosts(
        world.broker.services, app_id="notes", add=("evil.test",), by=ADMIN
    )
    again = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=alice,
        json={"code": world.code(world.alice)},
    )
    assert again.status_code == 200, again.text
    assert again.json()["redirect_url"].startswith("https://evil.test/actas/handoff?code=")


def test_a_host_in_use_cannot_be_removed(world: World) -> None:
    assert _put_account(world, "https://acme.notes.test/actas/handoff").status_code == 200
    with pytest.raises(Conflict):
        app_service.set_handoff_hosts(
            world.broker.services, app_id="notes", remove=("acme.notes.test",), by=ADMIN
        )
