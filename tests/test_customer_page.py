"""The customer page: signed in through the application with a one-time code, its own cookie,
CSRF on every form, account admins alone set the policy, and the history downloads."""

from __future__ import annotations

import csv
import io
import json
import re
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select

from actas.console.customer_page import COOKIE
from actas.store.customer_page_tables import customer_page_sessions
from actas.store.tables import applications
from actas_sdk import customer
from actas_sdk._config import Config
from actas_sdk.client import BrokerClient
from actas_sdk.errors import BrokerError, GrantRejected
from tests.scenario import World, open_case

CUSTOMER = "/v1/customers/u-1"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _code_url(world: World, *, admin: bool = False) -> str:
    response = world.client.post(
        CUSTOMER + "/page", headers=world.app_headers, json={"account_admin": admin}
    )
    assert response.status_code == 201, response.text
    parts = urlsplit(response.json()["url"])
    return f"{parts.path}?{parts.query}"


def _enter(world: World, *, admin: bool = False) -> str:
    """Sign the customer in; the page's CSRF token."""
    entered = world.client.get(_code_url(world, admin=admin), follow_redirects=False)
    assert entered.status_code == 303, entered.text
    assert entered.headers["location"] == "/customer/page"
    cookie = entered.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=")
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    page = world.client.get("/customer/page")
    assert page.status_code == 200, page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    found = TOKEN.search(page.text)
    assert found
    return found.group(1)


def _grants(world: World) -> list[dict[str, object]]:
    response = world.client.get(CUSTOMER + "/grants", headers=world.app_headers)
    return list(response.json()["grants"])


def test_the_code_works_once_and_only_for_a_minute(world: World) -> None:
    url = _code_url(world)
    assert world.client.get(url, follow_redirects=False).status_code == 303
    world.client.cookies.clear()
    again = world.client.get(url, follow_redirects=False)
    assert again.status_code == 401
    assert COOKIE not in again.headers.get("set-cookie", "")
    late = _code_url(world)
    world.clock.advance(61)
    assert world.client.get(late, follow_redirects=False).status_code == 401
    # Only hashes are stored: neither the code nor the cookie is in the table.
    code = url.split("code=", 1)[1]
    with world.broker.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(customer_page_sessions))]
    assert rows
    assert all(code not in json.dumps(r, default=str) for r in rows)


def test_no_page_without_the_customer_cookie_and_a_forged_code_fails(world: World) -> None:
    staff = world.as_(world.alice)
    assert world.client.get("/customer/page", headers=staff).status_code == 401
    assert world.client.get("/customer/page/enter?code=actas_cpc_forged").status_code == 401
    world.client.cookies.set(COOKIE, "actas_cps_" + "A" * 43, domain="broker.test")
    assert world.client.get("/customer/page").status_code == 401


