"""Passkeys in Debian's Chromium with its virtual authenticator (DevTools protocol
``WebAuthn.*``, user verification on): register on one's own page, sign in with the passkey,
step up with it to start a session, approve a high-risk request with it where the policy
requires a passkey (and TOTP is refused there), and a credential registered on another origin
is refused.

WebAuthn needs a domain, not an IP address, as relying party id: this module runs its own
broker at ``http://localhost:PORT`` (a secure context), with ``[passkeys]
require_for_actions = ["approve_high_risk"]`` in its ``actas.toml``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from actas.app import create_app
from actas.bootstrap import build, initialise
from actas.domain.audit import AuditQuery
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.security.passwords import FastTestPasswords
from actas.services import audit as audit_service
from actas.services import cases, passkeys, requests
from actas.services import staff as staff_service
from actas.settings import load_settings
from tests.browser.conftest import SETUP, Console, _require_browser, _seed, sign_in
from tests.browser.harness import VIEWPORT, Codes, Landing, free_port, run_axe

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser

POLICY = '[passkeys]\nrequire_for_actions = ["approve_high_risk"]\n'


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    _require_browser()
    directory: Path = tmp_path_factory.mktemp("passkeys")
    (directory / "actas.toml").write_text(POLICY)
    port = free_port()
    url = f"http://localhost:{port}"
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": f"sqlite:///{directory / 'actas.db'}",
            "ACTAS_PUBLIC_URL": url,
            "ACTAS_KEY_FILE": str(directory / "keys.json"),
        },
        cwd=directory,
    )
    initialise(settings)
    broker = build(settings, passwords=FastTestPasswords())
    landing = Landing()
    people = _seed(broker, landing)
    staff_service.add_staff(
        broker.services,
        email="erin@staff.test",
        display_name="Erin",
        roles=frozenset({Role.ENGINEER}),
        password="erin-correct-horse-battery",
        by=SETUP,
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(broker), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, name="broker", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the broker did not start"
        assert time.monotonic() < deadline, "the broker did not start within 20 s"
        time.sleep(0.02)
    yield Console(url=url, broker=broker, landing=landing, codes=Codes(), people=people)
    server.should_exit = True
    thread.join(timeout=10)
    landing.close()
    broker.engine.dispose()


def _page(browser: Any, console: Console, problems: list[str]) -> Any:
    """A page in its own context with a virtual platform authenticator that verifies the
    user (as a fingerprint would)."""
    context = browser.new_context(base_url=console.url, locale="en-GB", viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    page.cdp = cdp
    return page


@pytest.fixture
def pages(browser: Any, console: Console) -> Iterator[Any]:
    problems: list[str] = []
    made: list[Any] = []

    def make() -> Any:
        page = _page(browser, console, problems)
        made.append(page)
        return page

    yield make
    for page in made:
        page.context.close()
    assert not problems, problems


def _staff(console: Console, name: str) -> Staff:
    with console.broker.services.read() as uow:
        member = uow.staff.by_email(f"{name}@staff.test")
    assert member is not None
    return member


def _register(page: Any, console: Console, name: str) -> None:
    sign_in(page, console, name)
    page.get_by_role("link", name="Your sign-in").click()
    page.wait_for_url("**/console/me")
    run_axe(page, "your sign-in")
    page.get_by_label("Name for the new passkey").fill("Test laptop")
    page.get_by_role("button", name="Register a passkey").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your passkey is registered: use it to sign in and to step up."
    )
    expect(page.locator("main")).to_contain_text("Test laptop")


def _ask(console: Console, who: str, subject: str, scopes: frozenset[str]) -> str:
    ctx = console.broker.services
    staff = _staff(console, who)
    case = cases.open_case(
        ctx,
        staff=staff,
        application_id="notes",
        subject_id=subject,
        ticket="ZD-9",
        reason_code="bug_reproduction",
        reason_text="passkey test",
        by=SETUP,
    )
    return requests.request_access(
        ctx,
        staff=staff,
        case_id=case.id,
        kind="impersonate",
        scopes=scopes,
        minutes=15,
        by=SETUP,
    ).id


def test_register_sign_in_and_step_up_to_start(pages: Any, console: Console) -> None:
    alice = pages()
    _register(alice, console, "alice")
    [stored] = passkeys.list_passkeys(console.broker.services, _staff(console, "alice").id)
    assert stored.name == "Test laptop"

    # Sign out, then in again with the passkey alone (discoverable, user verified).
    alice.get_by_role("button", name="Sign out").click()
    alice.wait_for_url("**/console/login?bye=1")
    alice.get_by_role("button", name="Sign in with a passkey").click()
    alice.wait_for_url("**/console/search")
    expect(alice.locator(".whoami")).to_contain_text("Alice")
    logins = audit_service.read_events(
        console.broker.services, AuditQuery(type="staff.login", limit=50)
    )
    assert any(e["data"].get("method") == "passkey" for e in logins), logins

    # An approved request (a lead approved it elsewhere); start it with the passkey.
    request_id = _ask(console, "alice", "u-1", frozenset({"read"}))
    requests.approve_request(
        console.broker.services,
        approver=_staff(console, "lucy"),
        request_id=request_id,
        comment="ok",
        via="api",
        code=None,
        by=SETUP,
    )
    alice.goto(f"/console/requests/{request_id}")
    alice.get_by_role("button", name="Start with a passkey").click()
    alice.wait_for_url(f"{console.landing.origin}/actas/handoff?code=*")
    steps = audit_service.read_events(
        console.broker.services, AuditQuery(type="staff.step_up", limit=50)
    )
    assert [(e["data"]["method"], e["data"]["action"]) for e in steps] == [("passkey", "start")]


def test_high_risk_approval_needs_the_passkey_where_the_policy_says_so(
    pages: Any, console: Console
) -> None:
    lucy = pages()
    _register(lucy, console, "lucy")
    request_id = _ask(console, "erin", "u-1", frozenset({"write"}))
    request, _ = requests.get_request(console.broker.services, request_id)
    assert (request.state.value, request.high_risk) == ("pending_approval", True)
    lucy.get_by_role("link", name="Approvals").click()
    card = lucy.get_by_role("article").filter(has_text="Erin asks to impersonate")
    expect(card).to_contain_text("ZD-9")
    card.get_by_label("Comment").fill("Checked ZD-9")
    # TOTP is refused for this action: the policy requires a passkey.
    card.get_by_label("Your authenticator code (high risk)").fill(console.code("lucy"))
    card.get_by_role("button", name="Approve", exact=True).click()
    expect(lucy.locator("main")).to_contain_text(
        "This needs your passkey: a code from an authenticator app is not accepted here."
    )
    request, _ = requests.get_request(console.broker.services, request_id)
    assert request.state.value == "pending_approval"
    card = lucy.get_by_role("article").filter(has_text="Erin asks to impersonate")
    card.get_by_label("Comment").fill("Checked ZD-9")
    card.get_by_role("button", name="Approve with a passkey").click()
    expect(lucy.get_by_role("status")).to_have_text("You approved the request.")
    request, _ = requests.get_request(console.broker.services, request_id)
    assert request.state.value == "approved"


def test_a_credential_registered_on_another_origin_is_refused(pages: Any, console: Console) -> None:
    """The same relying party id (localhost) but another origin (the landing page's port):
    the browser makes the credential, the broker refuses it (its origin is not the
    console's)."""
    ned = pages()
    sign_in(ned, console, "ned")
    options = passkeys.registration_options(console.broker.services, _staff(console, "ned"))
    ned.goto(console.landing.origin.replace("127.0.0.1", "localhost") + "/elsewhere")
    made = ned.evaluate(
        """async (options) => {
            const credential = await navigator.credentials.create({
                publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(options))
            });
            return JSON.stringify(credential.toJSON());
        }""",
        options,
    )
    ned.goto("/console/me")
    ned.evaluate(
        """(made) => {
            const form = document.querySelector('form[data-passkey="create"]');
            form.querySelector('input[name="response"]').value = made;
            form.submit();
        }""",
        made,
    )
    expect(ned.locator("main")).to_contain_text("The passkey was not accepted.")
    assert passkeys.list_passkeys(console.broker.services, _staff(console, "ned").id) == []
    refused = audit_service.read_events(
        console.broker.services, AuditQuery(type="staff.passkey_refused", limit=10)
    )
    assert [e["data"]["reason"] for e in refused] == ["attestation"]
