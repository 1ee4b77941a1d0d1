"""Bad input gets a 4xx RFC 9457 problem, never a 500, and never a half-written change.

Each case runs against a broker with a signed-in admin (who also holds ``security``), an agent
and a registered application, on SQLite and PostgreSQL. Before and after the bad request the
test counts the rows of every table and reads the audit head: nothing may have changed.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from actas.api import routes as routes_package
from actas.bootstrap import Broker
from actas.domain.roles import Role
from actas.store import tables
from tests.conftest import People

PROBLEM = "application/problem+json"


def snapshot(broker: Broker) -> dict[str, Any]:
    """Row counts of every table of the schema, and the audit head."""
    with broker.engine.connect() as conn:
        counts: dict[str, Any] = {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in tables.metadata.sorted_tables
        }
        head = conn.execute(select(tables.audit_head.c.seq, tables.audit_head.c.hash)).one()
    counts["head"] = (int(head.seq), bytes(head.hash))
    return counts


class Response(Protocol):
    """What the tests read of a TestClient response (httpx, or httpx2 under Starlette 1.x)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    @property
    def headers(self) -> Any: ...

    def json(self) -> Any: ...


def assert_problem(response: Response, status: int) -> dict[str, Any]:
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


class Case(NamedTuple):
    id: str
    status: int
    code: str | None  # the problem type's last segment, when it is stable
    method: str
    path: str
    who: str | None  # whose credentials go with the request
    kwargs: dict[str, Any]


def case(
    id: str,
    status: int,
    code: str | None,
    method: str,
    path: str,
    who: str | None = None,
    **kw: Any,
) -> Case:
    return Case(id, status, code, method, path, who, kw)


BAD = "invalid_input"
AUTH = "authentication_failed"
SUBJECT = {"account": "acme", "display_name": "Una"}
ACCOUNTS = "/v1/accounts/acme2"
EVENTS = "/v1/audit/events"

#: Grouped so that each group shares one broker. A refused request changes nothing, so the
#: cases of a group cannot affect each other, and each checks exactly that.
CASES: dict[str, list[Case]] = {
    "body": [
        case("malformed-json", 400, "malformed_json", "POST", LOGIN, content=b"{", headers=JSON),
        case("truncated-json", 400, "malformed_json", "POST", LOGIN, content=b'{"email": "a@b.c", ',
             headers=JSON),
        case("empty-body", 422, BAD, "POST", LOGIN, content=b"", headers=JSON),
        case("not-utf8", 400, None, "POST", LOGIN, content=b'{"email": "\xff\xfe"}', headers=JSON),
        case("deeply-nested", 400, None, "POST", LOGIN, content=b"[" * 30000, headers=JSON),
        case("array-body", 422, BAD, "POST", LOGIN, json=[GOOD_LOGIN]),
        case("wrong-types", 422, BAD, "POST", LOGIN,
             json={"email": 1, "password": [], "code": None}),
        case("unknown-field", 422, BAD, "POST", LOGIN,
             json={**GOOD_LOGIN, "code": "123456", "admin": True}),
        case("missing-field", 422, BAD, "POST", LOGIN, json=GOOD_LOGIN),
        case("code-too-long", 422, BAD, "POST", LOGIN, json={**GOOD_LOGIN, "code": "1" * 9}),
    ],
    "size": [
        case("oversize-content-length", 413, "too_large", "POST", LOGIN,
             content=big_json(70_000), headers=JSON),
        case("oversize-with-credential", 413, "too_large", "PUT", "/v1/accounts/big", "app",
             content=b'{"name": "' + b"n" * 70_000 + b'"}', headers=JSON),
    ],
    "routing": [
        case("unknown-route", 404, None, "GET", "/v1/nothing-here"),
        case("unknown-route-signed-in", 404, None, "POST", "/v1/staff/x/explode", "admin"),
        case("wrong-method", 405, None, "DELETE", LOGIN),
        case("wrong-method-jwks", 405, None, "POST", "/.well-known/jwks.json", json={}),
    ],
    "unknown": [
        case("unknown-staff-disable", 404, "not_found", "POST", f"{UNKNOWN_STAFF}/disable",
             "admin"),
        case("unknown-staff-roles", 404, "not_found", "PUT", f"{UNKNOWN_STAFF}/roles", "admin",
             json={"roles": ["lead"]}),
        case("subject-of-unknown-account", 404, "not_found", "PUT", "/v1/subjects/u1", "app",
             json={**SUBJECT, "account": "ghost"}),
    ],
    "values": [
        case("subject-id-with-spaces", 422, BAD, "PUT", "/v1/subjects/has space", "app",
             json=SUBJECT),
        case("subject-id-200-chars", 422, BAD, "PUT", "/v1/subjects/" + "s" * 200, "app",
             json=SUBJECT),
        case("subject-id-nul", 422, BAD, "PUT", "/v1/subjects/a%00b", "app", json=SUBJECT),
        case("subject-account-id-bad", 422, BAD, "PUT", "/v1/subjects/u1", "app",
             json={**SUBJECT, "account": "no way"}),
        case("account-id-200-chars", 422, BAD, "PUT", "/v1/accounts/" + "a" * 200, "app",
             json={"name": "A"}),
        case("handoff-javascript", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "handoff_url": "javascript:alert(1)"}),
        case("handoff-plain-http", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "handoff_url": "http://notes.test/h"}),
        case("handoff-with-query", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "handoff_url": "https://notes.test/h?next=/"}),
        case("handoff-with-credentials", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "handoff_url": "https://u:p@notes.test/h"}),
        case("handoff-too-long", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "handoff_url": "https://notes.test/" + "h" * 2000}),
        case("unknown-flag", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "flags": ["vip"]}),
        case("too-many-flags", 422, BAD, "PUT", ACCOUNTS, "app",
             json={"name": "A", "flags": ["flagged"] * 5}),
        case("empty-account-name", 422, BAD, "PUT", ACCOUNTS, "app", json={"name": ""}),
        case("unknown-role", 422, BAD, "POST", "/v1/staff", "admin",
             json={**STAFF_IN, "roles": ["wizard"]}),
        case("no-roles", 422, BAD, "POST", "/v1/staff", "admin", json={**STAFF_IN, "roles": []}),
        case("short-password", 422, BAD, "POST", "/v1/staff", "admin",
             json={**STAFF_IN, "password": "short"}),
        case("not-an-email", 422, BAD, "POST", "/v1/staff", "admin",
             json={**STAFF_IN, "email": "nobody"}),
        case("duplicate-staff", 409, "conflict", "POST", "/v1/staff", "admin",
             json={**STAFF_IN, "email": "agnes@staff.test"}),
        case("audit-bad-since", 422, BAD, "GET", EVENTS, "admin", params={"since": "yesterday"}),
        case("audit-limit-0", 422, BAD, "GET", EVENTS, "admin", params={"limit": "0"}),
        case("audit-limit-1001", 422, BAD, "GET", EVENTS, "admin", params={"limit": "1001"}),
        case("audit-limit-text", 422, BAD, "GET", EVENTS, "admin", params={"limit": "ten"}),
        case("audit-negative-after", 422, BAD, "GET", EVENTS, "admin", params={"after_seq": "-1"}),
    ],
    "credentials": [
        case("no-credentials-staff", 401, AUTH, "GET", "/v1/staff/me"),
        case("no-credentials-audit", 401, AUTH, "GET", EVENTS),
        case("no-credentials-app", 401, AUTH, "PUT", "/v1/accounts/acme", json={"name": "A"}),
        case("garbage-bearer", 401, AUTH, "GET", "/v1/staff/me",
             headers={"Authorization": "Bearer actas_st_not-a-session"}),
        case("overlong-bearer", 401, AUTH, "PUT", "/v1/accounts/acme", json={"name": "A"},
             headers={"Authorization": "Bearer actas_ak_" + "k" * 5000}),
        case("basic-auth", 401, AUTH, "GET", "/v1/staff/me",
             headers={"Authorization": "Basic cm9vdDpwYXNzd29yZA=="}),
        case("app-credential-as-staff", 401, AUTH, "GET", "/v1/staff/me", "app"),
        case("app-credential-reads-audit", 401, AUTH, "GET", EVENTS, "app"),
        case("app-credential-adds-staff", 401, AUTH, "POST", "/v1/staff", "app", json=STAFF_IN),
        case("staff-session-as-app", 401, AUTH, "PUT", "/v1/accounts/acme", "admin",
             json={"name": "A"}),
        case("staff-session-upserts-subject", 401, AUTH, "PUT", "/v1/subjects/u1", "admin",
             json=SUBJECT),
    ],
    "roles": [
        case("agent-adds-staff", 403, "forbidden", "POST", "/v1/staff", "agent", json=STAFF_IN),
        case("agent-reads-audit", 403, "forbidden", "GET", EVENTS, "agent"),
    ],
}  # fmt: skip


