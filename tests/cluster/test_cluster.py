"""Several replicas on PostgreSQL under faults (issue 16): what a session sees across broker and
app processes, and what a crashed broker or a restarted database may and may not lose.

Every wait is a bounded poll; nothing asserts on how fast a machine is.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from actas.bootstrap import build
from actas.services import audit as audit_service
from tests.cluster import figures
from tests.cluster.conftest import STALENESS, Cluster
from tests.e2e.harness import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PETER = "peter@initech.test"
BANNER = "<actas-banner"


def _stream_clients(broker_url: str) -> int:
    """Revocation stream clients of a one-worker broker, from its /metrics (loopback)."""
    text = httpx.get(f"{broker_url}/metrics", timeout=5.0).text
    found = [
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("actas_revocation_stream_clients")
    ]
    return int(max(found, default=0))


def _same_cookies(source: httpx.Client, base_url: str) -> httpx.Client:
    """A second browser tab on another app process: the same cookie jar (cookies ignore
    ports), another origin."""
    client = httpx.Client(base_url=base_url, timeout=10.0, follow_redirects=False)
    client.cookies = source.cookies
    return client


def test_a_session_works_on_every_app_process_and_a_revoke_on_another_broker_ends_it(
    cluster: Cluster,
) -> None:
    stack = cluster.stack
    session = stack.start_session(cluster.sam, subject="u-peter", scopes=("read",))
    support = stack.browser()
    stack.handoff(support, session)
    other = _same_cookies(support, f"http://127.0.0.1:{cluster.app2.port}")
    try:
        for tab in (support, other):
            page = tab.get("/notes")
            assert page.status_code == 200, cluster.logs()
            assert BANNER in page.text

        revoked = cluster.api(cluster.b).post(
            f"/v1/sessions/{session.id}/revoke", json={"reason": "cluster test"}
        )
        assert revoked.status_code == 200, revoked.text

        # App 1 follows broker A and app 2 follows broker B: both hear it, A through
        # PostgreSQL's NOTIFY from B. Bounded by the SDK's staleness limit plus a margin.
        for tab in (support, other):
            wait_for(
                lambda tab=tab: BANNER not in tab.get("/notes").text,  # type: ignore[misc]
                what="the revocation to reach every app process",
                timeout=STALENESS + 10.0,
                interval=0.2,
            )
    finally:
        other.close()


@dataclass
class Traffic:
    """Writes (case notes) sent in a loop through one broker; what the broker acknowledged."""

    client: httpx.Client
    case_id: str
    acknowledged: list[str] = field(default_factory=list)
    #: When each acknowledged write was answered (``time.monotonic``), for the figures.
    acknowledged_at: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, limit: int) -> None:
        for _ in range(limit):
            if self.stop.is_set():
                return
            try:
                response = self.client.post(
                    f"/v1/cases/{self.case_id}/notes",
                    json={"kind": "note", "text": f"note {uuid.uuid4().hex[:8]}"},
                )
            except httpx.HTTPError:
                self.failures += 1  # no answer: nothing was acknowledged
                continue
            self.statuses.append(response.status_code)
            if response.status_code == 201:
                self.acknowledged.append(str(response.json()["id"]))
                self.acknowledged_at.append(time.monotonic())
            elif response.headers.get("content-type") != "application/problem+json":
                self.problems.append(f"{response.status_code} {response.text[:200]}")


def _open_case(cluster: Cluster, client: httpx.Client) -> str:
    case = client.post(
        "/v1/cases",
        json={
            "application": "notes",
            "subject": "u-peter",
            "ticket": f"CLU-{uuid.uuid4().hex[:6]}",
            "reason_code": "bug_reproduction",
            "reason": "cluster traffic",
        },
    )
    assert case.status_code == 201, case.text
    return str(case.json()["id"])


def _noted(cluster: Cluster, case_id: str) -> list[str]:
    """The notes the audit log records for the case, read through broker B."""
    api = cluster.api(cluster.b)
    noted: list[str] = []
    after = 0
    for _ in range(100):
        page = api.get(
            "/v1/audit/events",
            params={"type": "case.note_added", "after_seq": after, "limit": 1000},
        )
        assert page.status_code == 200, page.text
        body = page.json()
        noted += [str(e["data"]["note"]) for e in body["events"] if e["case"] == case_id]
        if body["next_after_seq"] is None:
            return noted
        after = body["next_after_seq"]
    raise AssertionError("the audit log did not end within 100 pages")


def _chain_verifies(cluster: Cluster) -> None:
    made = build(cluster.a.settings)
    try:
        report = audit_service.verify(made.services)
    finally:
        made.close()
    assert report.ok, report.summary()


def test_a_broker_killed_mid_traffic_loses_no_acknowledged_write(cluster: Cluster) -> None:
    client = cluster.api(cluster.a)
    traffic = Traffic(client, _open_case(cluster, client))
    worker = threading.Thread(target=traffic.run, args=(400,), daemon=True)
    worker.start()
    wait_for(lambda: len(traffic.acknowledged) >= 20, what="traffic through broker A")
    other = cluster.api(cluster.b)
    killed = time.monotonic()
    cluster.a.server.kill()
    # A client that fails over: its next write goes to B, which must take it.
    wait_for(
        lambda: (
            other.post(
                f"/v1/cases/{traffic.case_id}/notes", json={"kind": "note", "text": "failover"}
            ).status_code
            == 201
        ),
        what="broker B to take a write once A is gone",
    )
    figures.record(
        "failover", "broker_sigkill_to_other_broker_2xx_s", round(time.monotonic() - killed, 3)
    )
    worker.join(timeout=120)
    assert not worker.is_alive()
    try:
        # Everything A acknowledged before it died is in the log, once, and the log verifies.
        noted = _noted(cluster, traffic.case_id)
        assert sorted(set(noted)) == sorted(noted)  # no note recorded twice
        assert set(traffic.acknowledged) <= set(noted)
        _chain_verifies(cluster)
        # Broker B served all along and keeps serving.
        assert cluster.api(cluster.b).get("/v1/sessions").status_code == 200
    finally:
        cluster.a.server.start()
        cluster.stack.reconnect()


def test_postgresql_restarted_mid_traffic_gives_503s_then_recovers_by_itself(
    cluster: Cluster,
) -> None:
    client = cluster.api(cluster.b)
    traffic = Traffic(client, _open_case(cluster, client))
    worker = threading.Thread(target=traffic.run, args=(100_000,), daemon=True)
    worker.start()
    try:
        wait_for(lambda: len(traffic.acknowledged) >= 10, what="traffic through broker B")
        cluster.pg.stop("fast")
        wait_for(lambda: 503 in traffic.statuses, what="503 answers while PostgreSQL is down")
        restarted = time.monotonic()
        cluster.pg.start()
        ready = time.monotonic()
        before = len(traffic.acknowledged)
        wait_for(
            lambda: len(traffic.acknowledged) >= before + 10,
            what="writes to succeed again after PostgreSQL is back",
            timeout=60.0,
        )
        first = min(t for t in traffic.acknowledged_at if t > restarted)
        figures.record("failover", "postgres_start_to_ready_s", round(ready - restarted, 3))
        figures.record("failover", "postgres_start_to_first_2xx_s", round(first - restarted, 3))
        figures.record("failover", "postgres_ready_to_first_2xx_s", round(first - ready, 3))
    finally:
        traffic.stop.set()
        worker.join(timeout=60)
    assert traffic.problems == []  # every refusal was a problem+json, never a bare 500
    assert set(traffic.statuses) <= {201, 503}, sorted(set(traffic.statuses))
    noted = _noted(cluster, traffic.case_id)
    assert set(traffic.acknowledged) <= set(noted)
    # No partial writes: every note the log records exists on the case, and none twice.
    case = cluster.api(cluster.b).get(f"/v1/cases/{traffic.case_id}").json()
    stored = {str(n["id"]) for n in case["notes"]}
    assert set(noted) == stored
    assert len(noted) == len(set(noted))
    _chain_verifies(cluster)


def test_the_sdk_fails_closed_without_its_broker_and_recovers_when_it_returns(
    cluster: Cluster,
) -> None:
    stack = cluster.stack
    # App 1's feed may still be down from an earlier test's restart of broker A (the SDK
    # reconnects within its longest backoff, 10 s); a session handed over meanwhile would be
    # refused and ended at once, as it should be. Wait until A has its follower again.
    wait_for(
        lambda: _stream_clients(cluster.a.url) >= 1,
        what="app 1 to follow broker A's revocation feed again",
        timeout=STALENESS + 30.0,
        interval=0.25,
    )
    session = stack.start_session(cluster.sam, subject="u-peter", scopes=("read",))
    support = stack.browser()
    stack.handoff(support, session)
    assert BANNER in support.get("/notes").text, cluster.logs()
    cluster.a.server.kill()  # app 1 follows broker A's feed
    try:
        wait_for(
            lambda: support.get("/notes").status_code == 401,
            what="app 1 to fail closed past its staleness limit",
            timeout=STALENESS + 20.0,
            interval=0.25,
        )
    finally:
        cluster.a.server.start()
        stack.reconnect()
    # Back: once app 1 follows A again, a new session through it works on app 1.
    wait_for(
        lambda: _stream_clients(cluster.a.url) >= 1,
        what="app 1 to follow broker A's revocation feed again",
        timeout=STALENESS + 30.0,
        interval=0.25,
    )
    again = stack.start_session(cluster.sam, subject="u-peter", scopes=("read",))
    browser = stack.browser()
    stack.handoff(browser, again)
    wait_for(
        lambda: BANNER in browser.get("/notes").text,
        what="app 1 to admit a session again once its broker is back",
        timeout=STALENESS + 20.0,
    )
