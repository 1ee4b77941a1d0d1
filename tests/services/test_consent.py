"""The customer in control, through the services on both databases: consent grants move a
waiting request on and their revocation ends the session at once; the customer's own policy
and the account's flags act at once."""

from __future__ import annotations

import asyncio

import pytest

from actas.domain.access import EndReason, RequestState
from actas.domain.audit import Actor
from actas.domain.consent import GrantClosed
from actas.domain.errors import Forbidden, InvalidGrant, InvalidInput, NotFound
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag
from actas.services import consent, customer_policy, handoff, requests, revocations, sessions
from tests.desk import Desk
from tests.services.test_lifecycle_services import HANDOFF, _ask, _case, _redeem, _start

JANE = Actor(id="app:notes", ip="127.0.0.1", user_agent="notes-server")
WAIT = 10.0  # a bound on a wait, never an assertion about speed


def _approve(desk: Desk, request_id: str) -> None:
    requests.approve_request(
        desk.ctx,
        approver=desk.staff(desk.lucy),
        request_id=request_id,
        comment="ok",
        via="console",
        code=desk.code(desk.lucy),
        by=desk.actor(desk.lucy),
    )


def _state(desk: Desk, request_id: str) -> RequestState:
    return requests.get_request(desk.ctx, request_id)[0].state


def _grant(desk: Desk, *, read_only: bool = False, minutes: int = 60) -> str:
    return consent.grant_access(
        desk.ctx, app=desk.app, subject_id="u-1", minutes=minutes, read_only=read_only, by=JANE
    ).id


async def _next_revocation(desk: Desk, revoke: object) -> str:
    with revocations.subscribe(desk.ctx, "notes") as feed:
        assert callable(revoke)
        await asyncio.to_thread(revoke)
        got = await asyncio.wait_for(anext(aiter(feed)), WAIT)
        return got.session_id


def test_a_regulated_request_waits_for_consent_then_ends_when_consent_is_revoked(
    desk: Desk,
) -> None:
    desk.set_flags(AccountFlag.REGULATED)
    request_id = _ask(desk, _case(desk))
    assert _state(desk, request_id) is RequestState.PENDING_CONSENT

    grant_id = _grant(desk)
    # The request moved on by itself: consent is in, approval is still needed.
    assert _state(desk, request_id) is RequestState.PENDING_APPROVAL
    _approve(desk, request_id)
    started = _start(desk, request_id)
    assert started.handoff_code is not None
    redeemed = _redeem(desk, started.handoff_code)

    def revoke() -> None:
        consent.revoke_grant(desk.ctx, app=desk.app, subject_id="u-1", grant_id=grant_id, by=JANE)

    assert asyncio.run(_next_revocation(desk, revoke)) == started.session.id
    ended = sessions.get_session(desk.ctx, started.session.id)
    assert ended.end_reason is EndReason.REVOKED
    assert ended.ended_at == desk.clock()
    assert started.session.id in {r.session_id for r in revocations.backlog(desk.ctx)}
    with pytest.raises(InvalidGrant):
        handoff.refresh_session(
            desk.ctx,
            app=desk.app,
            session_id=started.session.id,
            refresh_handle=redeemed.refresh_handle or "",
            by=JANE,
        )
    types = desk.types()
    assert types.index("access.consent_received") < types.index("access.approved")
    assert types.index("session.revoked") < types.index("consent.revoked")
    with pytest.raises(GrantClosed):
        revoke()


def test_consent_lets_a_consent_only_request_through_without_approval(desk: Desk) -> None:
    customer_policy.set_policy(
        desk.ctx,
        app=desk.app,
        subject_id="u-1",
        rule="consent",
        notify_every_session=True,
        by=JANE,
    )
    request_id = _ask(desk, _case(desk))
    request = requests.get_request(desk.ctx, request_id)[0]
    assert request.state is RequestState.PENDING_CONSENT
    assert "customer's own policy asks for consent each time" in request.reasons[0]
    _grant(desk, read_only=True)
    assert _state(desk, request_id) is RequestState.APPROVED


def test_a_read_only_grant_does_not_cover_write(desk: Desk) -> None:
    desk.set_flags(AccountFlag.REGULATED)
    _grant(desk, read_only=True)
    lucy_case = _case(desk)
    request = requests.request_access(
        desk.ctx,
        staff=desk.staff(desk.alice),
        case_id=lucy_case,
        kind="impersonate",
        scopes=frozenset({"read", "admin:verify_email"}),
        minutes=10,
        by=desk.actor(desk.alice),
    )
    assert request.state is RequestState.PENDING_CONSENT
    assert "does not cover admin:verify_email" in request.reasons[0]


