"""Races at scale (issue 16): 64 concurrent redemptions of each of N one-time secrets
(handoff codes, customer links, support access codes) and 64 concurrent approve/deny answers
on each of N requests, on SQLite and PostgreSQL: exactly one winner each, one audit event each.

``RACE_N`` sets N: small in CI, 1000 in ``make soak``. Each round makes its secret and then
releases the 64 contenders together from a barrier; a contender that loses must get the
domain's refusal (an ActasError), never a 500-class surprise.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from actas.domain.audit import Actor, AuditQuery
from actas.domain.errors import ActasError
from actas.domain.links import LinkPurpose
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.domain.subjects import AccountFlag
from actas.services import access_codes, audit, handoff, links, requests
from tests import hygiene
from tests.desk import Desk
from tests.services.test_access_codes import JANE
from tests.services.test_lifecycle_services import HANDOFF, _ask, _case, _start

N = int(os.environ.get("RACE_N", "5"))
CONTENDERS = 64


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(CONTENDERS) as executor:
        yield executor


def _race(pool: ThreadPoolExecutor, attempts: list[Callable[[], object]]) -> int:
    """Run the attempts together; the number that succeeded."""
    barrier = threading.Barrier(len(attempts))

    def go(attempt: Callable[[], object]) -> bool:
        barrier.wait(60)
        try:
            attempt()
        except ActasError:
            return False
        return True

    return sum(pool.map(go, attempts))


def _count(desk: Desk, type_: str) -> int:
    seen, after = 0, 0
    while True:
        page = audit.read_events(desk.ctx, AuditQuery(type=type_, after_seq=after, limit=1000))
        seen += len(page)
        if len(page) < 1000:
            return seen
        after = int(page[-1]["seq"])


def test_each_handoff_code_redeems_once(desk: Desk, pool: ThreadPoolExecutor) -> None:
    for _ in range(N):
        started = _start(desk, _ask(desk, _case(desk)))
        code = started.handoff_code
        assert code is not None

        def redeem(code: str = code) -> object:
            return handoff.redeem_handoff(
                desk.ctx, app=desk.app, code=code, handoff_url=HANDOFF, by=JANE
            )

        assert _race(pool, [redeem] * CONTENDERS) == 1
    assert _count(desk, "session.handoff_redeemed") == N


def test_each_link_redeems_once(desk: Desk, pool: ThreadPoolExecutor) -> None:
    for _ in range(N):
        desk.clock.advance(25 * 60)  # within the issuing rate limit; the last link has lapsed
        links.issue_link(
            desk.ctx, application=desk.app, subject_id="u-1", purpose="password_reset", by=JANE
        )
        token = hygiene.RECORDER.last("actas_lpw_")

        def redeem(token: str = token) -> object:
            return links.redeem_link(
                desk.ctx,
                application=desk.app,
                token=token,
                purpose=LinkPurpose.PASSWORD_RESET,
                by=JANE,
            )

        assert _race(pool, [redeem] * CONTENDERS) == 1
    assert _count(desk, "link.redeemed") == N


def test_each_access_code_makes_one_grant(desk: Desk, pool: ThreadPoolExecutor) -> None:
    for i in range(N):
        desk.clock.advance(13 * 60)  # five codes an hour per subject
        # A fresh staff member each round: the 63 losers count as wrong entries for them.
        member = desk.people.add(f"racer{i}", Role.AGENT)
        staff = desk.staff(member)
        case_id = _case_of(desk, member)
        by = desk.actor(member)
        code = access_codes.issue_code(desk.ctx, app=desk.app, subject_id="u-1", by=JANE).code

        def enter(
            code: str = code,
            case_id: str = case_id,
            staff: Staff = staff,
            by: Actor = by,
        ) -> object:
            return access_codes.enter_code(desk.ctx, staff=staff, case_id=case_id, code=code, by=by)

        assert _race(pool, [enter] * CONTENDERS) == 1
    assert _count(desk, "access_code.used") == N
    assert _count(desk, "consent.granted") == N


def test_each_request_is_answered_once(desk: Desk, pool: ThreadPoolExecutor) -> None:
    """Different approvers answer at once: one answer moves the request, one event records it;
    the others are refused (the same approver's repeat is idempotent, so each contender here
    is a different lead)."""
    desk.set_flags(AccountFlag.FLAGGED)  # every request waits for a second person
    leads = [desk.people.add(f"lead{i}", Role.LEAD) for i in range(CONTENDERS)]
    staff = [desk.staff(p) for p in leads]
    for _ in range(N):
        request_id = _ask(desk, _case(desk))

        def answer(i: int, request_id: str = request_id) -> Callable[[], object]:
            if i % 2:
                return lambda: requests.deny_request(
                    desk.ctx,
                    approver=staff[i],
                    request_id=request_id,
                    comment="no",
                    via="api",
                    by=desk.actor(leads[i]),
                )
            return lambda: requests.approve_request(
                desk.ctx,
                approver=staff[i],
                request_id=request_id,
                comment="ok",
                via="api",
                code=None,
                by=desk.actor(leads[i]),
            )

        assert _race(pool, [answer(i) for i in range(CONTENDERS)]) == 1
    assert _count(desk, "access.approved") + _count(desk, "access.denied") == N


def _case_of(desk: Desk, member: object) -> str:
    from actas.services import cases

    return cases.open_case(
        desk.ctx,
        staff=desk.staff(member),  # type: ignore[arg-type]
        application_id="notes",
        subject_id="u-1",
        ticket="ZD-1",
        reason_code="bug_reproduction",
        reason_text="race",
        by=desk.actor(member),  # type: ignore[arg-type]
    ).id
