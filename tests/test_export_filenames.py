"""Finding 5: the export's Content-Disposition was built from the ``account`` filter, so a
non-Latin-1 value answered 500 and a ``"`` injected a ``filename*`` parameter. The file name is
now sanitized in the service and the header built with RFC 6266 / RFC 5987 encoding, on the
API and on the console alike."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from actas.domain.roles import Role
from tests.scenario import World, started_session
from tests.test_api_cross_site import console_client

HOSTILE = [
    "жена",
    "\u0436\"; filename*=UTF-8''evil.html",
    'acme"; filename="evil.html',
    "acme\r\nSet-Cookie: x=1",
    "\u202eacme\u2066",
    "😀",
    "..",
]
#: Exactly one plain name of safe ASCII and one encoded exact name, nothing else.
HEADER = re.compile(
    r"^attachment; filename=\"actas-audit-[A-Za-z0-9._-]+\"; "
    r"filename\*=UTF-8''actas-audit-[A-Za-z0-9._%-]+$"
)


def _check(value: str) -> None:
    assert HEADER.match(value), value
    assert value.count("filename=") == 1
    assert value.count("filename*=") == 1
    assert value.count('"') == 2  # the plain name's own quotes, no injected ones


@pytest.mark.parametrize("account", HOSTILE)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_api_export_names_its_file_safely(world: World, account: str, fmt: str) -> None:
    security = world.as_(world.sam)
    response = world.client.get(
        "/v1/audit/export", params={"account": account, "format": fmt}, headers=security
    )
    assert response.status_code == 200, response.text
    _check(response.headers["content-disposition"])


@pytest.mark.parametrize("account", HOSTILE)
def test_the_console_export_names_its_file_safely(world: World, account: str) -> None:
    browser: TestClient = console_client(world, Role.SECURITY, "sec")
    for kind in ("jsonl", "csv"):
        response = browser.get(f"/console/audit/export.{kind}", params={"account": account})
        assert response.status_code == 200, response.text
        _check(response.headers["content-disposition"])
    browser.close()


ODD_NUMBERS = ["²", "¹⁰⁰", "\u0661\u0660\u0660", "\uff11\uff10\uff10", "-1", "9e9"]


@pytest.mark.parametrize("limit", ODD_NUMBERS)
def test_a_strange_limit_on_the_console_audit_page_is_not_an_error(
    world: World, limit: str
) -> None:
    browser = console_client(world, Role.SECURITY, "sec")
    response = browser.get("/console/audit", params={"limit": limit})
    assert response.status_code == 200, response.text
    browser.close()


@pytest.mark.parametrize("minutes", ["²", "¹⁵"])
def test_superscript_minutes_for_an_extension_are_refused_not_an_error(
    world: World, minutes: str
) -> None:
    session, _, _ = started_session(world)
    browser = console_client(world, Role.AGENT, "", who=world.alice)
    page = browser.get(f"/console/sessions/{session}")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = browser.post(
        f"/console/sessions/{session}/extend",
        data={"csrf_token": token, "minutes": minutes, "reason": "more time"},
        follow_redirects=False,
    )
    assert response.status_code == 422, response.text
    browser.close()
