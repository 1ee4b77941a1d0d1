"""Bad input gets a 4xx RFC 9457 problem, never a 500, and never a half-written change.

Each case runs against a broker with a signed-in admin (who also holds ``security``), an agent
and a registered application, on SQLite and PostgreSQL. Before and after the bad request the
test counts the rows of every table and reads the audit head: nothing may have changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from actas.api.routes import audit, auth, directory, staff, system
from actas.bootstrap import Broker
from actas.domain.roles import Role
from actas.store import tables
from tests.conftest import People

PROBLEM = "application/problem+json"
COUNTED = (
    tables.staff,
    tables.staff_roles,
    tables.staff_sessions,
    tables.applications,
    tables.accounts,
    tables.subjects,
    tables.audit_events,
    tables.audit_checkpoints,
    tables.staff_assignments,
)


def snapshot(broker: Broker) -> dict[str, Any]:
    """Row counts of every table, and the audit head."""
    with broker.engine.connect() as conn:
        counts: dict[str, Any] = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in COUNTED
        }
        head = conn.execute(select(tables.audit_head.c.seq, tables.audit_head.c.hash)).one()
    counts["head"] = (int(head.seq), bytes(head.hash))
    return counts


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    assert body["type"].startswith("https://actas.dev/problems/")
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


@dataclass
class World:
    client: TestClient
    broker: Broker
    admin: dict[str, str]
    agent: dict[str, str]
    app: dict[str, str]
    app_id: str

    def headers(self, who: str | None) -> dict[str, str]:
        return {"admin": self.admin, "agent": self.agent, "app": self.app, None: {}}[who]


@pytest.fixture
def world(
    client: TestClient, broker: Broker, people: People, demo_app: tuple[str, dict[str, str]]
) -> World:
    admin = people.login(client, people.add("root", Role.ADMIN, Role.SECURITY))
    agent = people.login(client, people.add("agnes", Role.AGENT))
    app_id, app_headers = demo_app
    # The one known account, so that subject cases fail for the reason they name.
    response = client.put("/v1/accounts/acme", json={"name": "Acme"}, headers=app_headers)
    assert response.status_code == 201, response.text
    # Only explicit headers authenticate: the cookie jar would sign every request in.
    client.cookies.clear()
    return World(client, broker, admin, agent, app_headers, app_id)


def big_json(size: int) -> bytes:
    return b'{"email":"' + b"a" * size + b'@x.test","password":"p","code":"123456"}'


def chunks(data: bytes, size: int = 8192) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


JSON = {"content-type": "application/json"}
LOGIN = "/v1/auth/login"
GOOD_LOGIN = {"email": "root@staff.test", "password": "root-correct-horse-battery"}
STAFF_IN = {"email": "new@staff.test", "roles": ["agent"], "password": "long-enough-password"}
UNKNOWN_STAFF = "/v1/staff/00000000-0000-4000-8000-000000000000"

Case = tuple[str, str | None, str, str, dict[str, Any], int, str | None]
# Grouped so that each group shares one broker: a refused request changes nothing, so the
# cases of a group cannot affect each other (each checks exactly that).
# (id, who, method, path, request kwargs, status, problem type code or None)
CASES: dict[str, list[Case]] = {
    # bodies that are not JSON, or not the JSON asked for
    "body": [
        (
            "malformed-json",
            None,
            "POST",
            LOGIN,
            {"content": b"{not json", "headers": JSON},
            400,
            "malformed_json",
        ),
        (
            "truncated-json",
            None,
            "POST",
            LOGIN,
            {"content": b'{"email": "a@b.c", ', "headers": JSON},
            400,
            "malformed_json",
        ),
        (
            "empty-body",
            None,
            "POST",
            LOGIN,
            {"content": b"", "headers": JSON},
            422,
            "invalid_input",
        ),
        (
            "not-utf8",
            None,
            "POST",
            LOGIN,
            {"content": b'{"email": "\xff\xfe"}', "headers": JSON},
            400,
            None,
        ),
        (
            "deeply-nested",
            None,
            "POST",
            LOGIN,
            {"content": b"[" * 30000, "headers": JSON},
            400,
            None,
        ),
        ("array-body", None, "POST", LOGIN, {"json": [GOOD_LOGIN]}, 422, "invalid_input"),
        (
            "wrong-types",
            None,
            "POST",
            LOGIN,
            {"json": {"email": 1, "password": [], "code": None}},
            422,
            "invalid_input",
        ),
        (
            "unknown-field",
            None,
            "POST",
            LOGIN,
            {"json": {**GOOD_LOGIN, "code": "123456", "admin": 1}},
            422,
            "invalid_input",
        ),
        ("missing-field", None, "POST", LOGIN, {"json": GOOD_LOGIN}, 422, "invalid_input"),
        (
            "code-too-long",
            None,
            "POST",
            LOGIN,
            {"json": {**GOOD_LOGIN, "code": "1" * 9}},
            422,
            "invalid_input",
        ),
    ],
    # too large
    "size": [
        (
            "oversize-content-length",
            None,
            "POST",
            LOGIN,
            {"content": big_json(70_000), "headers": JSON},
            413,
            "too_large",
        ),
        (
            "oversize-with-credential",
            "app",
            "PUT",
            "/v1/accounts/big",
            {"content": b'{"name": "' + b"n" * 70_000 + b'"}', "headers": JSON},
            413,
            "too_large",
        ),
    ],
    # routing
    "routing": [
        ("unknown-route", None, "GET", "/v1/nothing-here", {}, 404, None),
        ("unknown-route-authenticated", "admin", "POST", "/v1/staff/x/explode", {}, 404, None),
        ("wrong-method", None, "DELETE", LOGIN, {}, 405, None),
        ("wrong-method-jwks", None, "POST", "/.well-known/jwks.json", {"json": {}}, 405, None),
    ],
    # unknown things
    "unknown": [
        (
            "unknown-staff-disable",
            "admin",
            "POST",
            f"{UNKNOWN_STAFF}/disable",
            {},
            404,
            "not_found",
        ),
        (
            "unknown-staff-roles",
            "admin",
            "PUT",
            f"{UNKNOWN_STAFF}/roles",
            {"json": {"roles": ["lead"]}},
            404,
            "not_found",
        ),
        (
            "subject-of-unknown-account",
            "app",
            "PUT",
            "/v1/subjects/u1",
            {"json": {"account": "ghost", "display_name": "Una"}},
            404,
            "not_found",
        ),
    ],
    # bad ids, URLs, enums, dates, numbers
    "values": [
        (
            "subject-id-with-spaces",
            "app",
            "PUT",
            "/v1/subjects/has space",
            {"json": {"account": "acme", "display_name": "Una"}},
            422,
            "invalid_input",
        ),
        (
            "subject-id-200-chars",
            "app",
            "PUT",
            "/v1/subjects/" + "s" * 200,
            {"json": {"account": "acme", "display_name": "Una"}},
            422,
            "invalid_input",
        ),
        (
            "subject-id-nul",
            "app",
            "PUT",
            "/v1/subjects/a%00b",
            {"json": {"account": "acme", "display_name": "Una"}},
            422,
            "invalid_input",
        ),
        (
            "subject-account-id-bad",
            "app",
            "PUT",
            "/v1/subjects/u1",
            {"json": {"account": "no way", "display_name": "Una"}},
            422,
            "invalid_input",
        ),
        (
            "account-id-200-chars",
            "app",
            "PUT",
            "/v1/accounts/" + "a" * 200,
            {"json": {"name": "A"}},
            422,
            "invalid_input",
        ),
        (
            "handoff-javascript",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "handoff_url": "javascript:alert(1)"}},
            422,
            "invalid_input",
        ),
        (
            "handoff-plain-http",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "handoff_url": "http://notes.test/h"}},
            422,
            "invalid_input",
        ),
        (
            "handoff-with-query",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "handoff_url": "https://notes.test/h?next=/"}},
            422,
            "invalid_input",
        ),
        (
            "handoff-with-credentials",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "handoff_url": "https://u:p@notes.test/h"}},
            422,
            "invalid_input",
        ),
        (
            "handoff-too-long",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "handoff_url": "https://notes.test/" + "h" * 2000}},
            422,
            "invalid_input",
        ),
        (
            "unknown-flag",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "flags": ["vip"]}},
            422,
            "invalid_input",
        ),
        (
            "too-many-flags",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": "A", "flags": ["flagged"] * 5}},
            422,
            "invalid_input",
        ),
        (
            "empty-account-name",
            "app",
            "PUT",
            "/v1/accounts/acme2",
            {"json": {"name": ""}},
            422,
            "invalid_input",
        ),
        (
            "unknown-role",
            "admin",
            "POST",
            "/v1/staff",
            {"json": {**STAFF_IN, "roles": ["wizard"]}},
            422,
            "invalid_input",
        ),
        (
            "no-roles",
            "admin",
            "POST",
            "/v1/staff",
            {"json": {**STAFF_IN, "roles": []}},
            422,
            "invalid_input",
        ),
        (
            "short-password",
            "admin",
            "POST",
            "/v1/staff",
            {"json": {**STAFF_IN, "password": "short"}},
            422,
            "invalid_input",
        ),
        (
            "not-an-email",
            "admin",
            "POST",
            "/v1/staff",
            {"json": {**STAFF_IN, "email": "nobody"}},
            422,
            "invalid_input",
        ),
        (
            "duplicate-staff",
            "admin",
            "POST",
            "/v1/staff",
            {"json": {**STAFF_IN, "email": "agnes@staff.test"}},
            409,
            "conflict",
        ),
        (
            "audit-bad-since",
            "admin",
            "GET",
            "/v1/audit/events",
            {"params": {"since": "yesterday"}},
            422,
            "invalid_input",
        ),
        (
            "audit-limit-0",
            "admin",
            "GET",
            "/v1/audit/events",
            {"params": {"limit": "0"}},
            422,
            "invalid_input",
        ),
        (
            "audit-limit-huge",
            "admin",
            "GET",
            "/v1/audit/events",
            {"params": {"limit": "1001"}},
            422,
            "invalid_input",
        ),
        (
            "audit-negative-after",
            "admin",
            "GET",
            "/v1/audit/events",
            {"params": {"after_seq": "-1"}},
            422,
            "invalid_input",
        ),
        (
            "audit-limit-text",
            "admin",
            "GET",
            "/v1/audit/events",
            {"params": {"limit": "ten"}},
            422,
            "invalid_input",
        ),
    ],
    # who is calling
    "credentials": [
        ("no-credentials-staff", None, "GET", "/v1/staff/me", {}, 401, "authentication_failed"),
        ("no-credentials-audit", None, "GET", "/v1/audit/events", {}, 401, "authentication_failed"),
        (
            "no-credentials-app",
            None,
            "PUT",
            "/v1/accounts/acme",
            {"json": {"name": "A"}},
            401,
            "authentication_failed",
        ),
        (
            "garbage-bearer",
            None,
            "GET",
            "/v1/staff/me",
            {"headers": {"Authorization": "Bearer actas_st_not-a-session"}},
            401,
            "authentication_failed",
        ),
        (
            "overlong-bearer",
            None,
            "PUT",
            "/v1/accounts/acme",
            {"json": {"name": "A"}, "headers": {"Authorization": "Bearer actas_ak_" + "k" * 5000}},
            401,
            "authentication_failed",
        ),
        (
            "basic-auth",
            None,
            "GET",
            "/v1/staff/me",
            {"headers": {"Authorization": "Basic cm9vdDpwYXNzd29yZA=="}},
            401,
            "authentication_failed",
        ),
        ("app-credential-as-staff", "app", "GET", "/v1/staff/me", {}, 401, "authentication_failed"),
        (
            "app-credential-reads-audit",
            "app",
            "GET",
            "/v1/audit/events",
            {},
            401,
            "authentication_failed",
        ),
        (
            "app-credential-adds-staff",
            "app",
            "POST",
            "/v1/staff",
            {"json": STAFF_IN},
            401,
            "authentication_failed",
        ),
        (
            "staff-session-as-app",
            "admin",
            "PUT",
            "/v1/accounts/acme",
            {"json": {"name": "A"}},
            401,
            "authentication_failed",
        ),
        (
            "staff-session-upserts-subject",
            "admin",
            "PUT",
            "/v1/subjects/u1",
            {"json": {"account": "acme", "display_name": "Una"}},
            401,
            "authentication_failed",
        ),
    ],
    # signed in, but not allowed
    "roles": [
        ("agent-adds-staff", "agent", "POST", "/v1/staff", {"json": STAFF_IN}, 403, "forbidden"),
        ("agent-reads-audit", "agent", "GET", "/v1/audit/events", {}, 403, "forbidden"),
    ],
}


def check_case(world: World, case: Case) -> None:
    _, who, method, path, kwargs, status, code = case
    before = snapshot(world.broker)
    kwargs = dict(kwargs)
    headers = {**world.headers(who), **kwargs.pop("headers", {})}
    response = world.client.request(method, path, headers=headers, **kwargs)
    body = assert_problem(response, status)
    if code is not None:
        assert body["type"] == f"https://actas.dev/problems/{code}"
    if status == 401:
        assert response.headers["www-authenticate"] == "Bearer"
    if status == 405:
        assert response.headers["allow"]
    # Credentials sent with the request never come back in the problem.
    if "Authorization" in headers:
        assert headers["Authorization"].split()[-1] not in response.text
    assert snapshot(world.broker) == before


@pytest.mark.parametrize("group", list(CASES))
def test_bad_request_is_a_problem_and_changes_nothing(world: World, group: str) -> None:
    failures = []
    for case in CASES[group]:
        try:
            check_case(world, case)
        except Exception as exc:  # a 500 raises here too: TestClient re-raises server errors
            failures.append(f"{case[0]}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)
    assert len(CASES[group]) >= 2


def test_validation_problem_lists_every_issue(world: World) -> None:
    response = world.client.post(LOGIN, json={"email": 1, "extra": True})
    body = assert_problem(response, 422)
    locations = {issue["location"] for issue in body["errors"]}
    assert locations == {"body.email", "body.password", "body.code", "body.extra"}
    assert body["detail"].startswith("body.")


def test_oversize_problem_names_the_limit(world: World) -> None:
    limit = world.broker.settings.max_body_bytes
    assert limit == 65536
    response = world.client.post(LOGIN, content=big_json(limit), headers=JSON)
    body = assert_problem(response, 413)
    assert str(limit) in body["detail"]


def test_a_body_at_the_limit_is_read(world: World) -> None:
    limit = world.broker.settings.max_body_bytes
    exact = big_json(limit - len(big_json(0)))
    assert len(exact) == limit
    response = world.client.post(LOGIN, content=exact, headers=JSON)
    # Read and validated (email too long), not refused for its size.
    assert_problem(response, 422)


@pytest.mark.xfail(
    reason="bug: BodyLimit raises _TooLarge inside receive(); FastAPI's body reader wraps any "
    "non-HTTPException into HTTPException(400, 'There was an error parsing the body')",
)
def test_oversize_chunked_body_is_413(world: World) -> None:
    before = snapshot(world.broker)
    response = world.client.post(LOGIN, content=chunks(big_json(70_000)), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)
    assert snapshot(world.broker) == before


def test_oversize_chunked_body_is_refused(world: World) -> None:
    """Whatever the status (see the xfail above), the chunked upload is refused as a 4xx
    problem before the handler runs."""
    before = snapshot(world.broker)
    response = world.client.post(LOGIN, content=chunks(big_json(70_000)), headers=JSON)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM
    assert snapshot(world.broker) == before


def test_small_chunked_body_is_read(world: World) -> None:
    body = b'{"name": "Chunked Inc"}'
    response = world.client.put(
        "/v1/accounts/chunked", content=chunks(body, 4), headers={**JSON, **world.app}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Chunked Inc"


def test_a_refused_account_leaves_no_account(world: World) -> None:
    response = world.client.put(
        "/v1/accounts/acme2",
        json={"name": "A", "handoff_url": "ftp://notes.test/h"},
        headers=world.app,
    )
    assert_problem(response, 422)
    with world.broker.store.read() as uow:
        assert uow.accounts.get(world.app_id, "acme2") is None
    # The same request with a good URL then creates it: the refusal was about the URL only.
    response = world.client.put(
        "/v1/accounts/acme2",
        json={"name": "A", "handoff_url": "https://notes.test/h"},
        headers=world.app,
    )
    assert response.status_code == 201, response.text


def test_a_refused_subject_leaves_no_subject(world: World) -> None:
    response = world.client.put(
        "/v1/subjects/u1", json={"account": "ghost", "display_name": "Una"}, headers=world.app
    )
    body = assert_problem(response, 404)
    assert "ghost" in body["detail"]
    with world.broker.store.read() as uow:
        assert uow.subjects.get(world.app_id, "u1") is None


def test_content_type_that_is_not_json_is_refused(world: World) -> None:
    before = snapshot(world.broker)
    response = world.client.post(
        LOGIN,
        content=b'{"email": "root@staff.test", "password": "x", "code": "123456"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code in {415, 422}
    assert_problem(response, response.status_code)
    assert snapshot(world.broker) == before


def app_api_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every APIRoute the app serves. FastAPI 0.16x keeps included routers
    as lazy branches in ``app.routes``; ``iter_route_contexts`` walks them (older releases list
    the APIRoutes themselves)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI
        found: list[Any] = list(app.routes)
    else:
        found = [c.original_route for c in iter_route_contexts(app.routes)]
    return {
        (route.path, method.lower())
        for route in found
        if isinstance(route, APIRoute)
        for method in route.methods
    }


def test_openapi_lists_every_route(world: World) -> None:
    response = world.client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    app = world.client.app
    assert isinstance(app, FastAPI)
    served = app_api_routes(app)
    assert served == documented
    # The routers themselves, read without FastAPI's include machinery: none is missing.
    declared = {
        (route.path, method.lower())
        for module in (system, auth, staff, directory, audit)
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    assert declared == documented
    assert len(documented) >= 13
    # And every documented operation is really routed: no router-level 404 or 405.
    for path, method in sorted(documented):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        answer = world.client.request(method.upper(), concrete)
        assert answer.status_code != 405, (method, path)
        if answer.status_code == 404:
            assert answer.json()["type"].endswith("/not_found"), (method, path)
