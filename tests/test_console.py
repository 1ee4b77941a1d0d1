"""The staff console without a browser, on SQLite and PostgreSQL: every form refuses a missing
or wrong CSRF token (and cross-site requests) and changes nothing; the Content-Security-Policy
allows no inline script and no other host; roles are enforced; sign-in says what went wrong;
the console shows no customer secret; the subject search finds what staff type.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from actas.console import csrf
from actas.console.routes import PAGES, STATIC
from actas.console.timefmt import TZ_COOKIE
from actas.console.web import TEMPLATES, safe_next
from actas.domain.roles import Role
from actas.http.callers import SESSION_COOKIE
from actas.http.security_headers import CSP
from actas.services import directory
from tests.conftest import Persona
from tests.scenario import World, set_flags
from tests.test_api_bad_input import snapshot

BASE = "https://broker.test"
TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]*)"')
POSTS = [(suffix, public) for suffix, method, _, public, _ in PAGES if method == "POST"]
GETS = [suffix for suffix, method, _, _, _ in PAGES if method == "GET"]


def concrete(suffix: str) -> str:
    return "/console" + re.sub(r"\{[^}]+\}", "x", suffix)


class Staffer:
    """A browser-like client signed in to the console as one persona."""

    def __init__(self, world: World, who: Persona) -> None:
        self.world = world
        self.who = who
        self.client = TestClient(world.client.app, base_url=BASE)
        page = self.client.get("/console/login")
        world.clock.advance(30)
        response = self.client.post(
            "/console/login",
            data={
                "csrf_token": token_of(page.text),
                "email": who.email,
                "password": who.password,
                "code": who.code(world.clock),
            },
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        self.csrf = token_of(self.client.get("/console/search").text)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        body = {"csrf_token": self.csrf, **(data or {})}
        kwargs.setdefault("follow_redirects", False)
        return self.client.post(path, data=body, **kwargs)

    def close(self) -> None:
        self.client.close()


def token_of(html: str) -> str:
    found = TOKEN_RE.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def staffers(world: World) -> Iterator[dict[str, Staffer]]:
    boss = world.people.add("boss", Role.ADMIN, Role.SECURITY, Role.LEAD)
    made = {
        "alice": Staffer(world, world.alice),
        "lucy": Staffer(world, world.lucy),
        "boss": Staffer(world, boss),
    }
    yield made
    for staffer in made.values():
        staffer.close()


def open_case(staffer: Staffer) -> str:
    response = staffer.post(
        "/console/cases",
        {
            "application": "notes",
            "subject": "u-1",
            "ticket": "ZD-1",
            "reason_code": "bug_reproduction",
            "reason": "Export fails",
        },
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"].split("/")[-1].split("?")[0])


# --- CSRF ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("suffix", "public"), POSTS, ids=[s for s, _ in POSTS])
def test_every_form_refuses_a_missing_or_wrong_token(
    world: World, staffers: dict[str, Staffer], suffix: str, public: bool
) -> None:
    boss = staffers["boss"]
    path = concrete(suffix)
    other = staffers["alice"].csrf
    before = snapshot(world.broker)
    attempts: list[dict[str, Any]] = [
        {"data": {}},
        {"data": {"csrf_token": ""}},
        {"data": {"csrf_token": "x" * 43}},
        {"data": {"csrf_token": other}},  # another staff member's token
        {"data": {"csrf_token": "y" * 5000}},
        {"data": {}, "headers": {"X-CSRF-Token": "wrong", "HX-Request": "true"}},
    ]
    for attempt in attempts:
        response = boss.client.post(path, follow_redirects=False, **attempt)
        assert response.status_code == 403, (path, attempt, response.text)
        assert 'role="alert"' in response.text
        assert response.headers["content-security-policy"] == CSP
    if not public:
        # The right token, but the browser says the request is cross-site: refused too.
        for headers in (
            {"Origin": "https://evil.test"},
            {"Origin": "null"},
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},
        ):
            response = boss.post(path, headers=headers)
            assert response.status_code == 403, (path, headers, response.text)
    assert snapshot(world.broker) == before


def test_the_sign_in_form_needs_its_double_submit_cookie(world: World) -> None:
    client = TestClient(world.client.app, base_url=BASE)
    page = client.get("/console/login")
    token = token_of(page.text)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"{csrf.LOGIN_COOKIE}={token};")
    assert all(flag in cookie.lower() for flag in ("secure", "httponly", "samesite=strict"))
    assert "domain=" not in cookie.lower()
    world.clock.advance(30)
    good = {
        "email": world.alice.email,
        "password": world.alice.password,
        "code": world.alice.code(world.clock),
    }
    before = snapshot(world.broker)
    for token_sent in ("", "forged-" + token[7:], token[:-1]):
        response = client.post(
            "/console/login", data={**good, "csrf_token": token_sent}, follow_redirects=False
        )
        assert response.status_code == 403, response.text
    client.cookies.delete(csrf.LOGIN_COOKIE)
    response = client.post(
        "/console/login", data={**good, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert snapshot(world.broker) == before
    client.cookies.set(csrf.LOGIN_COOKIE, token, domain="broker.test", path="/")
    response = client.post(
        "/console/login", data={**good, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/search"
    session = response.cookies.get(SESSION_COOKIE) or client.cookies.get(SESSION_COOKIE)
    assert session
    client.close()


def test_the_token_is_bound_to_the_session_and_changes_at_each_sign_in(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    again = Staffer(world, world.alice)
    assert again.csrf != alice.csrf
    assert csrf.same(alice.csrf, alice.csrf)
    assert not csrf.same(alice.csrf, again.csrf)
    # The token of the old session does not work with the new one.
    response = again.client.post(
        "/console/logout", data={"csrf_token": alice.csrf}, follow_redirects=False
    )
    assert response.status_code == 403
    response = again.post("/console/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?bye=1"
    again.close()


def test_every_post_form_on_every_page_carries_the_token(
    world: World, staffers: dict[str, Staffer]
) -> None:
    lucy, alice = staffers["lucy"], staffers["alice"]
    case = open_case(alice)
    request = alice.post(
        f"/console/cases/{case}/access",
        {"kind": "impersonate", "scopes": "read", "minutes": "10", "action": "request"},
    )
    request_path = request.headers["location"]
    set_flags(world, "flagged")
    pending = alice.post(
        f"/console/cases/{case}/access",
        {"kind": "impersonate", "scopes": "read", "minutes": "10", "action": "request"},
    ).headers["location"]
    world.clock.advance(30)
    started = alice.post(f"{request_path}/start", {"code": world.alice.code(world.clock)})
    assert started.status_code == 200, started.text
    pages = {
        alice: [
            "/console/search?q=jane",
            "/console/subjects/notes/u-1",
            f"/console/cases/{case}",
            f"/console/cases/{case}/access",
            request_path,
            "/console/sessions",
        ],
        lucy: ["/console/approvals", pending, "/console/sessions"],
        staffers["boss"]: ["/console/staff", "/console/audit"],
    }
    forms = 0
    for staffer, paths in pages.items():
        for path in paths:
            html = staffer.get(path).text
            for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S):
                if 'method="post"' in form:
                    assert token_of(form) == staffer.csrf, (path, form[:200])
                    forms += 1
            assert f'hx-headers=\'{{"X-CSRF-Token": "{staffer.csrf}"}}\'' in html
    assert forms >= 15


# --- the Content-Security-Policy and the other headers ---------------------------------------


def test_the_csp_allows_no_inline_script_and_no_other_host() -> None:
    directives = dict(
        ([*part.split(" ", 1), ""])[:2] for part in (d.strip() for d in CSP.split(";"))
    )
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["form-action"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["img-src"] == "'self' data:"
    for value in directives.values():
        assert "unsafe" not in value
        assert "*" not in value
        assert "http" not in value
        assert "nonce-" not in value
        assert "sha256-" not in value


@pytest.mark.parametrize("suffix", [*GETS, "/static/htmx.min.js", "/static/console.css"])
def test_every_console_response_carries_the_headers(
    world: World, staffers: dict[str, Staffer], suffix: str
) -> None:
    response = staffers["boss"].get(concrete(suffix), follow_redirects=False)
    assert response.status_code < 500
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    expected = "no-cache" if "/static/" in suffix else "no-store"
    assert headers["cache-control"] == expected


def test_templates_and_pages_hold_no_inline_script_or_style(
    world: World, staffers: dict[str, Staffer]
) -> None:
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle\s*=|\son[a-z]+\s*=|javascript:", re.I
    )
    for template in TEMPLATES.glob("*.html"):
        assert not inline.search(template.read_text()), template.name
    boss = staffers["boss"]
    for path in ("/console/search?q=j", "/console/staff", "/console/audit", "/console/sessions"):
        html = boss.get(path).text
        assert not inline.search(html), path
        for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', html):
            assert src.startswith("/console/static/"), src
        for href in re.findall(r'<link[^>]*\bhref="([^"]+)"', html):
            assert href.startswith(("/console/static/", "data:")), href


def test_the_vendored_files_are_the_recorded_releases() -> None:
    recorded = (STATIC / "VENDORED.md").read_text()
    digest = hashlib.sha256((STATIC / "htmx.min.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in recorded
    assert "| 2.0.11 |" in recorded
    vendor = Path(__file__).parent / "browser" / "vendor"
    axe = hashlib.sha256((vendor / "axe.min.js").read_bytes()).hexdigest()
    assert f"`{axe}`" in (vendor / "VENDORED.md").read_text()


# --- signing in, out and again --------------------------------------------------------------


def test_pages_send_strangers_to_sign_in_and_say_when_a_session_ended(
    world: World, staffers: dict[str, Staffer]
) -> None:
    stranger = TestClient(world.client.app, base_url=BASE)
    response = stranger.get("/console/sessions", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=%2Fconsole%2Fsessions"
    response = stranger.get("/", follow_redirects=False)
    assert response.headers["location"].startswith("/console/login")
    response = stranger.get("/console/sessions", headers={"HX-Request": "true"})
    assert response.headers["hx-redirect"] == "/console/login"
    stranger.cookies.set(SESSION_COOKIE, "actas_ss_not-a-session", domain="broker.test")
    response = stranger.get("/console/audit", follow_redirects=False)
    assert response.headers["location"] == "/console/login?expired=1&next=%2Fconsole%2Faudit"
    page = stranger.get(response.headers["location"])
    assert "Your session has ended. Sign in again to continue." in page.text
    stranger.close()
    alice = staffers["alice"]
    token = alice.client.cookies[SESSION_COOKIE]
    response = alice.post("/console/logout")
    assert response.headers["location"] == "/console/login?bye=1"
    assert "You have signed out." in alice.get("/console/login?bye=1").text
    # Signed out, the cookie is gone; sent again anyway, the session is over.
    assert SESSION_COOKIE not in alice.client.cookies
    alice.client.cookies.set(SESSION_COOKIE, token, domain="broker.test")
    response = alice.get("/console/search", follow_redirects=False)
    assert response.headers["location"] == "/console/login?expired=1&next=%2Fconsole%2Fsearch"


def test_sign_in_says_what_went_wrong_without_saying_which_part(world: World) -> None:
    client = TestClient(world.client.app, base_url=BASE)
    token = token_of(client.get("/console/login").text)
    world.clock.advance(30)
    for wrong in (
        {"password": "not-the-password"},
        {"code": "000000"},
        {"email": "nobody@staff.test"},
    ):
        body = {
            "csrf_token": token_of(client.get("/console/login").text),
            "email": world.alice.email,
            "password": world.alice.password,
            "code": world.alice.code(world.clock),
            **wrong,
        }
        response = client.post("/console/login", data=body)
        assert response.status_code == 401
        assert "The email, password or code is wrong." in response.text
        assert 'role="alert"' in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    for _ in range(world.broker.settings.sign_in_free_failures - 1):  # 2 above + these
        client.post(
            "/console/login",
            data={
                "csrf_token": token_of(client.get("/console/login").text),
                "email": world.alice.email,
                "password": "not-the-password",
                "code": "000000",
            },
        )
    response = client.post(
        "/console/login",
        data={
            "csrf_token": token_of(client.get("/console/login").text),
            "email": world.alice.email,
            "password": world.alice.password,
            "code": world.alice.code(world.clock),
        },
    )
    # Past the free failures the source waits, right password or not, and is told so.
    assert response.status_code == 429
    assert "Too many failed sign-ins from here. Try again in 1 second;" in response.text
    assert int(response.headers["retry-after"]) > 0
    assert token  # the first page's token was replaced at every answer
    client.close()


@pytest.mark.parametrize(
    "target",
    [
        "//evil.test/console/search",
        "https://evil.test/",
        "/\\evil.test",
        "javascript:alert(1)",
        "/console/../evil",
        "/console//evil.test",
        "/v1/staff/me",
        "/console/search\r\nLocation: https://evil.test",
    ],
)
def test_sign_in_never_redirects_off_the_console(target: str) -> None:
    assert safe_next(target) == "/console/search"


def test_sign_in_follows_next_within_the_console(world: World) -> None:
    client = TestClient(world.client.app, base_url=BASE)
    page = client.get("/console/login?next=/console/sessions")
    world.clock.advance(30)
    response = client.post(
        "/console/login",
        data={
            "csrf_token": token_of(page.text),
            "email": world.alice.email,
            "password": world.alice.password,
            "code": world.alice.code(world.clock),
            "next": "/console/sessions",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/console/sessions"
    client.close()


# --- roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/console/audit"),
        ("GET", "/console/audit/verify"),
        ("GET", "/console/audit/export.csv"),
        ("GET", "/console/audit/export.jsonl"),
        ("GET", "/console/staff"),
        ("POST", "/console/staff"),
        ("POST", "/console/staff/x/disable"),
        ("POST", "/console/staff/x/reset-totp"),
        ("GET", "/console/approvals"),
    ],
)
def test_an_agent_is_refused_what_their_role_does_not_allow(
    world: World, staffers: dict[str, Staffer], method: str, path: str
) -> None:
    alice = staffers["alice"]
    before = snapshot(world.broker)
    if method == "GET":
        response = alice.get(path, follow_redirects=False)
    else:
        response = alice.post(path, {"email": "x@staff.test", "display_name": "X"})
    assert response.status_code == 403, response.text
    assert 'role="alert"' in response.text
    assert snapshot(world.broker) == before


def test_nobody_approves_their_own_request(world: World, staffers: dict[str, Staffer]) -> None:
    boss = staffers["boss"]
    set_flags(world, "flagged")
    case = (
        boss.post(
            "/console/cases",
            {
                "application": "notes",
                "subject": "u-1",
                "ticket": "ZD-2",
                "reason_code": "bug_reproduction",
                "reason": "r",
            },
        )
        .headers["location"]
        .split("/")[-1]
        .split("?")[0]
    )
    request = boss.post(
        f"/console/cases/{case}/access",
        {"kind": "impersonate", "scopes": "read", "minutes": "10", "action": "request"},
    ).headers["location"]
    inbox = boss.get("/console/approvals").text
    assert "This is your own request: somebody else must approve it." in inbox
    response = boss.post(f"{request}/approve", {"comment": "me", "back": "approvals"})
    assert response.status_code == 403
    assert "Nobody may approve their own request." in response.text
    response = staffers["lucy"].post(f"{request}/approve", {"comment": "ok"})
    assert response.status_code == 303


# --- what the pages show and never show ------------------------------------------------------


def test_times_follow_the_staff_members_zone_with_utc_on_hover(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    case = open_case(alice)
    alice.client.cookies.set(TZ_COOKIE, "America/New_York", domain="broker.test")
    html = alice.get(f"/console/cases/{case}").text
    assert '<time datetime="2026-11-23T12' in html
    assert 'title="2026-11-23 12:' in html
    assert ' UTC"' in html
    assert re.search(r">2026-11-23 07:\d\d EST</time>", html)
    alice.client.cookies.set(TZ_COOKIE, "../../../etc/passwd", domain="broker.test")
    html = alice.get(f"/console/cases/{case}").text
    assert re.search(r">2026-11-23 12:\d\d UTC</time>", html)


def test_no_customer_or_staff_secret_reaches_a_page(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice, boss = staffers["alice"], staffers["boss"]
    case = open_case(alice)
    request = alice.post(
        f"/console/cases/{case}/access",
        {"kind": "impersonate", "scopes": "read", "minutes": "10", "action": "request"},
    ).headers["location"]
    world.clock.advance(30)
    started = alice.post(
        f"{request}/start", {"code": world.alice.code(world.clock)}, headers={"HX-Request": "true"}
    )
    redirect = started.headers["hx-redirect"]
    code = redirect.split("code=")[1]
    assert redirect.startswith("https://notes.test/actas/handoff?code=actas_hc_")
    assert started.text == ""
    with world.broker.store.read() as uow:
        members = uow.staff.all()
    pages = [
        alice.get(f"/console/cases/{case}").text,
        alice.get(request).text,
        alice.get("/console/sessions").text,
        boss.get("/console/staff").text,
        boss.get("/console/audit?limit=1000").text,
    ]
    for html in pages:
        assert code not in html
        for member in members:
            assert member.totp_secret not in html
            assert member.password_hash not in html
    assert alice.get("/console/sessions").text.count('<tr id="session-') == 1


def test_the_search_finds_by_email_name_id_and_account(world: World) -> None:
    search = world.broker.services

    def found(text: str) -> list[str]:
        return [c.subject.id for c in directory.find_subjects(search, text)]

    assert found("jane@customer.test") == ["u-1"]
    assert found("JANE@") == ["u-1"]
    assert found("an") == ["u-1"]  # "Jane" contains it
    assert found("u-1") == ["u-1"]
    assert found("acme") == ["u-1"]
    assert found("Acm") == ["u-1"]  # the account's name
    assert found("%") == []
    assert found("_") == []
    assert found("   ") == []
    card = directory.find_subjects(search, "u-1")[0]
    assert card.consent is None
    with pytest.raises(Exception, match="at most 200"):
        directory.find_subjects(search, "x" * 201)


def without_comments(text: str) -> str:
    """The CSV export opens with ``#`` lines carrying its header and checkpoint."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def test_the_audit_page_filters_and_exports_safely(
    world: World, staffers: dict[str, Staffer]
) -> None:
    boss = staffers["boss"]
    open_case(staffers["alice"])
    html = boss.get("/console/audit?type=case.opened").text
    assert html.count("<code>case.opened</code>") == 1
    assert "Chain verified" in boss.get("/console/audit/verify").text
    response = boss.get("/console/audit/export.csv?type=case.opened")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(without_comments(response.text))))
    assert [r["type"] for r in rows] == ["case.opened"]
    assert rows[0]["ticket"] == "ZD-1"
    lines = boss.get("/console/audit/export.jsonl?type=staff.login").text.splitlines()
    assert json.loads(lines[0])["filters"] == {"type": "staff.login"}  # the header line
    assert len(lines) == 1 + 3  # alice, lucy and boss signed in
    response = boss.get("/console/audit?since=not-a-time")
    assert response.status_code == 422
    assert "is not a date and time" in response.text


