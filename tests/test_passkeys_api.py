"""Step-up with a passkey over the API: the options, then ``assertion`` instead of ``code``
on start; no passkey is a 422 problem; a replayed assertion is a 401 step-up problem."""

from __future__ import annotations

from actas.domain.audit import Actor
from actas.services import passkeys
from actas.services import staff as staff_service
from tests.scenario import World, ask, open_case
from tests.webauthn_soft import SoftAuthenticator


def test_start_with_a_passkey_over_the_api(world: World) -> None:
    headers = world.as_(world.alice)
    none = world.client.post("/v1/auth/step-up/passkey-options", headers=headers)
    assert none.status_code == 422
    assert none.headers["content-type"] == "application/problem+json"
    ctx = world.broker.services
    alice = staff_service.get_staff(ctx, world.alice.id)
    key = SoftAuthenticator()
    passkeys.register(
        ctx,
        staff=alice,
        response=key.create(passkeys.registration_options(ctx, alice)),
        name="Key",
        by=Actor(id=world.alice.id),
    )
    request = ask(world, headers, open_case(world, headers)).json()
    options = world.client.post("/v1/auth/step-up/passkey-options", headers=headers)
    assert options.status_code == 200
    assert options.json()["userVerification"] == "required"
    assertion = key.get(options.text)
    url = f"/v1/access-requests/{request['id']}/start"
    started = world.client.post(url, headers=headers, json={"assertion": assertion})
    assert started.status_code == 200, started.text
    again = ask(world, headers, open_case(world, headers)).json()
    replay = world.client.post(
        f"/v1/access-requests/{again['id']}/start", headers=headers, json={"assertion": assertion}
    )
    assert replay.status_code == 401
    assert replay.json()["type"].endswith("step_up_required")