def test_grants_take_only_the_policys_durations_and_the_subjects_own_account(desk: Desk) -> None:
    with pytest.raises(InvalidInput, match="one of 60, 1440, 10080"):
        _grant(desk, minutes=90)
    with pytest.raises(NotFound):
        consent.grant_access(
            desk.ctx, app=desk.app, subject_id="nobody", minutes=60, read_only=False, by=JANE
        )
    with pytest.raises(NotFound):
        consent.revoke_grant(desk.ctx, app=desk.app, subject_id="u-1", grant_id="x", by=JANE)
    assert "consent.granted" not in desk.types()


def test_a_grant_expires_and_then_covers_nothing(desk: Desk) -> None:
    desk.set_flags(AccountFlag.ENHANCED_CONTROLS)
    _grant(desk)
    desk.clock.advance(3600)
    request = requests.get_request(desk.ctx, _ask(desk, _case(desk)))[0]
    assert request.state is RequestState.PENDING_CONSENT
    assert "there is no consent on file" in request.reasons[0]


def test_the_customer_setting_never_ends_live_sessions_at_once(desk: Desk) -> None:
    started = _start(desk, _ask(desk, _case(desk)))
    policy = customer_policy.set_policy(
        desk.ctx, app=desk.app, subject_id="u-1", rule="never", notify_every_session=False, by=JANE
    )
    assert policy.updated_by == "u-1"
    assert sessions.get_session(desk.ctx, started.session.id).end_reason is EndReason.REVOKED
    denied = requests.get_request(desk.ctx, _ask(desk, _case(desk)))[0]
    assert denied.state is RequestState.DENIED
    assert "customer's own policy says support may never" in denied.reasons[0]
    # The contract (set only by the application) turns never into consent each time.
    customer_policy.set_contract_access(
        desk.ctx, app=desk.app, account_id="acme", contract_access=True, by=JANE
    )
    waiting = requests.get_request(desk.ctx, _ask(desk, _case(desk)))[0]
    assert waiting.state is RequestState.PENDING_CONSENT
    assert "contract requires access" in waiting.reasons[0]
    with pytest.raises(InvalidInput):
        customer_policy.set_policy(
            desk.ctx,
            app=desk.app,
            subject_id="u-1",
            rule="sometimes",
            notify_every_session=False,
            by=JANE,
        )


@pytest.mark.parametrize("by_admin", [True, False])
def test_no_access_ends_live_sessions_at_once(desk: Desk, by_admin: bool) -> None:
    started = _start(desk, _ask(desk, _case(desk)))
    if by_admin:
        admin = desk.people.add("ada", Role.ADMIN)
        customer_policy.set_account_flags(
            desk.ctx,
            application_id="notes",
            account_id="acme",
            flags=frozenset({AccountFlag.NO_ACCESS}),
            staff=desk.staff(admin),
            by=desk.actor(admin),
        )
        assert "account.flags_set" in desk.types()
    else:
        desk.set_flags(AccountFlag.NO_ACCESS)
    session = sessions.get_session(desk.ctx, started.session.id)
    assert session.end_reason is EndReason.REVOKED
    assert started.session.id in {r.session_id for r in revocations.backlog(desk.ctx)}


def test_only_an_admin_sets_flags(desk: Desk) -> None:
    with pytest.raises(Forbidden):
        customer_policy.set_account_flags(
            desk.ctx,
            application_id="notes",
            account_id="acme",
            flags=frozenset({AccountFlag.FLAGGED}),
            staff=desk.staff(desk.lucy),
            by=desk.actor(desk.lucy),
        )
    assert "account.flags_set" not in desk.types()


def test_the_history_shows_who_when_and_why(desk: Desk) -> None:
    started = _start(desk, _ask(desk, _case(desk)))
    assert started.handoff_code is not None
    _redeem(desk, started.handoff_code)
    (entry,) = customer_policy.history(desk.ctx, app=desk.app, subject_id="u-1")
    assert entry.session.id == started.session.id
    assert entry.staff_name
    assert entry.staff_roles == ("agent",)
    assert entry.reason_code == "bug_reproduction"
    assert HANDOFF.startswith("https://")
