"""The access policy as truth tables (T12, T13), and the policy file's checks and line numbers."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actas.domain.errors import InvalidInput
from actas.domain.policy import (
    AccessRequestSpec,
    AccountView,
    Consent,
    Decision,
    StaffView,
    SubjectView,
    can_approve,
    decide,
    describe,
    effective_role_policy,
)
from actas.domain.policy_rules import AccessKind, BreakGlass, FlagRule, Outcome, Policy, RolePolicy
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag
from actas.policy_file import (
    DEFAULT_POLICY_PATH,
    PolicyError,
    load_default_policy,
    load_policy,
    load_policy_text,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
APP = "notes"
POLICY = load_default_policy()

ALLOW = Outcome.ALLOW
CONSENT = Outcome.NEEDS_CONSENT
APPROVAL = Outcome.NEEDS_APPROVAL
DENY = Outcome.DENY
IMPERSONATE = AccessKind.IMPERSONATE
ASSIST = AccessKind.ASSIST

TARGETS = ("normal", "privileged", "broker_staff", "no_access", "regulated", "flagged")


def staff(*roles: Role, staff_id: str = "alice", assigned: bool = False) -> StaffView:
    accounts = frozenset({(APP, "acme")}) if assigned else frozenset()
    return StaffView(id=staff_id, roles=frozenset(roles), assigned_accounts=accounts)


def target(name: str = "normal") -> tuple[SubjectView, AccountView]:
    flags = {
        "no_access": {AccountFlag.NO_ACCESS},
        "regulated": {AccountFlag.REGULATED},
        "flagged": {AccountFlag.FLAGGED},
    }.get(name, set())
    subject = SubjectView(
        application_id=APP,
        id="u-1",
        account_id="acme",
        privileged=name == "privileged",
        is_broker_staff=name == "broker_staff",
    )
    return subject, AccountView(application_id=APP, id="acme", flags=frozenset(flags))


def ask(
    kind: AccessKind = IMPERSONATE,
    scopes: tuple[str, ...] = ("read",),
    minutes: int = 10,
    reason_code: str = "bug_reproduction",
    *,
    break_glass: bool = False,
) -> AccessRequestSpec:
    return AccessRequestSpec(
        kind=kind,
        scopes=frozenset(scopes),
        minutes=minutes,
        reason_code=reason_code,
        now=NOW,
        break_glass=break_glass,
    )


def run(
    who: StaffView,
    request: AccessRequestSpec | None = None,
    target_name: str = "normal",
    *,
    consent: Consent | None = None,
    policy: Policy = POLICY,
    account: AccountView | None = None,
) -> Decision:
    subject, default_account = target(target_name)
    return decide(
        policy=policy,
        staff=who,
        subject=subject,
        account=account or default_account,
        consent=consent,
        request=request or ask(),
    )


# -- T12: requester role x target class, exact outcomes ------------------------------------------

# Columns follow TARGETS: normal, privileged, broker_staff, no_access, regulated, flagged.
IMPERSONATE_READ = {
    (): (DENY, DENY, DENY, DENY, DENY, DENY),
    (Role.AGENT,): (ALLOW, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.LEAD,): (ALLOW, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.ENGINEER,): (APPROVAL, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.SECURITY,): (ALLOW, ALLOW, DENY, DENY, CONSENT, APPROVAL),
    (Role.ADMIN,): (DENY, DENY, DENY, DENY, DENY, DENY),
    (Role.AGENT, Role.ENGINEER): (ALLOW, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.ENGINEER, Role.ADMIN): (APPROVAL, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.AGENT, Role.SECURITY): (ALLOW, ALLOW, DENY, DENY, CONSENT, APPROVAL),
}
ASSIST_RESET_MFA = {
    (): (DENY, DENY, DENY, DENY, DENY, DENY),
    (Role.AGENT,): (ALLOW, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.LEAD,): (ALLOW, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.ENGINEER,): (APPROVAL, DENY, DENY, DENY, CONSENT, APPROVAL),
    (Role.SECURITY,): (ALLOW, ALLOW, DENY, DENY, CONSENT, APPROVAL),
    (Role.ADMIN,): (APPROVAL, DENY, DENY, DENY, CONSENT, APPROVAL),
}


def _rows(
    table: Mapping[tuple[Role, ...], tuple[Outcome, ...]],
) -> list[tuple[tuple[Role, ...], str, Outcome]]:
    return [
        (roles, name, outcome)
        for roles, outcomes in table.items()
        for name, outcome in zip(TARGETS, outcomes, strict=True)
    ]


@pytest.mark.parametrize(("roles", "target_name", "expected"), _rows(IMPERSONATE_READ))
def test_impersonate_read_matrix(
    roles: tuple[Role, ...], target_name: str, expected: Outcome
) -> None:
    decision = run(staff(*roles), ask(IMPERSONATE, ("read",)), target_name)
    assert decision.outcome is expected, decision.reasons
    assert decision.reasons


@pytest.mark.parametrize(("roles", "target_name", "expected"), _rows(ASSIST_RESET_MFA))
def test_assist_reset_mfa_matrix(
    roles: tuple[Role, ...], target_name: str, expected: Outcome
) -> None:
    decision = run(staff(*roles), ask(ASSIST, ("admin:reset_mfa",)), target_name)
    assert decision.outcome is expected, decision.reasons
    assert decision.reasons


@pytest.mark.parametrize(
    ("target_name", "reason"),
    [
        ("broker_staff", "denied: broker staff accounts can never be impersonated or assisted"),
        ("no_access", "denied: the account has opted out of support access (no_access)"),
        (
            "privileged",
            "denied: the subject is privileged (an admin, staff or service account of the "
            "application); only security may reach it",
        ),
    ],
)
def test_ineligible_targets_say_why(target_name: str, reason: str) -> None:
    decision = run(staff(Role.LEAD), target_name=target_name)
    assert decision.reasons == (reason,)


def test_a_subject_of_another_account_is_refused() -> None:
    subject, _ = target()
    other = AccountView(application_id=APP, id="globex", flags=frozenset())
    decision = decide(
        policy=POLICY, staff=staff(Role.SECURITY), subject=subject, account=other,
        consent=None, request=ask(),
    )  # fmt: skip
    assert decision.outcome is DENY
    assert "the subject belongs to account notes/acme, not notes/globex" in decision.reasons[0]


def test_allow_says_why() -> None:
    decision = run(staff(Role.AGENT))
    assert decision.reasons == (
        "allowed: agent may impersonate for up to 20 minutes; "
        "no flag on the account asks for approval",
    )
    assert decision.max_minutes == 20
    assert decision.idle_timeout_minutes == 15
    assert (decision.approvals_required, decision.approver_roles) == (0, frozenset())
    assert not decision.high_risk
    assert decision.allowed


def test_approval_says_by_whom_and_why() -> None:
    decision = run(staff(Role.AGENT), target_name="flagged")
    assert decision.reasons == (
        "needs approval by a lead or security because the account is flagged",
    )
    assert decision.approval_required
    assert decision.approvals_required == 1
    assert decision.approver_roles == {Role.LEAD, Role.SECURITY}
    engineer = run(staff(Role.ENGINEER))
    assert engineer.reasons == (
        "needs approval by a lead or security because the engineer role requires approval",
    )


def test_two_approvals_are_named() -> None:
    policy = dataclasses.replace(POLICY, approvals_required=2)
    decision = run(staff(Role.AGENT), target_name="flagged", policy=policy)
    assert decision.approvals_required == 2
    assert decision.reasons[0].startswith("needs approval by 2 different staff holding lead or")


def test_consent_comes_first_and_approval_is_announced() -> None:
    decision = run(staff(Role.AGENT), target_name="regulated")
    assert decision.outcome is CONSENT
    assert decision.consent_required
    assert decision.approval_required
    assert decision.approvals_required == 1
    assert decision.high_risk
    assert decision.reasons == (
        "needs the customer's consent because the account is regulated; "
        "there is no consent on file",
        "then needs approval by a lead or security because the account is regulated",
    )


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "minutes", "expected"),
    [
        ((Role.AGENT,), 20, ALLOW),
        ((Role.AGENT,), 21, DENY),
        ((Role.AGENT,), 0, DENY),
        ((Role.AGENT,), -5, DENY),
        ((Role.LEAD,), 30, ALLOW),
        ((Role.AGENT, Role.LEAD), 30, ALLOW),
        ((Role.AGENT, Role.LEAD), 31, DENY),
        ((Role.SECURITY,), 60, ALLOW),
    ],
)
def test_duration_cap(roles: tuple[Role, ...], minutes: int, expected: Outcome) -> None:
    assert run(staff(*roles), ask(minutes=minutes)).outcome is expected


def test_too_long_names_both_numbers() -> None:
    decision = run(staff(Role.AGENT), ask(minutes=90))
    assert decision.reasons == ("denied: 90 minutes is over the agent maximum of 20",)
    assert decision.max_minutes == 20
    combined = run(staff(Role.AGENT, Role.LEAD), ask(minutes=90))
    assert combined.reasons == ("denied: 90 minutes is over the lead maximum of 30",)


def test_all_deny_reasons_are_collected() -> None:
    decision = run(
        staff(Role.AGENT), ask(IMPERSONATE, ("write", "admin:Nope"), 90, "curiosity"), "no_access"
    )
    assert decision.outcome is DENY
    text = "\n".join(decision.reasons)
    for part in ("no_access", "admin:Nope", "scope write", "90 minutes", "'curiosity'"):
        assert part in text
    assert all(reason.startswith("denied: ") for reason in decision.reasons)


# -- kinds and scopes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "kind", "scopes", "expected"),
    [
        ((Role.AGENT,), IMPERSONATE, (), ALLOW),
        ((Role.AGENT,), IMPERSONATE, ("write",), DENY),
        ((Role.LEAD,), IMPERSONATE, ("read", "write"), ALLOW),
        ((Role.LEAD,), ASSIST, ("write",), DENY),
        ((Role.LEAD,), ASSIST, ("read", "admin:verify_email"), ALLOW),
        ((Role.AGENT,), ASSIST, ("admin:delete_account",), DENY),
        ((Role.SECURITY,), ASSIST, ("admin:delete_account",), ALLOW),
        ((Role.SECURITY,), ASSIST, ("admin:*",), DENY),
        ((Role.SECURITY,), IMPERSONATE, ("admin:Reset",), DENY),
        ((Role.SECURITY,), IMPERSONATE, ("delete",), DENY),
        ((Role.ADMIN,), ASSIST, ("read",), DENY),
        ((Role.ADMIN,), IMPERSONATE, ("admin:reset_mfa",), DENY),
        ((Role.AGENT, Role.ENGINEER), IMPERSONATE, ("write",), ALLOW),
    ],
)
def test_kind_and_scope_table(
    roles: tuple[Role, ...], kind: AccessKind, scopes: tuple[str, ...], expected: Outcome
) -> None:
    assert run(staff(*roles), ask(kind, scopes)).outcome is expected


def test_scope_denials_name_the_scope() -> None:
    decision = run(staff(Role.AGENT), ask(IMPERSONATE, ("write",)))
    assert decision.reasons[0].startswith("denied: agent may not use scope write")
    assert run(staff(Role.AGENT), ask(scopes=())).scopes == {"read"}
    bad = run(staff(Role.SECURITY), ask(scopes=("admin:*",)))
    assert "'admin:*' is not a valid scope" in bad.reasons[0]
    admin = run(staff(Role.ADMIN), ask(IMPERSONATE, ("admin:reset_mfa",)))
    assert admin.reasons == ("denied: admin may not impersonate (only assist)",)


def test_unknown_reason_code_is_refused() -> None:
    decision = run(staff(Role.AGENT), ask(reason_code="curiosity"))
    assert decision.outcome is DENY
    assert decision.reasons[0].startswith("denied: reason code 'curiosity' is not one of ")


@pytest.mark.parametrize(
    ("roles", "kind", "scopes", "target_name", "high_risk"),
    [
        ((Role.LEAD,), IMPERSONATE, ("read",), "normal", False),
        ((Role.LEAD,), IMPERSONATE, ("write",), "normal", True),
        ((Role.LEAD,), ASSIST, ("admin:reset_mfa",), "normal", False),
        ((Role.LEAD,), IMPERSONATE, ("read",), "regulated", True),
        ((Role.LEAD,), IMPERSONATE, ("read",), "flagged", False),
    ],
)
def test_high_risk(
    roles: tuple[Role, ...],
    kind: AccessKind,
    scopes: tuple[str, ...],
    target_name: str,
    high_risk: bool,
) -> None:
    assert run(staff(*roles), ask(kind, scopes), target_name).high_risk is high_risk


def test_high_risk_kinds() -> None:
    policy = dataclasses.replace(POLICY, high_risk_kinds=frozenset({ASSIST}))
    assert run(staff(Role.AGENT), ask(ASSIST, ("admin:reset_mfa",)), policy=policy).high_risk


# -- several roles: the most permissive combination --------------------------------------------


def _custom(**roles: RolePolicy) -> Policy:
    return dataclasses.replace(POLICY, roles={Role(name): rp for name, rp in roles.items()})


AGENT_ASSIGNED = RolePolicy(
    kinds=frozenset({IMPERSONATE}), scopes=frozenset({"read"}), max_minutes=20, assigned_only=True
)
LEAD_ANYWHERE = RolePolicy(
    kinds=frozenset({ASSIST}),
    scopes=frozenset({"admin:*"}),
    max_minutes=45,
    assigned_only=False,
    requires_approval=True,
)


@pytest.mark.parametrize(
    ("roles", "assigned", "expected"),
    [
        ((Role.AGENT,), False, DENY),
        ((Role.AGENT,), True, ALLOW),
        ((Role.AGENT, Role.LEAD), False, ALLOW),
        ((Role.LEAD,), False, DENY),  # lead alone may not impersonate
    ],
)
def test_assigned_only_holds_only_if_every_role_says_so(
    roles: tuple[Role, ...], assigned: bool, expected: Outcome
) -> None:
    policy = _custom(agent=AGENT_ASSIGNED, lead=LEAD_ANYWHERE)
    decision = run(staff(*roles, assigned=assigned), policy=policy)
    assert decision.outcome is expected, decision.reasons


def test_roles_combine_most_permissively() -> None:
    policy = _custom(agent=AGENT_ASSIGNED, lead=LEAD_ANYWHERE)
    combined = effective_role_policy(policy=policy, roles={Role.AGENT, Role.LEAD, Role.ADMIN})
    assert combined == RolePolicy(
        kinds=frozenset({IMPERSONATE, ASSIST}),
        scopes=frozenset({"read", "admin:*"}),
        max_minutes=45,
        assigned_only=False,
        requires_approval=False,
        may_reach_privileged=False,
    )
    assert effective_role_policy(policy=policy, roles={Role.ADMIN}) is None
    lead_only = run(staff(Role.LEAD), ask(ASSIST, ("admin:x",)), policy=policy)
    assert lead_only.outcome is APPROVAL
    unassigned = run(staff(Role.AGENT), policy=policy)
    assert "agent may only reach assigned accounts" in unassigned.reasons[0]


# -- consent --------------------------------------------------------------------------------------


def consent(
    *,
    scopes: tuple[str, ...] = ("read",),
    kinds: tuple[AccessKind, ...] = (IMPERSONATE,),
    minutes_left: int = 60,
) -> Consent:
    return Consent(
        scopes=frozenset(scopes),
        kinds=frozenset(kinds),
        expires_at=NOW + timedelta(minutes=minutes_left),
    )


CONSENT_ONLY = dataclasses.replace(
    POLICY,
    flags={**POLICY.flags, AccountFlag.REGULATED: FlagRule(approval=False, consent=True)},
)


@pytest.mark.parametrize(
    ("grant", "spec", "expected", "hint"),
    [
        (consent(), ask(), ALLOW, "covered by the customer's consent until 2025-03-01 13:00 UTC"),
        (None, ask(), CONSENT, "there is no consent on file"),
        (consent(minutes_left=-1), ask(), CONSENT, "expired at 2025-03-01 11:59 UTC"),
        (consent(minutes_left=0), ask(), CONSENT, "expired"),
        (
            consent(),
            ask(scopes=("read", "admin:reset_mfa")),
            CONSENT,
            "does not cover admin:reset_mfa",
        ),
        (consent(kinds=(ASSIST,)), ask(), CONSENT, "does not cover impersonate"),
        (
            consent(scopes=("read", "admin:*")),
            ask(scopes=("read", "admin:reset_mfa")),
            ALLOW,
            "covered",
        ),
    ],
)
def test_consent_coverage(
    grant: Consent | None, spec: AccessRequestSpec, expected: Outcome, hint: str
) -> None:
    decision = run(staff(Role.AGENT), spec, "regulated", consent=grant, policy=CONSENT_ONLY)
    assert decision.outcome is expected, decision.reasons
    assert hint in decision.reasons[0]
    assert decision.consent_required is (expected is CONSENT)


def test_consent_does_not_replace_approval() -> None:
    decision = run(staff(Role.AGENT), target_name="regulated", consent=consent())
    assert decision.outcome is APPROVAL
    assert decision.reasons[0].startswith("covered by the customer's consent until")
    assert not decision.consent_required


def test_a_flag_the_policy_leaves_out_asks_for_everything() -> None:
    policy = dataclasses.replace(POLICY, flags={})
    decision = run(staff(Role.AGENT), target_name="flagged", policy=policy)
    assert decision.outcome is CONSENT
    assert decision.approval_required


# -- break-glass ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("roles", "target_name", "minutes", "expected"),
    [
        ((Role.SECURITY,), "regulated", 30, ALLOW),
        ((Role.SECURITY,), "normal", 30, ALLOW),
        ((Role.SECURITY,), "privileged", 10, ALLOW),
        ((Role.SECURITY,), "regulated", 31, DENY),
        ((Role.SECURITY,), "no_access", 10, DENY),
        ((Role.SECURITY,), "broker_staff", 10, DENY),
        ((Role.AGENT,), "regulated", 10, DENY),
        ((Role.LEAD,), "normal", 10, DENY),
    ],
)
def test_break_glass_table(
    roles: tuple[Role, ...], target_name: str, minutes: int, expected: Outcome
) -> None:
    decision = run(staff(*roles), ask(minutes=minutes, break_glass=True), target_name)
    assert decision.outcome is expected, decision.reasons
    assert decision.review_required is (expected is ALLOW)


def test_break_glass_skips_approval_and_consent_and_is_reviewed() -> None:
    decision = run(staff(Role.SECURITY), ask(minutes=25, break_glass=True), "regulated")
    assert decision.outcome is ALLOW
    assert decision.high_risk
    assert decision.review_required
    assert not decision.approval_required
    assert not decision.consent_required
    assert decision.max_minutes == 30
    assert decision.reasons[0] == (
        "break-glass: approval skipped; security is alerted and the session must be reviewed"
    )
    assert "without break-glass this would need approval" in "\n".join(decision.reasons)


def test_break_glass_refusals_say_why() -> None:
    agent = run(staff(Role.AGENT), ask(break_glass=True))
    assert agent.reasons == ("denied: break-glass is only for security; you hold agent",)
    over = run(staff(Role.SECURITY), ask(minutes=45, break_glass=True))
    assert over.reasons == ("denied: 45 minutes is over the break-glass maximum of 30",)
    off = dataclasses.replace(POLICY, break_glass=BreakGlass(enabled=False))
    disabled = run(staff(Role.SECURITY), ask(break_glass=True), policy=off)
    assert disabled.reasons == ("denied: break-glass is disabled by the policy",)


# -- T13: who may approve -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("approver", "high_risk", "via_slack", "expected"),
    [
        (staff(Role.LEAD, staff_id="alice"), False, False, False),  # alice asked: never her own
        (staff(Role.SECURITY, Role.LEAD, staff_id="alice"), True, False, False),
        (staff(Role.LEAD, staff_id="bob"), False, False, True),
        (staff(Role.SECURITY, staff_id="bob"), False, True, True),
        (staff(Role.AGENT, staff_id="bob"), False, False, False),
        (staff(Role.ENGINEER, Role.ADMIN, staff_id="bob"), False, False, False),
        (staff(staff_id="bob"), False, False, False),
        (staff(Role.LEAD, staff_id="bob"), True, False, True),
        (staff(Role.LEAD, staff_id="bob"), True, True, False),  # high risk: console + TOTP only
    ],
)
def test_approval_table(
    approver: StaffView, high_risk: bool, via_slack: bool, expected: bool
) -> None:
    ok, why = can_approve(
        policy=POLICY,
        approver=approver,
        requester_id="alice",
        decision_high_risk=high_risk,
        via_slack=via_slack,
    )
    assert ok is expected, why
    assert why


def test_approval_refusals_say_why() -> None:
    own = can_approve(
        policy=POLICY, approver=staff(Role.SECURITY), requester_id="alice", decision_high_risk=False
    )
    assert own == (False, "nobody may approve their own request")
    agent = can_approve(
        policy=POLICY,
        approver=staff(Role.AGENT, staff_id="eve"),
        requester_id="alice",
        decision_high_risk=False,
    )
    assert agent == (False, "only lead or security may approve; the approver holds agent")


# -- the property: nothing that is not denied breaks a hard rule ----------------------------------

SCOPE_POOL = ["read", "write", "admin:reset_mfa", "admin:verify_email", "admin:*", "Admin:x"]


@settings(max_examples=400, database=None, deadline=None)
@given(
    roles=st.frozensets(st.sampled_from(list(Role))),
    flags=st.frozensets(st.sampled_from(list(AccountFlag))),
    privileged=st.booleans(),
    broker_staff=st.booleans(),
    assigned=st.booleans(),
    kind=st.sampled_from(list(AccessKind)),
    scopes=st.frozensets(st.sampled_from(SCOPE_POOL)),
    minutes=st.integers(min_value=-5, max_value=2000),
    reason_code=st.sampled_from([*POLICY.reason_codes, "curiosity"]),
    break_glass=st.booleans(),
    grant=st.none()
    | st.builds(
        Consent,
        scopes=st.frozensets(st.sampled_from(SCOPE_POOL)),
        kinds=st.frozensets(st.sampled_from(list(AccessKind))),
        expires_at=st.sampled_from([NOW - timedelta(minutes=1), NOW, NOW + timedelta(hours=1)]),
    ),
)
def test_no_outcome_but_deny_breaks_a_hard_rule(
    roles: frozenset[Role],
    flags: frozenset[AccountFlag],
    privileged: bool,
    broker_staff: bool,
    assigned: bool,
    kind: AccessKind,
    scopes: frozenset[str],
    minutes: int,
    reason_code: str,
    break_glass: bool,
    grant: Consent | None,
) -> None:
    subject = SubjectView(
        application_id=APP,
        id="u-1",
        account_id="acme",
        privileged=privileged,
        is_broker_staff=broker_staff,
    )
    account = AccountView(application_id=APP, id="acme", flags=flags)
    request = AccessRequestSpec(
        kind=kind,
        scopes=scopes,
        minutes=minutes,
        reason_code=reason_code,
        now=NOW,
        break_glass=break_glass,
    )
    decision = decide(
        policy=POLICY,
        staff=StaffView(id="alice", roles=roles, assigned_accounts=frozenset()),
        subject=subject,
        account=account,
        consent=grant,
        request=request,
    )
    assert decision.reasons
    if decision.outcome is DENY:
        assert all(reason.startswith("denied: ") for reason in decision.reasons)
        return
    assert 1 <= minutes <= decision.max_minutes
    assert AccountFlag.NO_ACCESS not in flags
    assert not broker_staff
    assert reason_code in POLICY.reason_codes
    if privileged:
        assert Role.SECURITY in roles
    if decision.outcome is APPROVAL:
        assert decision.approvals_required >= 1
        assert decision.approver_roles
    if break_glass:
        assert decision.outcome is ALLOW
        assert decision.review_required
        assert decision.high_risk


# -- the policy's own invariants ------------------------------------------------------------------


def test_policy_refuses_to_configure_no_access() -> None:
    with pytest.raises(InvalidInput, match="no_access cannot be configured"):
        dataclasses.replace(
            POLICY, flags={AccountFlag.NO_ACCESS: FlagRule(approval=True, consent=True)}
        )
    with pytest.raises(InvalidInput, match="approvals_required"):
        dataclasses.replace(POLICY, approvals_required=0)
    with pytest.raises(InvalidInput, match="1 to 1440"):
        RolePolicy(kinds=frozenset(), scopes=frozenset(), max_minutes=2000, assigned_only=False)
    with pytest.raises(InvalidInput, match="time zone"):
        AccessRequestSpec(
            kind=ASSIST, scopes=frozenset(), minutes=1, reason_code="x", now=datetime(2025, 1, 1)
        )


def test_policy_mappings_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        POLICY.roles[Role.AGENT] = LEAD_ANYWHERE  # type: ignore[index]


# -- the policy file ------------------------------------------------------------------------------


def test_the_shipped_default_loads() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH)
    assert policy == POLICY
    assert policy.roles[Role.AGENT] == RolePolicy(
        kinds=frozenset({ASSIST, IMPERSONATE}),
        scopes=frozenset({"read", "admin:reset_mfa", "admin:verify_email"}),
        max_minutes=20,
        assigned_only=False,
    )
    assert policy.roles[Role.ENGINEER].requires_approval
    assert policy.roles[Role.SECURITY].may_reach_privileged
    assert policy.roles[Role.ADMIN].kinds == {ASSIST}
    assert policy.flags[AccountFlag.FLAGGED] == FlagRule(approval=True, consent=False)
    assert policy.approver_roles == {Role.LEAD, Role.SECURITY}
    assert (policy.approvals_required, policy.idle_timeout_minutes) == (1, 15)
    assert policy.request_ttl_minutes == 60
    assert policy.reason_codes == (
        "bug_reproduction",
        "account_recovery",
        "billing_fix",
        "data_recovery",
        "onboarding",
    )
    assert policy.high_risk_flags == {AccountFlag.REGULATED, AccountFlag.ENHANCED_CONTROLS}
    assert policy.break_glass == BreakGlass(
        enabled=True, roles=frozenset({Role.SECURITY}), max_minutes=30
    )
    assert describe(policy)[0].startswith("agent: assist and impersonate;")


DEFAULT_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def broken(old: str, new: str) -> tuple[str, PolicyError]:
    assert old in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(old, new, 1)
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, source="policy.toml")
    return text, caught.value


def test_negative_max_minutes_points_at_its_line() -> None:
    text, error = broken("max_minutes = 20", "max_minutes = -5")
    line = line_of(text, "max_minutes = -5")
    assert (
        str(error)
        == f"policy.toml:{line}: roles.agent.max_minutes must be a positive integer, got -5"
    )
    assert (error.line, error.source, error.key) == (line, "policy.toml", "roles.agent.max_minutes")


@pytest.mark.parametrize(
    ("old", "new", "at", "message"),
    [
        (
            "max_minutes = 30\nassigned_only = false\n\n[roles.engineer]",
            "max_minutes = 30\nassigned_only = false\nmax_minute = 90\n\n[roles.engineer]",
            "max_minute = 90",
            "unknown key roles.lead.max_minute (did you mean max_minutes?)",
        ),
        ("[roles.agent]", "[roles.agnet]", "[roles.agnet]", "unknown role roles.agnet"),
        (
            '"admin:verify_email"]\nmax_minutes = 20',
            '"admin:Verify"]\nmax_minutes = 20',
            '"admin:Verify"',
            "roles.agent.scopes: 'admin:Verify' is not a valid scope",
        ),
        (
            "approvals_required = 1",
            "approvals_required = = 1",
            "approvals_required = = 1",
            "not valid TOML: Invalid value",
        ),
        ("max_minutes = 60", "max_minutes = 2000", "max_minutes = 2000", "at most 1440"),
        ("max_minutes = 60", "max_minutes = true", "max_minutes = true", "got true"),
        ("approvals_required = 1", "approvals_required = 0", "approvals_required = 0", "got 0"),
        ('"onboarding",', '"Onboarding",', '"Onboarding"', 'reason_codes has "Onboarding"'),
        ('kinds = ["assist"]', 'kinds = ["asist"]', '"asist"', 'unknown kind "asist"'),
        ("[flags.flagged]", "[flags.flaged]", "[flags.flaged]", "unknown flag flags.flaged"),
        ("consent = false", "consent = 'no'", "consent = 'no'", 'must be true or false, got "no"'),
        ("[flags.flagged]", "[flags.no_access]", "[flags.no_access]", "always denies"),
        ('roles = ["security"]', 'roles = ["security", "owner"]', '"owner"', "unknown role"),
        ("high_risk_kinds = []", "high_risk_kinds = 3", "high_risk_kinds = 3", "must be an array"),
    ],
)
def test_errors_point_at_the_right_line(old: str, new: str, at: str, message: str) -> None:
    text, error = broken(old, new)
    assert error.line == line_of(text, at), str(error)
    assert message in error.problems[0].message
    assert str(error).startswith(f"policy.toml:{error.line}: ")


def test_missing_keys_and_flags_are_errors() -> None:
    _, error = broken("assigned_only = false\n\n[roles.lead]", "\n[roles.lead]")
    assert "roles.agent is missing assigned_only" in str(error)
    _, error = broken("[flags.flagged]\napproval = true\nconsent = false\n", "")
    assert "flags.flagged is missing" in str(error)
    _, error = broken('approver_roles = ["lead", "security"]\n', "")
    assert "the policy is missing approver_roles" in str(error)


def test_every_problem_is_reported_at_once() -> None:
    _, error = broken("max_minutes = 20", "max_minutes = -5\ncolour = 'red'")
    assert len(error.problems) == 2
    assert len(str(error).splitlines()) == 2


def test_break_glass_roles_need_a_role_table() -> None:
    _, error = broken('roles = ["security"]', 'roles = ["security"]\nmax_minute = 1')
    assert "unknown key break_glass.max_minute" in str(error)
    start = DEFAULT_TEXT.index("[roles.security]")
    end = DEFAULT_TEXT.index("[roles.admin]")
    text = DEFAULT_TEXT[:start] + DEFAULT_TEXT[end:]
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, source="p.toml")
    at = line_of(text, 'roles = ["security"]')
    assert str(caught.value) == (
        f"p.toml:{at}: break_glass.roles names security, which has no [roles.security] table"
    )


def test_break_glass_may_be_switched_off() -> None:
    text = DEFAULT_TEXT.replace(
        'enabled = true\nroles = ["security"]\nmax_minutes = 30', "enabled = false", 1
    )
    assert load_policy_text(text, source="p.toml").break_glass == BreakGlass(enabled=False)


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as caught:
        load_policy(missing)
    assert caught.value.line is None
    assert str(caught.value).startswith(f"{missing}: cannot read")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError, match="not UTF-8"):
        load_policy(binary)
    good = tmp_path / "policy.toml"
    good.write_text(DEFAULT_TEXT.replace("max_minutes = 20", "max_minutes = 25"), encoding="utf-8")
    assert load_policy(good).roles[Role.AGENT].max_minutes == 25
