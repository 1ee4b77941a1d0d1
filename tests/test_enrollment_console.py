"""Enrollment links in the console (TestClient): an admin adds a member with a link shown
once; the member opens it, sets a password and enrols TOTP, then signs in; the link then
answers 410, and a forged form (no sign-in cookie token) changes nothing."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pyotp
from fastapi.testclient import TestClient

from tests.scenario import World
from tests.test_console import BASE, Staffer, staffers, token_of

__all__ = ["staffers"]  # the fixture, imported for this module

LINK_RE = re.compile(r'id="enroll-url" class="secret wide" readonly value="([^"]+)"')


def test_an_admin_adds_a_member_by_link_and_they_enrol_themselves(
    world: World, staffers: dict[str, Staffer]
) -> None:
    boss = staffers["boss"]
    page = boss.post(
        "/console/staff",
        {"email": "nina@staff.test", "display_name": "Nina", "roles": "agent", "setup": "link"},
    )
    assert page.status_code == 200, page.text
    found = LINK_RE.search(page.text)
    assert found, page.text
    url = found.group(1)
    assert url.startswith("https://broker.test/console/enroll/actas_en_")
    assert "otpauth://" not in page.text  # the admin never sees the seed

    member = TestClient(world.client.app, base_url=BASE)
    path = urlsplit(url).path
    form = member.get(path)
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    svg_label = "QR code for your authenticator app"
    assert svg_label in form.text
    secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', form.text)
    assert secret
    seed = secret.group(1).replace(" ", "")
    body = {
        "csrf_token": token_of(form.text),
        "password": "nina-long-passphrase",
        "code": pyotp.TOTP(seed).at(world.clock()),
    }
    forged = TestClient(world.client.app, base_url=BASE).post(
        path, data=body, follow_redirects=False
    )
    assert forged.status_code == 403  # no double-submit cookie: nothing changes
    done = member.post(path, data=body, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/login?enrolled=1"
    assert member.get(path).status_code == 410  # single use

    login = member.get("/console/login?enrolled=1")
    assert "You are set up." in login.text
    world.clock.advance(30)
    signed = member.post(
        "/console/login",
        data={
            "csrf_token": token_of(login.text),
            "email": "nina@staff.test",
            "password": "nina-long-passphrase",
            "code": pyotp.TOTP(seed).at(world.clock()),
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    member.close()


def test_an_unknown_or_expired_link_is_gone(world: World) -> None:
    client = TestClient(world.client.app, base_url=BASE)
    assert client.get("/console/enroll/actas_en_nope").status_code == 410
    assert client.get("/console/enroll/other").status_code == 410
