"""Finding 1: TOTP codes are six ASCII digits. Lookalike digits (superscripts, Arabic-Indic,
fullwidth) once reached ``hmac.compare_digest`` and answered 500 only when the password was
right; now every malformed code is a wrong code: the same answer, audited and counted, over the
API, the console sign-in and the step-up before a session starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from actas.domain.staff import is_totp_code
from actas.security.totp import PyOtpTotp
from tests.scenario import World, ask, open_case
from tests.test_console import BASE, token_of

#: Each one passes ``str.isdigit()``; none is a code.
LOOKALIKES = [
    "\u00b2\u00b3\u00b9\u2074\u2075\u2076",  # superscripts
    "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic
    "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth
    "12345\u0663",  # one Arabic-Indic three at the end
    "\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6",  # Extended Arabic-Indic
    "12345\U0001d7d7",  # mathematical bold nine
]


@pytest.mark.parametrize("code", ["123456", " 123456 ", "000000"])
def test_six_ascii_digits_are_a_code(code: str) -> None:
    assert is_totp_code(code.strip())


@pytest.mark.parametrize("code", [*LOOKALIKES, "12345", "1234567", "12345a", "", "123456\n"])
def test_anything_else_is_not(code: str) -> None:
    assert code.isdigit() is (code in LOOKALIKES or code in {"12345", "1234567"})
    assert not is_totp_code(code)


@pytest.mark.parametrize("code", LOOKALIKES)
def test_the_adapter_never_compares_a_lookalike(code: str) -> None:
    totp = PyOtpTotp()
    assert totp.matching_step(totp.new_secret(), code, datetime(2026, 1, 1, tzinfo=UTC)) is None


@pytest.mark.parametrize("code", LOOKALIKES)
def test_api_sign_in_with_lookalike_digits_is_a_wrong_code(world: World, code: str) -> None:
    response = world.client.post(
        "/v1/auth/login",
        json={"email": world.alice.email, "password": world.alice.password, "code": code},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "email, password or code is wrong"
    (failed,) = world.events(type="staff.login_failed")
    assert failed["actor"] == world.alice.id
    assert failed["data"]["reason"] == "totp"
    assert failed["data"]["failures"] == 1  # counted toward the sign-in throttle


@pytest.mark.parametrize("code", LOOKALIKES[:3])
def test_console_sign_in_with_lookalike_digits_is_a_wrong_code(world: World, code: str) -> None:
    client = TestClient(world.client.app, base_url=BASE)
    response = client.post(
        "/console/login",
        data={
            "csrf_token": token_of(client.get("/console/login").text),
            "email": world.alice.email,
            "password": world.alice.password,
            "code": code,
        },
    )
    assert response.status_code == 401
    assert "The email, password or code is wrong." in response.text
    (failed,) = world.events(type="staff.login_failed")
    assert failed["data"]["reason"] == "totp"
    client.close()


@pytest.mark.parametrize("code", LOOKALIKES[:3])
def test_step_up_with_lookalike_digits_is_a_wrong_code(world: World, code: str) -> None:
    headers = world.as_(world.alice)
    request = ask(world, headers, open_case(world, headers)).json()
    world.clock.advance(30)
    response = world.client.post(
        f"/v1/access-requests/{request['id']}/start", headers=headers, json={"code": code}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "the authenticator code is wrong or was already used"
    (failed,) = world.events(type="staff.step_up_failed")
    assert failed["actor"] == world.alice.id
    assert failed["data"] == {"reason": "totp", "failures": 1}
    # The right code still works afterwards.
    good = world.client.post(
        f"/v1/access-requests/{request['id']}/start",
        headers=headers,
        json={"code": world.alice.code(world.clock)},
    )
    assert good.status_code == 200, good.text
