"""Support access codes on both databases: once, for one staff member and one case, for one
subject; they expire, wrong guesses are counted and audited and lock the subject's codes; and
of 50 concurrent entries of one code exactly one wins on PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from actas.domain.access import RequestState
from actas.domain.audit import Actor
from actas.domain.consent import (
    CODE_SUBJECT_FAILURES,
    AccessCodeInvalid,
    GrantSource,
    MalformedAccessCode,
    TooManyAccessCodes,
)
from actas.domain.errors import Forbidden, Throttled
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag
from actas.services import access_codes, cases, requests
from tests.desk import Desk
from tests.services.test_lifecycle_services import _ask, _case

JANE = Actor(id="app:notes")


def _code(desk: Desk, **kw: object) -> str:
    return access_codes.issue_code(desk.ctx, app=desk.app, subject_id="u-1", by=JANE, **kw).code  # type: ignore[arg-type]


def _enter(desk: Desk, case_id: str, code: str, who: str = "alice") -> object:
    persona = desk.alice if who == "alice" else desk.lucy
    return access_codes.enter_code(
        desk.ctx, staff=desk.staff(persona), case_id=case_id, code=code, by=desk.actor(persona)
    )


def test_a_code_makes_a_grant_for_that_case_and_staff_member_once(desk: Desk) -> None:
    desk.set_flags(AccountFlag.ENHANCED_CONTROLS)
    case_id = _case(desk)
    waiting = _ask(desk, case_id)
    code = _code(desk)
    assert len(code) == 9
    assert code[4] == "-"
    grant = access_codes.enter_code(
        desk.ctx,
        staff=desk.staff(desk.alice),
        case_id=case_id,
        code=code.lower().replace("-", " "),
        by=desk.actor(desk.alice),
    )
    assert (grant.case_id, grant.staff_id) == (case_id, desk.alice.id)
    assert grant.source is GrantSource.ACCESS_CODE
    # The waiting request moved on by itself (to approval: the flag asks for it too).
    assert requests.get_request(desk.ctx, waiting)[0].state is RequestState.PENDING_APPROVAL
    # Another case of the same staff member is not covered by it.
    other = requests.get_request(desk.ctx, _ask(desk, _case(desk)))[0]
    assert other.state is RequestState.PENDING_CONSENT
    with pytest.raises(AccessCodeInvalid):
        _enter(desk, case_id, code)  # single use
    assert "access_code.used" in desk.types()
    assert code.replace("-", "") not in str(desk.types())


def test_a_code_is_only_entered_on_ones_own_case_and_for_its_own_subject(desk: Desk) -> None:
    code = _code(desk)
    with pytest.raises(Forbidden):
        _enter(desk, _case(desk), code, who="lucy")
    from actas.services import applications

    applications.upsert_subject(
        desk.ctx,
        app=desk.app,
        subject_id="u-2",
        account_id="acme",
        email=None,
        email_verified=False,
        display_name="Bob",
        privileged=False,
        by=JANE,
    )
    bobs_case = cases.open_case(
        desk.ctx,
        staff=desk.staff(desk.alice),
        application_id="notes",
        subject_id="u-2",
        ticket="ZD-2",
        reason_code="bug_reproduction",
        reason_text="x",
        by=desk.actor(desk.alice),
    ).id
    with pytest.raises(AccessCodeInvalid):
        _enter(desk, bobs_case, code)  # Jane's code is nothing for Bob
    _enter(desk, _case(desk), code)


def test_a_code_expires(desk: Desk) -> None:
    code = _code(desk)
    desk.clock.advance(10 * 60)
    with pytest.raises(AccessCodeInvalid):
        _enter(desk, _case(desk), code)


def test_wrong_guesses_are_counted_audited_and_lock_the_subjects_codes(desk: Desk) -> None:
    code = _code(desk)
    case_id = _case(desk)
    lefts = []
    for _ in range(CODE_SUBJECT_FAILURES):
        with pytest.raises(AccessCodeInvalid) as wrong:
            _enter(desk, case_id, "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "YYYY-YYYY")
        lefts.append(wrong.value.attempts_left)
    assert lefts == [4, 3, 2, 1, 0]
    types = desk.types()
    assert types.count("access_code.failed") == CODE_SUBJECT_FAILURES
    assert "access_code.locked" in types
    with pytest.raises(AccessCodeInvalid):
        _enter(desk, case_id, code)  # the right code no longer works
    # A new code from the customer works.
    _enter(desk, case_id, _code(desk))


def test_malformed_codes_write_nothing(desk: Desk) -> None:
    case_id = _case(desk)
    before = desk.types()
    with pytest.raises(MalformedAccessCode):
        _enter(desk, case_id, "12")
    assert desk.types() == before


def test_codes_are_rate_limited_per_subject_and_per_staff_member(desk: Desk) -> None:
    for _ in range(5):
        _code(desk)
    with pytest.raises(TooManyAccessCodes):
        _code(desk)
    desk.clock.advance(3600)
    bruno = desk.people.add("bruno", Role.AGENT)
    staff = desk.staff(bruno)
    case_id = cases.open_case(
        desk.ctx,
        staff=staff,
        application_id="notes",
        subject_id="u-1",
        ticket="ZD-9",
        reason_code="bug_reproduction",
        reason_text="x",
        by=desk.actor(bruno),
    ).id
    for i in range(10):
        if i % 4 == 0:
            _code(desk)  # a new code for the subject gives it a fresh count
        with pytest.raises(AccessCodeInvalid):
            access_codes.enter_code(
                desk.ctx, staff=staff, case_id=case_id, code="ZZZZ-ZZZ0", by=desk.actor(bruno)
            )
    with pytest.raises(Throttled):
        access_codes.enter_code(
            desk.ctx, staff=staff, case_id=case_id, code="ZZZZ-ZZZ0", by=desk.actor(bruno)
        )
    assert "access_code.throttled" in desk.types()


def test_fifty_concurrent_entries_of_one_code_make_one_grant(desk: Desk, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("the race is run on PostgreSQL (SQLite has one writer at a time)")
    code = _code(desk)
    staff = desk.staff(desk.alice)
    case_id = _case(desk)
    barrier = threading.Barrier(50)
    wins: list[object] = []
    losses: list[Exception] = []

    def enter() -> None:
        barrier.wait()
        try:
            wins.append(
                access_codes.enter_code(
                    desk.ctx, staff=staff, case_id=case_id, code=code, by=desk.actor(desk.alice)
                )
            )
        except (AccessCodeInvalid, Throttled) as exc:
            losses.append(exc)

    threads = [threading.Thread(target=enter) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(wins) == 1
    assert len(losses) == 49
    assert desk.types().count("consent.granted") == 1
