"""Passkeys through the services, against the real store and py_webauthn, with a software
authenticator (tests/webauthn_soft.py): registration, sign-in, and step-up through the one
``throttle.verify_step_up``, including the policy that refuses TOTP where a passkey is
required."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from actas.domain.errors import AuthenticationFailed, InvalidInput, NotFound, StepUpRequired
from actas.domain.identity import IdentityRules, PasskeyRules, StepUpAction
from actas.domain.roles import Role
from actas.security.webauthn import passkeys_possible
from actas.services import cases, passkeys, requests, sessions
from actas.services import staff as staff_service
from tests.conftest import Persona
from tests.desk import SETUP, Desk
from tests.webauthn_soft import SoftAuthenticator


def _register(desk: Desk, who: object, key: SoftAuthenticator) -> None:
    staff = desk.staff(who)  # type: ignore[arg-type]
    options = passkeys.registration_options(desk.ctx, staff)
    passkeys.register(
        desk.ctx,
        staff=staff,
        response=key.create(options),
        name="Laptop",
        by=desk.actor(who),  # type: ignore[arg-type]
    )


def _request(
    desk: Desk, scopes: frozenset[str] = frozenset({"read"}), who: Persona | None = None
) -> str:
    who = who or desk.alice
    case = cases.open_case(
        desk.ctx,
        staff=desk.staff(who),
        application_id="notes",
        subject_id="u-1",
        ticket="ZD-1",
        reason_code="bug_reproduction",
        reason_text="export fails",
        by=desk.actor(who),
    )
    return requests.request_access(
        desk.ctx,
        staff=desk.staff(who),
        case_id=case.id,
        kind="impersonate",
        scopes=scopes,
        minutes=15,
        by=desk.actor(who),
    ).id


def _start(
    desk: Desk, request_id: str, *, code: str | None = None, assertion: str | None = None
) -> sessions.Started:
    return sessions.start_session(
        desk.ctx,
        staff=desk.staff(desk.alice),
        request_id=request_id,
        code=code,
        assertion=assertion,
        by=desk.actor(desk.alice),
    )


def test_register_then_sign_in_with_the_passkey(desk: Desk) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    [stored] = passkeys.list_passkeys(desk.ctx, desk.alice.id)
    assert stored.name == "Laptop"
    response = key.get(passkeys.sign_in_options(desk.ctx))
    signed = passkeys.sign_in_with(desk.ctx, response=response, by=desk.actor(desk.alice))
    assert signed.staff.id == desk.alice.id
    with pytest.raises(AuthenticationFailed):  # the same response again: its challenge is gone
        passkeys.sign_in_with(desk.ctx, response=response, by=desk.actor(desk.alice))
    assert "staff.passkey_added" in desk.types()
    assert desk.types().count("staff.login") == 1


@pytest.mark.parametrize(
    ("rp_id", "origin"),
    [
        ("evil.test", "https://evil.test"),  # another relying party
        ("broker.test", "https://evil.test"),  # the right rp id, made on another site
        ("broker.test", "https://broker.test:8443"),  # another origin of the same host
    ],
)
def test_a_credential_for_another_origin_is_refused(desk: Desk, rp_id: str, origin: str) -> None:
    staff = desk.staff(desk.alice)
    other = SoftAuthenticator(rp_id=rp_id, origin=origin)
    with pytest.raises(AuthenticationFailed):
        _register(desk, desk.alice, other)
    assert passkeys.list_passkeys(desk.ctx, staff.id) == []
    assert "staff.passkey_refused" in desk.types()
    # Nor does an assertion made on another site with a passkey that is registered here.
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    key.rp_id, key.origin = rp_id, origin
    with pytest.raises(AuthenticationFailed):
        passkeys.sign_in_with(
            desk.ctx,
            response=key.get(passkeys.sign_in_options(desk.ctx)),
            by=desk.actor(desk.alice),
        )


def test_registration_answers_only_ones_own_challenge(desk: Desk) -> None:
    options = passkeys.registration_options(desk.ctx, desk.staff(desk.lucy))
    with pytest.raises(AuthenticationFailed):  # lucy's challenge, alice's registration
        passkeys.register(
            desk.ctx,
            staff=desk.staff(desk.alice),
            response=SoftAuthenticator().create(options),
            name="x",
            by=desk.actor(desk.alice),
        )
    assert passkeys.list_passkeys(desk.ctx, desk.alice.id) == []


def test_step_up_with_a_passkey_starts_a_session(desk: Desk) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    request_id = _request(desk)
    options = passkeys.step_up_options(desk.ctx, desk.staff(desk.alice))
    started = _start(desk, request_id, assertion=key.get(options))
    assert started.handoff_code is not None


def test_step_up_without_user_verification_is_refused_and_counted(desk: Desk) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    request_id = _request(desk)
    key.user_verified = False
    with pytest.raises(StepUpRequired, match="passkey was not accepted"):
        _start(
            desk,
            request_id,
            assertion=key.get(passkeys.step_up_options(desk.ctx, desk.staff(desk.alice))),
        )
    assert desk.types()[-1] == "staff.step_up_failed"
    key.user_verified = True
    assertion = key.get(passkeys.step_up_options(desk.ctx, desk.staff(desk.alice)))
    _start(desk, request_id, assertion=assertion)
    with pytest.raises(StepUpRequired):  # a step-up assertion works once
        _start(desk, _request(desk), assertion=assertion)


def test_another_members_passkey_does_not_step_up(desk: Desk) -> None:
    lucy_key = SoftAuthenticator()
    _register(desk, desk.lucy, lucy_key)
    _register(desk, desk.alice, SoftAuthenticator())
    options = passkeys.step_up_options(desk.ctx, desk.staff(desk.alice))
    with pytest.raises(StepUpRequired):
        _start(desk, _request(desk), assertion=lucy_key.get(options))


def test_step_up_options_need_a_passkey(desk: Desk) -> None:
    with pytest.raises(InvalidInput, match="no passkey"):
        passkeys.step_up_options(desk.ctx, desk.staff(desk.alice))


# --- the policy: a passkey required for roles or actions refuses TOTP there ---------------

ROLE_SETS = [frozenset(), frozenset({Role.AGENT}), frozenset({Role.ADMIN})]
ACTION_SETS = [frozenset(), frozenset({StepUpAction.START}), frozenset(StepUpAction)]


@pytest.mark.parametrize(
    ("roles", "actions", "staff_roles", "action"),
    list(
        itertools.product(
            ROLE_SETS,
            ACTION_SETS,
            [frozenset({Role.AGENT}), frozenset({Role.LEAD, Role.AGENT})],
            list(StepUpAction),
        )
    ),
)
def test_passkey_required_truth_table(
    roles: frozenset[Role],
    actions: frozenset[StepUpAction],
    staff_roles: frozenset[Role],
    action: StepUpAction,
) -> None:
    rules = PasskeyRules(roles=roles, actions=actions)
    expected = action in actions or bool(roles & staff_roles)
    assert rules.passkey_required(roles=staff_roles, action=action) is expected


def _with_rules(desk: Desk, **kw: frozenset[Role] | frozenset[StepUpAction]) -> None:
    rules = IdentityRules(passkeys=PasskeyRules(**kw))  # type: ignore[arg-type]
    desk.ctx = dataclasses.replace(desk.ctx, identity=rules)


@pytest.mark.parametrize(
    ("rule", "totp_accepted"),
    [
        ({}, True),
        ({"actions": frozenset({StepUpAction.START})}, False),
        ({"actions": frozenset({StepUpAction.APPROVE_HIGH_RISK})}, True),
        ({"roles": frozenset({Role.AGENT})}, False),
        ({"roles": frozenset({Role.ADMIN})}, True),
    ],
)
def test_a_policy_requiring_a_passkey_refuses_totp_for_start(
    desk: Desk, rule: dict[str, frozenset[Role] | frozenset[StepUpAction]], totp_accepted: bool
) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    _with_rules(desk, **rule)
    request_id = _request(desk)
    if totp_accepted:
        _start(desk, request_id, code=desk.code(desk.alice))
        return
    with pytest.raises(StepUpRequired, match="needs your passkey"):
        _start(desk, request_id, code=desk.code(desk.alice))
    assert desk.types()[-1] == "staff.step_up_failed"
    with pytest.raises(StepUpRequired, match="needs your passkey"):
        _start(desk, request_id)
    options = passkeys.step_up_options(desk.ctx, desk.staff(desk.alice))
    _start(desk, request_id, assertion=key.get(options))


def test_a_high_risk_approval_with_a_passkey_where_one_is_required(desk: Desk) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.lucy, key)
    _with_rules(desk, actions=frozenset({StepUpAction.APPROVE_HIGH_RISK}))
    erin = desk.people.add("erin", Role.ENGINEER)
    request_id = _request(desk, frozenset({"write"}), erin)
    request, _ = requests.get_request(desk.ctx, request_id)
    assert request.high_risk

    def approve(code: str | None = None, assertion: str | None = None) -> None:
        requests.approve_request(
            desk.ctx,
            approver=desk.staff(desk.lucy),
            request_id=request_id,
            comment="ok",
            via="console",
            code=code,
            assertion=assertion,
            by=desk.actor(desk.lucy),
        )

    with pytest.raises(StepUpRequired, match="needs your passkey"):
        approve(code=desk.code(desk.lucy))
    approve(assertion=key.get(passkeys.step_up_options(desk.ctx, desk.staff(desk.lucy))))
    request, _ = requests.get_request(desk.ctx, request_id)
    assert request.state.value == "approved"


@pytest.mark.parametrize(
    ("url", "possible"),
    [
        ("https://actas.example.com", True),
        ("http://localhost:8000", True),
        ("http://127.0.0.1:8000", False),  # an IP address is no relying party id
        ("https://[::1]:8443", False),
        ("http://actas.example.com", False),  # not a secure context
    ],
)
def test_passkeys_only_where_browsers_allow_them(url: str, possible: bool) -> None:
    assert passkeys_possible(url) is possible


def test_break_glass_is_its_own_step_up_action(desk: Desk) -> None:
    """Requiring a passkey for break-glass leaves an ordinary start on TOTP, and the other way
    round: the start of a break-glass request is the ``break_glass`` action."""
    sam = desk.people.add("sam", Role.SECURITY)
    key = SoftAuthenticator()
    _register(desk, sam, key)
    _with_rules(desk, actions=frozenset({StepUpAction.BREAK_GLASS}))
    case = cases.open_case(
        desk.ctx,
        staff=desk.staff(sam),
        application_id="notes",
        subject_id="u-1",
        ticket="INC-1",
        reason_code="bug_reproduction",
        reason_text="outage",
        by=desk.actor(sam),
    )
    request = requests.request_access(
        desk.ctx,
        staff=desk.staff(sam),
        case_id=case.id,
        kind="impersonate",
        scopes=frozenset({"read"}),
        minutes=15,
        break_glass=True,
        by=desk.actor(sam),
    )
    assert request.state.value == "approved"

    def start(**proof: str) -> sessions.Started:
        return sessions.start_session(
            desk.ctx, staff=desk.staff(sam), request_id=request.id, by=desk.actor(sam), **proof
        )

    with pytest.raises(StepUpRequired, match="needs your passkey"):
        start(code=desk.code(sam))
    start(code="", assertion=key.get(passkeys.step_up_options(desk.ctx, desk.staff(sam))))
    _start(desk, _request(desk), code=desk.code(desk.alice))  # an ordinary start: TOTP is fine


def test_a_passkey_is_removed_only_by_its_owner_and_a_disabled_member_cannot_use_one(
    desk: Desk,
) -> None:
    key = SoftAuthenticator()
    _register(desk, desk.alice, key)
    [stored] = passkeys.list_passkeys(desk.ctx, desk.alice.id)
    with pytest.raises(NotFound):
        passkeys.remove(
            desk.ctx, staff=desk.staff(desk.lucy), passkey_id=stored.id, by=desk.actor(desk.lucy)
        )
    second = SoftAuthenticator()
    _register(desk, desk.alice, second)
    passkeys.remove(
        desk.ctx, staff=desk.staff(desk.alice), passkey_id=stored.id, by=desk.actor(desk.alice)
    )
    assert [p.id for p in passkeys.list_passkeys(desk.ctx, desk.alice.id)] != [stored.id]
    assert "staff.passkey_removed" in desk.types()
    with pytest.raises(AuthenticationFailed):  # the removed key signs in no more
        passkeys.sign_in_with(
            desk.ctx,
            response=key.get(passkeys.sign_in_options(desk.ctx)),
            by=desk.actor(desk.alice),
        )
    staff_service.disable_staff(desk.ctx, email=desk.alice.email, by=SETUP)
    with pytest.raises(AuthenticationFailed):
        passkeys.sign_in_with(
            desk.ctx,
            response=second.get(passkeys.sign_in_options(desk.ctx)),
            by=desk.actor(desk.alice),
        )


def test_a_malformed_response_is_refused_not_a_crash(desk: Desk) -> None:
    _register(desk, desk.alice, SoftAuthenticator())
    for junk in ("not json", "[]", '{"response": {}}', '{"response": {"clientDataJSON": "e30"}}'):
        with pytest.raises(AuthenticationFailed):
            passkeys.sign_in_with(desk.ctx, response=junk, by=desk.actor(desk.alice))
        with pytest.raises(StepUpRequired):
            _start(desk, _request(desk), assertion=junk)