def check_case(world: World, case: Case) -> None:
    _, status, code, method, path, who, kwargs = case
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
    for item in CASES[group]:
        try:
            check_case(world, item)
        except Exception as exc:  # a 500 raises here too: TestClient re-raises server errors
            failures.append(f"{item.id}: {type(exc).__name__}: {exc}")
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


def test_oversize_chunked_body_is_413(world: World) -> None:
    before = snapshot(world.broker)
    response = world.client.post(LOGIN, content=chunks(big_json(70_000)), headers=JSON)
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    body = assert_problem(response, 413)
    assert str(world.broker.settings.max_body_bytes) in body["detail"]
    assert snapshot(world.broker) == before


def test_oversize_problem_has_one_type(world: World) -> None:
    data = big_json(70_000)
    declared = world.client.post(LOGIN, content=data, headers=JSON)
    streamed = world.client.post(LOGIN, content=chunks(data), headers=JSON)
    assert assert_problem(declared, 413)["type"] == assert_problem(streamed, 413)["type"]


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
        # SCIM's routes are left out of the document on purpose (IdPs read /scim/v2 itself).
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }


def route_modules() -> list[Any]:
    """Every module of ``actas.api.routes`` that defines a ``router``."""
    found = []
    for info in pkgutil.iter_modules(routes_package.__path__):
        module = importlib.import_module(f"{routes_package.__name__}.{info.name}")
        if isinstance(getattr(module, "router", None), APIRouter):
            found.append(module)
    return found


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
    # The routers themselves, read without FastAPI's include machinery: none is left out.
    declared = {
        (route.path, method.lower())
        for module in route_modules()
        for route in module.router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    }
    assert declared == documented
    assert len(route_modules()) >= 5
    assert len(documented) >= 13
    # And every documented operation is really routed: no router-level 404 or 405.
    for path, method in sorted(documented):
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        answer = world.client.request(method.upper(), concrete)
        assert answer.status_code != 405, (method, path)
        if answer.status_code == 404:
            assert answer.json()["type"].endswith("/not_found"), (method, path)
