"""Issue 9, finding 9, in the console: a broker admin sees and changes where an application's
accounts may send staff browsers; the rules are the service's (the application's own host
stays), and every change is audited."""

from __future__ import annotations

import re

import pytest

from actas.domain.audit import AuditQuery
from actas.services import applications as app_service
from actas.services import audit as audit_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def _hosts(console: Console) -> tuple[str, ...]:
    (app,) = app_service.list_applications(console.broker.services)
    return app.handoff_hosts


def test_an_admin_adds_and_removes_a_handoff_host(open_page: PageFactory, console: Console) -> None:
    ada = open_page()
    sign_in(ada, console, "ada")
    ada.get_by_role("link", name="Applications").click()
    expect(ada.get_by_role("heading", level=1)).to_have_text("Applications")
    run_axe(ada, "applications")
    own = _hosts(console)
    assert own  # the application's own handoff host

    ada.get_by_label(re.compile("Add a host to")).fill("Support.Example.test")
    ada.get_by_role("button", name="Add host").click()
    expect(ada.get_by_role("status")).to_contain_text("The handoff hosts are changed")
    assert "support.example.test" in _hosts(console)
    expect(ada.get_by_role("table", name=re.compile("Handoff hosts"))).to_contain_text(
        "support.example.test"
    )

    # The application's own host cannot go: the page says why, and nothing changes.
    ada.get_by_role("button", name=re.compile(f"Remove {re.escape(own[0])} from")).click()
    expect(ada.locator(".errors, [role=alert]").first).to_contain_text("own handoff host")
    assert own[0] in _hosts(console)

    # A control character never reaches the list.
    ada.get_by_label(re.compile("Add a host to")).fill("evil.test\tx")
    ada.get_by_role("button", name="Add host").click()
    assert not any("evil" in h for h in _hosts(console))

    ada.get_by_role("button", name=re.compile("Remove support.example.test from")).click()
    expect(ada.get_by_role("status")).to_contain_text("The handoff hosts are changed")
    assert "support.example.test" not in _hosts(console)
    changed = audit_service.read_events(
        console.broker.services, AuditQuery(type="application.handoff_hosts_changed", limit=10)
    )
    assert len(changed) == 2


def test_an_agent_has_no_applications_page(open_page: PageFactory, console: Console) -> None:
    alice = open_page()
    sign_in(alice, console, "alice")
    expect(alice.get_by_role("link", name="Applications")).to_have_count(0)
    response = alice.goto("/console/applications")
    assert response is not None
    assert response.status == 403
