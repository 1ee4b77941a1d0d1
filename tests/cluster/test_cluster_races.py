"""Races across two broker processes on one PostgreSQL (issue 16): 64 contenders on each
one-time secret (handoff codes, customer links, support access codes) and 64 approvers on each
request, half sent to broker A and half to broker B over HTTP, released together. Exactly one
wins each, the others get a 4xx problem (never a 5xx), each win leaves one audit event, and
the chain verifies.

``CLUSTER_RACE_N`` sets how many secrets and requests of each kind: small in CI, 1000 in
``make soak``. The set-up (staff, subjects, cases, the secrets themselves) goes through the
services on the same database; only the contended calls go over HTTP.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from actas.bootstrap import Broker, build
from actas.domain.audit import Actor, AuditQuery
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import AccountFlag, Application
from actas.security.passwords import FastTestPasswords
from actas.security.totp import PyOtpTotp
from actas.services import access_codes, cases, links, requests, sessions
from actas.services import applications as app_service
from actas.services import audit as audit_service
from actas.services import staff as staff_service
from actas.services.sign_in import open_staff_session
from tests import hygiene
from tests.cluster import figures
from tests.cluster.conftest import Cluster

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

N = int(os.environ.get("CLUSTER_RACE_N", "3"))
CONTENDERS = 64
SETUP = Actor(id="cluster-race-setup", ip="127.0.0.1")


@dataclass
class Desk:
    """The services on the cluster's database, for set-up; one client per broker."""

    made: Broker
    app: Application
    credential: str
    handoff_url: str
    a: httpx.Client
    b: httpx.Client
    pool: ThreadPoolExecutor

    def staff(self, role: Role) -> tuple[Staff, str, str]:
        """A new staff member: (staff, bearer token, TOTP secret). The session is opened on the
        database directly (a sign-in per member would wait for TOTP steps)."""
        ctx = self.made.services
        enrollment = staff_service.add_staff(
            ctx,
            email=f"racer-{uuid.uuid4().hex[:10]}@staff.test",
            display_name="Racer",
            roles=frozenset({role}),
            password=uuid.uuid4().hex,
            by=SETUP,
        )
        with ctx.uow() as uow:
            token, _ = open_staff_session(ctx, uow, enrollment.staff, method="password", by=SETUP)
        secret = enrollment.otpauth_uri.split("secret=")[1].split("&")[0]
        return enrollment.staff, token, secret

    def subject(self, *, flagged: bool = False) -> str:
        """A new customer in a new account (the issuing limits are per subject)."""
        ctx = self.made.services
        name = uuid.uuid4().hex[:10]
        flags = frozenset({AccountFlag.FLAGGED}) if flagged else frozenset()
        app_service.upsert_account(
            ctx, app=self.app, account_id=f"acct-{name}", name=name, flags=flags,
            handoff_url=None, by=SETUP,
        )  # fmt: skip
        app_service.upsert_subject(
            ctx, app=self.app, subject_id=f"u-{name}", account_id=f"acct-{name}",
            email=f"{name}@customer.test", email_verified=True, display_name=name.title(),
            privileged=False, by=SETUP,
        )  # fmt: skip
        return f"u-{name}"

    def case(self, staff: Staff, subject: str) -> str:
        return cases.open_case(
            self.made.services, staff=staff, application_id="notes", subject_id=subject,
            ticket="RACE-1", reason_code="bug_reproduction", reason_text="race",
            by=Actor(id=staff.id),
        ).id  # fmt: skip

    def ask(self, staff: Staff, case_id: str) -> str:
        return requests.request_access(
            self.made.services, staff=staff, case_id=case_id, kind="impersonate",
            scopes=frozenset({"read"}), minutes=15, by=Actor(id=staff.id),
        ).id  # fmt: skip

    def count(self, type_: str) -> int:
        seen, after = 0, 0
        while True:
            page = audit_service.read_events(
                self.made.services, AuditQuery(type=type_, after_seq=after, limit=1000)
            )
            seen += len(page)
            if len(page) < 1000:
                return seen
            after = int(page[-1]["seq"])

    def race(self, send: Callable[[httpx.Client, int], httpx.Response]) -> list[int]:
        """``send`` from 64 threads released together, even ones to A and odd ones to B: the
        statuses. Exactly one 2xx; every other answer is a 4xx problem."""
        barrier = threading.Barrier(CONTENDERS)

        def go(i: int) -> httpx.Response:
            barrier.wait(60)
            return send(self.a if i % 2 == 0 else self.b, i)

        answers = list(self.pool.map(go, range(CONTENDERS)))
        statuses = [r.status_code for r in answers]
        problems = [r for r in answers if r.status_code >= 300]
        assert all(400 <= r.status_code < 500 for r in problems), [
            (r.status_code, r.text[:200]) for r in problems if r.status_code >= 500
        ]
        assert all(r.headers["content-type"] == "application/problem+json" for r in problems)
        assert sum(200 <= s < 300 for s in statuses) == 1, sorted(statuses)
        return statuses


