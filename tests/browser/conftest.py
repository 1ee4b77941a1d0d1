"""Fixtures of the browser tests: Debian's Chromium through Playwright, a live broker, people.

Without ``/usr/bin/chromium`` (or Playwright) the tests skip with the reason; with
``ACTAS_TEST_BROWSER=required`` (CI) they fail instead. Never ``playwright install``: its
browser download does not work here, and Debian's Chromium is the one we test against.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import uvicorn

from actas.app import create_app
from actas.bootstrap import Broker, build, initialise
from actas.domain.audit import Actor
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag
from actas.security.passwords import FastTestPasswords
from actas.services import applications as app_service
from actas.services import staff as staff_service
from actas.settings import load_settings
from tests.browser.harness import (
    CHROMIUM,
    LAUNCH_ARGS,
    VIEWPORT,
    Codes,
    Landing,
    Person,
    free_port,
)

SETUP = Actor(id="browser-test-setup")

#: name -> roles. Each test signs in its own people, so no test waits for a TOTP step.
STAFF = {
    "alice": (Role.AGENT,),
    "lucy": (Role.LEAD,),
    "sam": (Role.SECURITY,),
    "ned": (Role.AGENT,),
    "ada": (Role.ADMIN,),
    "vera": (Role.AGENT,),
    "lars": (Role.AGENT,),
    "eve": (Role.AGENT,),
}


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("ACTAS_TEST_BROWSER") == "required":
        pytest.fail(f"{reason}, and ACTAS_TEST_BROWSER=required: browser tests must run")
    pytest.skip(f"{reason}: install Debian's chromium to run the browser tests")


def _require_browser() -> None:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Per module, not per session: Playwright's sync API runs
    an event loop that another module's own ``sync_playwright()`` cannot start beside."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Console:
    url: str
    broker: Broker
    landing: Landing
    codes: Codes
    people: dict[str, Person]

    def __getitem__(self, name: str) -> Person:
        return self.people[name]

    def code(self, name: str) -> str:
        return self.codes.code(self.people[name])


def _seed(broker: Broker, landing: Landing) -> dict[str, Person]:
    ctx = broker.services
    app = app_service.add_application(
        ctx,
        app_id="notes",
        name="Notes",
        handoff_url=f"{landing.origin}/actas/handoff",
        by=SETUP,
    ).application
    accounts = {
        "acme": ("Acme Corp", {AccountFlag.FLAGGED}),
        "globex": ("Globex", {AccountFlag.REGULATED}),
        "initech": ("Initech", {AccountFlag.NO_ACCESS}),
        "hooli": ("Hooli", set()),
    }
    for account_id, (name, flags) in accounts.items():
        app_service.upsert_account(
            ctx,
            app=app,
            account_id=account_id,
            name=name,
            flags=frozenset(flags),
            handoff_url=None,
            by=SETUP,
        )
    subjects = {
        "u-1": ("acme", "Jane Doe", "jane@customer.test"),
        "u-2": ("globex", "Hank Scorpio", "hank@globex.test"),
        "u-3": ("initech", "Peter Gibbons", "peter@initech.test"),
        "u-4": ("hooli", "Gavin Belson", "gavin@hooli.test"),
    }
    for subject_id, (account_id, name, email) in subjects.items():
        app_service.upsert_subject(
            ctx,
            app=app,
            subject_id=subject_id,
            account_id=account_id,
            email=email,
            email_verified=True,
            display_name=name,
            privileged=False,
            by=SETUP,
        )
    people = {}
    for name, roles in STAFF.items():
        password = f"{name}-correct-horse-battery"
        enrollment = staff_service.add_staff(
            ctx,
            email=f"{name}@staff.test",
            display_name=name.title(),
            roles=frozenset(roles),
            password=password,
            by=SETUP,
        )
        secret = enrollment.otpauth_uri.split("secret=")[1].split("&")[0]
        people[name] = Person(
            email=enrollment.staff.email, password=password, secret=secret, name=name.title()
        )
    return people


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    _require_browser()  # skip (or fail) before starting anything
    directory: Path = tmp_path_factory.mktemp("browser")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = load_settings(
        {
            "ACTAS_DATABASE_URL": f"sqlite:///{directory / 'actas.db'}",
            "ACTAS_PUBLIC_URL": url,
            "ACTAS_KEY_FILE": str(directory / "keys.json"),
            "ACTAS_SIGN_IN_FREE_FAILURES": "3",
        },
        cwd=directory,
    )
    initialise(settings)
    broker = build(settings, passwords=FastTestPasswords())
    landing = Landing()
    people = _seed(broker, landing)
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


PageFactory = Callable[..., Any]


@pytest.fixture
def open_page(browser: Any, console: Console) -> Iterator[PageFactory]:
    """New pages, each in its own browser context (its own cookies: another person). Any CSP
    violation or script error on them fails the test."""
    made: list[tuple[Any, list[str]]] = []

    def make(*, timezone_id: str = "Europe/Berlin") -> Any:
        context = browser.new_context(
            base_url=console.url,
            timezone_id=timezone_id,
            locale="en-GB",
            viewport=VIEWPORT,
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        problems: list[str] = []

        def on_console(message: Any) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                problems.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        made.append((context, problems))
        return page

    yield make
    found = [p for _, problems in made for p in problems]
    for context, _ in made:
        context.close()
    assert not found, found


def sign_in(page: Any, console: Console, name: str) -> None:
    who = console[name]
    page.goto("/console/login")
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(who.password)
    page.get_by_label("Code from your authenticator app").fill(console.code(name))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/console/search")
