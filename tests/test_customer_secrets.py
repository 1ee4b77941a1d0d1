"""Staff never hold a customer's secret (issue 10): every link token, kill switch, answer
token and verification code issued in a whole support flow is searched for in every
staff-facing response (API and console pages), in the audit log and in every log line.
None may appear. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import re

import pytest

from tests.customer_world import Mailed, code_in
from tests.scenario import started_session
from tests.test_console import Staffer


def test_no_link_token_or_code_reaches_staff_or_the_logs(
    mailed: Mailed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = mailed.world
    seen: list[str] = []
    alice = Staffer(world, world.alice)
    sam = Staffer(world, world.sam)

    def staff_sees(response: object) -> None:
        seen.append(str(getattr(response, "text", "")))

    # The application issues a link for its own password reset.
    staff_sees(
        world.client.post(
            "/v1/links",
            headers=world.app_headers,
            json={"subject": "u-1", "purpose": "password_reset"},
        )
    )
    # A session: its notice carries a kill switch.
    session, _, headers = started_session(world)
    case = world.client.get(f"/v1/sessions/{session}", headers=headers).json()["case"]
    # On the case, in the console: a code sent, read back and entered; a link sent.
    staff_sees(alice.post(f"/console/cases/{case}/codes", follow_redirects=True))
    code = code_in(mailed.one("verification code"))
    page = alice.get(f"/console/cases/{case}").text
    verification = re.search(r'name="verification" value="([^"]+)"', page)
    assert verification is not None
    checked = alice.post(
        f"/console/cases/{case}/codes/check",
        {"verification": verification.group(1), "code": code},
        follow_redirects=True,
    )
    assert "the customer&#39;s identity is confirmed" in checked.text
    staff_sees(checked)
    staff_sees(
        alice.post(
            f"/console/cases/{case}/links",
            {"purpose": "magic_signin", "why": "cannot sign in"},
            follow_redirects=True,
        )
    )
    # Closing sends the close-out with its answer link.
    staff_sees(
        alice.post(
            f"/console/cases/{case}/close",
            {"changes": "Re-sent the job", "verify": "Export again"},
            follow_redirects=True,
        )
    )
    mailed.deliver()
    assert len(mailed.secrets) >= 5, mailed.secrets  # link x2, kill switch, code, answer
    # Everything staff can look at afterwards.
    for path in (
        f"/console/cases/{case}",
        f"/console/sessions/{session}",
        "/console/sessions",
        "/console/audit?limit=500",
    ):
        staff_sees((sam if "audit" in path else alice).get(path))
    for path in (f"/v1/cases/{case}", f"/v1/cases/{case}/flow", f"/v1/sessions/{session}"):
        staff_sees(world.client.get(path, headers=headers))
    staff_sees(world.client.get("/v1/audit/events?limit=1000", headers=world.as_(world.sam)))
    assert any("verification.succeeded" in text for text in seen)
    # Every line of this process's logs, except the test's SMTP server's (aiosmtpd's
    # "mail.log" stands in for the customer's mail provider, which must see the email).
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert ours  # the client's request lines (with every URL) at least
    log_lines = [r.getMessage() for r in ours] + [str(r.args) for r in ours]
    for secret in mailed.secrets:
        for text in seen:
            assert secret not in text
        for line in log_lines:
            assert secret not in line
        for event in world.events():
            assert secret not in str(event)
    alice.close()
    sam.close()