def test_a_formula_in_a_field_is_not_a_formula_in_the_csv(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    alice.post(
        "/console/cases",
        {
            "application": "notes",
            "subject": "u-1",
            "ticket": '=HYPERLINK("https://evil.test")',
            "reason_code": "bug_reproduction",
            "reason": "+1",
        },
    )
    text = staffers["boss"].get("/console/audit/export.csv?type=case.opened").text
    row = next(csv.DictReader(io.StringIO(without_comments(text))))
    assert row["ticket"].startswith("'=")
    assert row["reason"] == "'+1"


def test_the_static_files_are_only_ours(world: World) -> None:
    client = world.client
    assert client.get("/console/static/htmx.min.js").status_code == 200
    assert client.get("/console/static/../templates/base.html").status_code == 404
    assert client.get("/console/static/%2e%2e/web.py").status_code == 404
    for path in Path(STATIC).iterdir():
        assert path.suffix in {".js", ".css", ".md", ".LICENSE"}, path


def _ask(staffer: Staffer, case: str, **fields: str) -> str:
    body = {"kind": "impersonate", "scopes": "read", "minutes": "10", "action": "request"}
    response = staffer.post(f"/console/cases/{case}/access", {**body, **fields})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_a_high_risk_approval_needs_the_approvers_code(
    world: World, staffers: dict[str, Staffer]
) -> None:
    engineer = Staffer(world, world.people.add("erin", Role.ENGINEER))
    lucy = staffers["lucy"]
    case = open_case(engineer)
    request = _ask(engineer, case, scopes="write", minutes="30")
    inbox = lucy.get("/console/approvals").text
    assert "Your authenticator code (high risk)" in inbox
    response = lucy.post(f"{request}/approve", {"comment": "ok", "back": "approvals"})
    assert response.status_code == 401
    assert "This needs a fresh code from your authenticator app." in response.text
    world.clock.advance(30)
    response = lucy.post(
        f"{request}/approve", {"comment": "ok", "code": world.lucy.code(world.clock)}
    )
    assert response.status_code == 303
    assert "Approved." in engineer.get(request).text
    engineer.close()


def test_own_session_ends_extends_and_others_are_revoked_only_by_the_entitled(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice, lucy = staffers["alice"], staffers["lucy"]
    request = _ask(alice, open_case(alice))
    wrong = alice.post(f"{request}/start", {"code": "000000"}, headers={"HX-Request": "true"})
    assert wrong.status_code == 401  # htmx swaps the fragment in, with the error and the form
    assert wrong.text.lstrip().startswith('<div id="request-status"')
    assert "The authenticator code is wrong or was already used." in wrong.text
    assert 'id="start-code"' in wrong.text
    world.clock.advance(30)
    started = alice.post(f"{request}/start", {"code": world.alice.code(world.clock)})
    assert "Continue to the application" in started.text  # without htmx: a link, no redirect
    session = re.search(r'href="/console/sessions/([0-9a-f-]+)"', alice.get(request).text)
    assert session
    path = f"/console/sessions/{session.group(1)}"
    page = alice.get(path).text
    assert "End session" in page
    assert "Ask to extend" in page
    extension = alice.post(f"{path}/extend", {"minutes": "20", "reason": "Still reproducing"})
    assert extension.status_code == 303
    world.clock.advance(30)
    applied = alice.post(
        f"{extension.headers['location']}/start", {"code": world.alice.code(world.clock)}
    )
    assert applied.headers["location"] == path
    extended = world.events(type="session.extended")
    assert [(e["session"], e["reason"]) for e in extended] == [
        (session.group(1), "Still reproducing")
    ]
    # Another agent may not revoke it; a lead may.
    ned = Staffer(world, world.people.add("ned", Role.AGENT))
    assert "Revoke" not in ned.get("/console/sessions").text
    response = ned.post(f"{path}/revoke", {"reason": "no"})
    assert response.status_code == 403
    assert "Only the staff member in the session, a lead, security or an admin." in response.text
    ned.close()
    response = lucy.post(f"{path}/revoke", {"reason": "done", "back": "session"})
    assert response.headers["location"] == "/console/sessions?done=revoked"
    response = alice.post(f"{path}/end", {"back": "session"})
    assert response.status_code == 409
    assert "The session has already ended." in response.text


def test_a_case_takes_notes_and_closes_with_its_summary(
    world: World, staffers: dict[str, Staffer]
) -> None:
    alice = staffers["alice"]
    case = open_case(alice)
    empty = alice.post(f"/console/cases/{case}/notes", {"kind": "observation"})
    assert empty.status_code == 422
    assert "Write something in at least one field." in empty.text
    note = alice.post(f"/console/cases/{case}/notes", {"kind": "note", "text": "Called back"})
    assert note.headers["location"].endswith("?done=note_added")
    closed = alice.post(
        f"/console/cases/{case}/close",
        {"changes": "Reset the export job", "verify": "Export again from Reports"},
    )
    assert closed.status_code == 303
    page = alice.get(f"/console/cases/{case}").text
    # The world's customer has no verified email: the page says so, never "sent" (issue 10).
    assert "Summary sent to the customer" not in page
    assert "<strong>not sent</strong>: the customer has no verified email" in page
    assert "Export again from Reports" in page
    assert "Called back" in page
    assert f'action="/console/cases/{case}/close"' not in page