@pytest.fixture(scope="module")
def desk(cluster: Cluster) -> Iterator[Desk]:
    made = build(cluster.a.settings, passwords=FastTestPasswords())
    limits = httpx.Limits(max_connections=CONTENDERS, max_keepalive_connections=CONTENDERS)
    clients = [
        httpx.Client(base_url=broker.url, timeout=60.0, limits=limits)
        for broker in (cluster.a, cluster.b)
    ]
    credential = cluster.app1.env["NOTES_ACTAS_CREDENTIAL"]
    app = app_service.authenticate_application(made.services, credential)
    try:
        with ThreadPoolExecutor(CONTENDERS) as pool:
            yield Desk(
                made=made,
                app=app,
                credential=credential,
                handoff_url=f"{cluster.app1.url}/actas/handoff",
                a=clients[0],
                b=clients[1],
                pool=pool,
            )
        report = audit_service.verify(made.services)
        assert report.ok, report.summary()
    finally:
        for client in clients:
            client.close()
        made.close()


def _posting(
    path: str, body: dict[str, Any], headers: dict[str, str]
) -> Callable[[httpx.Client, int], httpx.Response]:
    def send(client: httpx.Client, _: int) -> httpx.Response:
        return client.post(path, json=body, headers=headers)

    return send


def _timed(kind: str, rounds: Callable[[], None]) -> None:
    began = time.monotonic()
    rounds()
    seconds = time.monotonic() - began
    figures.record(
        "cluster_races",
        kind,
        {"secrets": N, "contenders": CONTENDERS, "brokers": 2, "seconds": round(seconds, 2)},
    )


def test_each_handoff_code_redeems_once_across_brokers(desk: Desk) -> None:
    before = desk.count("session.handoff_redeemed")
    app = {"Authorization": f"Bearer {desk.credential}"}

    def rounds() -> None:
        for _ in range(N):
            staff, _, secret = desk.staff(Role.AGENT)
            request_id = desk.ask(staff, desk.case(staff, desk.subject()))
            started = sessions.start_session(
                desk.made.services, staff=staff, request_id=request_id,
                code=PyOtpTotp().code_at(secret, desk.made.clock()), by=Actor(id=staff.id),
            )  # fmt: skip
            body = {"code": started.handoff_code, "handoff_url": desk.handoff_url}
            desk.race(_posting("/v1/handoff/redeem", body, app))

    _timed("handoff_codes", rounds)
    assert desk.count("session.handoff_redeemed") - before == N


def test_each_link_redeems_once_across_brokers(desk: Desk) -> None:
    before = desk.count("link.redeemed")
    app = {"Authorization": f"Bearer {desk.credential}"}

    def rounds() -> None:
        for _ in range(N):
            links.issue_link(
                desk.made.services, application=desk.app, subject_id=desk.subject(),
                purpose="password_reset", by=SETUP,
            )  # fmt: skip
            body = {"token": hygiene.RECORDER.last("actas_lpw_"), "purpose": "password_reset"}
            desk.race(_posting("/v1/links/redeem", body, app))

    _timed("links", rounds)
    assert desk.count("link.redeemed") - before == N


def test_each_access_code_makes_one_grant_across_brokers(desk: Desk) -> None:
    before = desk.count("access_code.used"), desk.count("consent.granted")

    def rounds() -> None:
        for _ in range(N):
            # A fresh staff member each round: the 63 losers count as their wrong entries.
            staff, token, _ = desk.staff(Role.AGENT)
            subject = desk.subject()
            case_id = desk.case(staff, subject)
            code = access_codes.issue_code(
                desk.made.services, app=desk.app, subject_id=subject, by=SETUP
            ).code
            auth = {"Authorization": f"Bearer {token}"}
            desk.race(_posting(f"/v1/cases/{case_id}/access-code", {"code": code}, auth))

    _timed("access_codes", rounds)
    assert desk.count("access_code.used") - before[0] == N
    assert desk.count("consent.granted") - before[1] == N


def test_each_request_is_answered_once_across_brokers(desk: Desk) -> None:
    """64 different leads, half approving and half denying, half on each broker."""
    before = desk.count("access.approved") + desk.count("access.denied")
    leads = [desk.staff(Role.LEAD)[1] for _ in range(CONTENDERS)]
    asker, _, _ = desk.staff(Role.AGENT)

    def rounds() -> None:
        for _ in range(N):
            request_id = desk.ask(asker, desk.case(asker, desk.subject(flagged=True)))

            def answer(c: httpx.Client, i: int, request_id: str = request_id) -> httpx.Response:
                verb = "deny" if i % 4 >= 2 else "approve"  # both verbs on both brokers
                return c.post(
                    f"/v1/access-requests/{request_id}/{verb}",
                    json={"comment": verb},
                    headers={"Authorization": f"Bearer {leads[i]}"},
                )

            desk.race(answer)

    _timed("approvals", rounds)
    assert desk.count("access.approved") + desk.count("access.denied") - before == N
