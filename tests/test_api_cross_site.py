"""Finding 3: the API once took the console's session cookie, with no CSRF token or Origin
check, so a cross-site POST carrying only that cookie ended a session and disabled staff. The
API now takes bearer tokens only; the cookie belongs to the console."""

from __future__ import annotations

from fastapi.testclient import TestClient

from actas.domain.roles import Role
from actas.http.callers import SESSION_COOKIE
from tests.conftest import Persona
from tests.scenario import World, started_session

BASE = "https://broker.test"
EVIL = {"Origin": "https://evil.test", "Sec-Fetch-Site": "cross-site"}


def console_client(world: World, role: Role, name: str, who: Persona | None = None) -> TestClient:
    """A browser signed in to the console (its own sign-in, CSRF and cookie)."""
    who = who or world.people.add(name, role)
    client = TestClient(world.client.app, base_url=BASE)
    page = client.get("/console/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    world.clock.advance(30)
    response = client.post(
        "/console/login",
        data={
            "csrf_token": token,
            "email": who.email,
            "password": who.password,
            "code": who.code(world.clock),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert client.cookies.get(SESSION_COOKIE)
    return client


def test_a_cross_site_post_with_only_the_console_cookie_ends_nothing(world: World) -> None:
    session, _, alice = started_session(world)
    browser = console_client(world, Role.ADMIN, "root")
    before = len(world.events())
    for path in (f"/v1/sessions/{session}/revoke", f"/v1/sessions/{session}/end"):
        response = browser.post(path, headers=EVIL, json={"reason": "csrf"})
        assert response.status_code == 401, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for path in (f"/v1/staff/{world.alice.id}/disable", f"/v1/staff/{world.alice.id}/enable"):
        response = browser.post(path, headers=EVIL)  # no body, as in the red team's pages
        assert response.status_code == 401, (path, response.text)
    assert world.client.get(f"/v1/sessions/{session}", headers=alice).json()["ended_at"] is None
    assert len(world.events()) == before
    browser.close()


def test_the_console_cookie_reads_nothing_from_the_api(world: World) -> None:
    browser = console_client(world, Role.SECURITY, "sec")
    for path in ("/v1/staff/me", "/v1/sessions", "/v1/audit/events"):
        assert browser.get(path).status_code == 401, path
    browser.close()
