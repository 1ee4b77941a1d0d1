"""The kill switch's same-origin check as a real browser speaks it.

The confirmation page is ``Referrer-Policy: no-referrer``, so Chromium sends its form POST with
``Origin: null`` and ``Sec-Fetch-Site: same-origin``. The check used to compare ``Origin`` first
and refused every real customer (found by the browser test in tests/e2e); now the browser's
``Sec-Fetch-Site`` decides when present, and a bare ``Origin: null`` still proves nothing.
"""

from __future__ import annotations

from tests.customer_world import Mailed
from tests.test_customer_api import _kill_switch, _session

FROM_THE_PAGE = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}


def test_the_kill_switch_works_from_its_no_referrer_page(mailed: Mailed) -> None:
    session, token = _kill_switch(mailed)
    client = mailed.world.client
    done = client.post("/customer/end", data={"token": token}, headers=FROM_THE_PAGE)
    assert done.status_code == 200, done.text
    assert _session(mailed, session)["end_reason"] == "ended_by_customer"


def test_another_sites_post_is_refused_whatever_its_origin_says(mailed: Mailed) -> None:
    session, token = _kill_switch(mailed)
    client = mailed.world.client
    for headers in (
        {"Origin": "null"},  # a sandboxed iframe or a no-referrer page elsewhere
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://broker.test", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
        {"Sec-Fetch-Site": "none"},
    ):
        refused = client.post("/customer/end", data={"token": token}, headers=headers)
        assert refused.status_code == 403, headers
    assert _session(mailed, session)["ended_at"] is None