def test_the_customer_grants_and_revokes_and_every_form_needs_its_token(world: World) -> None:
    token = _enter(world)
    forged = world.client.post("/customer/page/grants", data={"minutes": "60"})
    assert forged.status_code == 403
    cross = world.client.post(
        "/customer/page/grants",
        data={"minutes": "60", "csrf_token": token},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert cross.status_code == 403
    assert _grants(world) == []
    granted = world.client.post(
        "/customer/page/grants",
        data={"minutes": "60", "read_only": "on", "csrf_token": token},
        follow_redirects=False,
    )
    assert granted.status_code == 303, granted.text
    (grant,) = _grants(world)
    assert grant["read_only"] is True
    assert grant["granted_by"] == "u-1"
    bad = world.client.post("/customer/page/grants", data={"minutes": "61", "csrf_token": token})
    assert bad.status_code == 422
    assert "minutes" in bad.text
    assert len(_grants(world)) == 1
    revoked = world.client.post(
        f"/customer/page/grants/{grant['id']}/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert _grants(world)[0]["revoked_at"] is not None
    types = [e["type"] for e in world.events(account="acme")]
    assert "customer_page.signed_in" in types
    assert "consent.revoked" in types


def test_only_an_account_admin_sees_and_sets_the_policy(world: World) -> None:
    token = _enter(world)
    page = world.client.get("/customer/page")
    assert "Your account's policy" not in page.text
    refused = world.client.post(
        "/customer/page/policy", data={"rule": "never", "csrf_token": token}
    )
    assert refused.status_code == 403
    policy = world.client.get(CUSTOMER + "/policy", headers=world.app_headers).json()
    assert policy["rule"] == "default"
    token = _enter(world, admin=True)
    saved = world.client.post(
        "/customer/page/policy",
        data={"rule": "consent", "notify": "on", "csrf_token": token},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    policy = world.client.get(CUSTOMER + "/policy", headers=world.app_headers).json()
    assert (policy["rule"], policy["notify_every_session"]) == ("consent", True)


def test_a_code_is_shown_once_and_the_history_downloads(world: World) -> None:
    token = _enter(world)
    made = world.client.post(
        "/customer/page/codes", data={"grant_minutes": "60", "csrf_token": token}
    )
    assert made.status_code == 201, made.text
    assert re.search(r'class="code">[0-9A-Z]{4}-[0-9A-Z]{4}<', made.text)
    assert made.headers["cache-control"] == "no-store"
    as_csv = world.client.get("/customer/page/history.csv")
    assert as_csv.status_code == 200
    assert "attachment" in as_csv.headers["content-disposition"]
    header = next(csv.reader(io.StringIO(as_csv.text)))
    assert header[:3] == ["session", "staff_name", "staff_roles"]
    as_jsonl = world.client.get("/customer/page/history.jsonl")
    assert as_jsonl.headers["content-type"].startswith("application/x-ndjson")


def test_signing_out_ends_the_visit(world: World) -> None:
    token = _enter(world)
    out = world.client.post("/customer/page/sign-out", data={"csrf_token": token})
    assert out.status_code == 200
    world.client.cookies.clear()
    assert world.client.get("/customer/page").status_code == 401


class _ThroughTestClient(httpx.BaseTransport):
    """The SDK's calls, sent to the real broker app through the test's client."""

    def __init__(self, world: World) -> None:
        self.world = world

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.world.client.request(
            request.method, request.url.path, headers=request.headers, content=request.read()
        )
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


def _sdk_client(world: World) -> BrokerClient:
    credential = world.app_headers["Authorization"].removeprefix("Bearer ")
    config = Config(
        broker_url="https://broker.test",
        application_id="notes",
        credential=credential,
        handoff_url="https://notes.test/actas/handoff",
    )
    return BrokerClient(config, transport=_ThroughTestClient(world))


def test_the_sdk_gets_a_one_time_url_that_signs_the_customer_in(world: World) -> None:
    client = _sdk_client(world)
    page = customer.page_url(client, "u-1", account_admin=True)
    assert "<redacted>" in repr(page)
    assert "code=" not in repr(page)
    parts = urlsplit(page.url)
    entered = world.client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert entered.status_code == 303
    assert "Your account's policy" in world.client.get("/customer/page").text
    with pytest.raises(GrantRejected):
        customer.page_url(client, "nobody", account_admin=False)


def test_the_sdk_refuses_a_refused_credential_and_a_url_off_the_page(world: World) -> None:
    config = Config(
        broker_url="https://broker.test",
        application_id="notes",
        credential="actas_ak_wrong",
        handoff_url="https://notes.test/actas/handoff",
    )
    with pytest.raises(BrokerError, match="credential"):
        customer.page_url(
            BrokerClient(config, transport=_ThroughTestClient(world)), "u-1", account_admin=False
        )

    # A broker (or something posing as one) that answers with another address: never followed.
    def elsewhere(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201, json={"url": "https://evil.test/phish", "expires_at": "2026-01-01T00:00:00Z"}
        )

    client = BrokerClient(config, transport=httpx.MockTransport(elsewhere))
    with pytest.raises(BrokerError, match="no usable URL"):
        customer.page_url(client, "u-1", account_admin=False)


def test_support_cannot_ask_on_a_closed_case(world: World) -> None:
    headers = world.as_(world.alice)
    case = open_case(world, headers)
    closed = world.client.post(
        f"/v1/cases/{case}/close", headers=headers, json={"changes": "none", "verify": "n/a"}
    )
    assert closed.status_code == 200, closed.text
    asked = world.client.post(f"/v1/cases/{case}/ask-consent", headers=headers)
    assert asked.status_code == 409
    assert world.events(type="consent.asked") == []


def test_the_visit_ends_when_the_customer_moves_account_or_the_app_is_disabled(
    world: World,
) -> None:
    _enter(world)
    assert world.client.put("/v1/accounts/other", headers=world.app_headers, json={"name": "O"})
    moved = {"account": "other", "display_name": "Jane", "email": "jane@customer.test"}
    assert (
        world.client.put(
            CUSTOMER.replace("customers", "subjects"), headers=world.app_headers, json=moved
        ).status_code
        == 200
    )
    assert world.client.get("/customer/page").status_code == 401
    _enter(world)
    with world.broker.engine.begin() as conn:
        conn.execute(applications.update().values(disabled_at=world.clock()))
    assert world.client.get("/customer/page").status_code == 401
