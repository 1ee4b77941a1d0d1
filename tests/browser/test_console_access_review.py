"""The quarterly access review in Chromium, as security reads it: the figures of a generated
quarter, the four charts drawn (inline SVG, nothing blocked by the CSP), the downloads, and the
sign-off recorded with its audit event."""

from __future__ import annotations

import json
import re

import pytest

from actas.domain.audit import AuditQuery
from actas.services import audit as audit_service
from tests.browser.conftest import Console, PageFactory, sign_in
from tests.browser.harness import run_axe, shoot
from tests.review_data import generate

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails, in CI) with the reason
    expect = None  # type: ignore[assignment]

pytestmark = pytest.mark.browser


def test_security_reads_the_review_sees_the_charts_and_signs_it_off(
    open_page: PageFactory, console: Console
) -> None:
    expected = generate(console.broker.engine, sessions=2000, staff_count=30, accounts=200)
    sam = open_page()
    sign_in(sam, console, "sam")
    sam.get_by_role("link", name="Access review").click()
    sam.get_by_label("Quarter").fill("2026Q3")
    sam.get_by_role("button", name="Show").click()
    sam.wait_for_url(re.compile(r".*/console/access-review\?quarter=2026Q3"))
    expect(sam.get_by_role("heading", level=1)).to_have_text("Access review 2026Q3")
    expect(sam.locator("#sessions-total")).to_have_text(str(expected.sessions))
    charts = sam.locator("svg.chart")
    expect(charts).to_have_count(4)
    for i in range(4):
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 300
        assert box["height"] > 40
        # The bars are there and drawn: SVG rects with a size, not an empty element.
        assert charts.nth(i).locator("rect").count() >= 2
    # The generated five who never used their eligibility are listed (beside the seeded
    # staff, who started nothing in 2026Q3 either); the disabled leaver is not.
    unused = sam.locator("#unused")
    for staff_id in expected.unused:
        expect(unused).to_contain_text(expected.names[staff_id] + " (")
    leaver = max(expected.names.values())
    expect(unused).not_to_contain_text(leaver + " (")
    run_axe(sam, "access review")
    sam.set_viewport_size({"width": 1500, "height": 1100})
    sam.get_by_role("heading", name="Sessions", exact=True).scroll_into_view_if_needed()
    sam.evaluate("window.scrollBy(0, 420)")
    shoot(sam, "access-review")

    with sam.expect_download() as download_info:
        sam.get_by_role("link", name="JSON").click()
    data = json.loads(download_info.value.path().read_text(encoding="utf-8"))
    assert data["sessions_by_account"] == dict(expected.by_account)

    sam.get_by_label(re.compile("^Comment")).fill("Checked the unused eligibility with leads.")
    sam.get_by_role("button", name="Sign off this review").click()
    expect(sam.get_by_role("status")).to_contain_text("sign-off")
    expect(sam.locator("#signoffs")).to_contain_text("Sam signed")
    events = audit_service.read_events(
        console.broker.services, AuditQuery(type="access_review.signed", newest_first=True)
    )
    assert events[0]["data"]["quarter"] == "2026Q3"
