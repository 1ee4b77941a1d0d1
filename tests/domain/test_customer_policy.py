"""The stricter of the customer's own policy and the broker's wins, and says so: a truth
table over the broker's outcome, the customer's rule, the contract and the consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actas.domain.consent import (
    CustomerPolicy,
    CustomerRule,
    Grant,
    GrantSource,
    MalformedAccessCode,
    apply_customer_policy,
    best_consent,
    grant_scopes,
    normalise_access_code,
)
from actas.domain.policy import AccessRequestSpec, Consent, Decision
from actas.domain.policy_rules import AccessKind, Outcome

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
OC = Outcome
R = CustomerRule
SPEC = AccessRequestSpec(
    kind=AccessKind.IMPERSONATE, scopes=frozenset({"read"}), minutes=10, reason_code="x", now=NOW
)
CONSENT = Consent(
    scopes=frozenset({"read"}), kinds=frozenset(AccessKind), expires_at=NOW + timedelta(hours=1)
)


def _decision(outcome: Outcome) -> Decision:
    reasons = {
        OC.ALLOW: ("allowed: agent may impersonate for up to 20 minutes",),
        OC.NEEDS_APPROVAL: ("needs approval by a lead because the account is flagged",),
        OC.NEEDS_CONSENT: ("needs the customer's consent because the account is regulated",),
        OC.DENY: ("denied: the account has opted out of support access (no_access)",),
    }[outcome]
    return Decision(
        outcome=outcome,
        reasons=reasons,
        scopes=frozenset({"read"}),
        approvals_required=1 if outcome is OC.NEEDS_APPROVAL else 0,
        approver_roles=frozenset(),
        high_risk=False,
        consent_required=outcome is OC.NEEDS_CONSENT,
        approval_required=outcome is OC.NEEDS_APPROVAL,
        review_required=False,
        max_minutes=20,
        idle_timeout_minutes=15,
    )


#: (broker outcome, customer rule, contract, consent on file) -> outcome, words in the reasons
TABLE = [
    (OC.ALLOW, R.DEFAULT, False, False, OC.ALLOW, ""),
    (OC.ALLOW, R.CONSENT, False, False, OC.NEEDS_CONSENT, "asks for consent each time, stricter"),
    (OC.ALLOW, R.CONSENT, False, True, OC.ALLOW, "covered by the customer's consent"),
    (OC.ALLOW, R.NEVER, False, True, OC.DENY, "stricter than the broker's policy"),
    (OC.ALLOW, R.NEVER, True, False, OC.NEEDS_CONSENT, "contract requires access"),
    (OC.ALLOW, R.NEVER, True, True, OC.ALLOW, "contract requires access"),
    (OC.NEEDS_APPROVAL, R.DEFAULT, False, False, OC.NEEDS_APPROVAL, ""),
    (OC.NEEDS_APPROVAL, R.CONSENT, False, False, OC.NEEDS_CONSENT, "then needs approval"),
    (OC.NEEDS_APPROVAL, R.CONSENT, False, True, OC.NEEDS_APPROVAL, "covered by the customer's"),
    (OC.NEEDS_APPROVAL, R.NEVER, False, False, OC.DENY, "would say needs_approval"),
    (OC.NEEDS_CONSENT, R.CONSENT, False, False, OC.NEEDS_CONSENT, "each time too"),
    (OC.NEEDS_CONSENT, R.NEVER, False, False, OC.DENY, "may never reach"),
    (OC.DENY, R.DEFAULT, False, False, OC.DENY, ""),
    (OC.DENY, R.CONSENT, False, True, OC.DENY, ""),
    (OC.DENY, R.NEVER, False, False, OC.DENY, "also says support may never"),
]


@pytest.mark.parametrize(("broker", "rule", "contract", "consented", "expected", "words"), TABLE)
def test_the_stricter_policy_wins(
    broker: Outcome,
    rule: CustomerRule,
    contract: bool,
    consented: bool,
    expected: Outcome,
    words: str,
) -> None:
    customer = CustomerPolicy(
        application_id="a", account_id="b", rule=rule, contract_access=contract
    )
    result = apply_customer_policy(
        _decision(broker), customer=customer, consent=CONSENT if consented else None, request=SPEC
    )
    assert result.outcome is expected
    assert words in " | ".join(result.reasons)
    assert result.consent_required == (expected is OC.NEEDS_CONSENT)
    if expected is OC.DENY:
        assert result.approvals_required == 0


def test_no_customer_policy_changes_nothing() -> None:
    decision = _decision(OC.ALLOW)
    assert apply_customer_policy(decision, customer=None, consent=None, request=SPEC) is decision


def test_break_glass_skips_the_customers_consent_but_never_their_never() -> None:
    glass = AccessRequestSpec(
        kind=AccessKind.IMPERSONATE,
        scopes=frozenset(),
        minutes=10,
        reason_code="x",
        now=NOW,
        break_glass=True,
    )
    consent_each = CustomerPolicy(application_id="a", account_id="b", rule=R.CONSENT)
    result = apply_customer_policy(
        _decision(OC.ALLOW), customer=consent_each, consent=None, request=glass
    )
    assert result.outcome is OC.ALLOW
    assert "break-glass: consent skipped" in result.reasons[1]
    never = CustomerPolicy(application_id="a", account_id="b", rule=R.NEVER)
    assert (
        apply_customer_policy(
            _decision(OC.ALLOW), customer=never, consent=None, request=glass
        ).outcome
        is OC.DENY
    )


def _grant(**kw: object) -> Grant:
    values: dict[str, object] = {
        "id": "g",
        "application_id": "a",
        "account_id": "b",
        "granted_by": "u",
        "source": GrantSource.CUSTOMER,
        "kinds": frozenset(AccessKind),
        "scopes": grant_scopes(True),
        "read_only": True,
        "created_at": NOW,
        "expires_at": NOW + timedelta(hours=1),
    }
    values.update(kw)
    return Grant(**values)  # type: ignore[arg-type]


def test_a_grant_applies_only_to_its_case_and_staff_member_while_live() -> None:
    bound = _grant(case_id="c1", staff_id="s1")
    assert best_consent([bound], case_id="c1", staff_id="s1", request=SPEC) is not None
    assert best_consent([bound], case_id="c2", staff_id="s1", request=SPEC) is None
    assert best_consent([bound], case_id="c1", staff_id="s2", request=SPEC) is None
    revoked = _grant(revoked_at=NOW)
    expired = _grant(expires_at=NOW)
    assert best_consent([revoked, expired], case_id="c1", staff_id="s1", request=SPEC) is None


def test_the_covering_grant_is_chosen_over_a_later_narrower_one() -> None:
    write = AccessRequestSpec(
        kind=AccessKind.IMPERSONATE,
        scopes=frozenset({"write"}),
        minutes=10,
        reason_code="x",
        now=NOW,
    )
    wide = _grant(id="w", scopes=grant_scopes(False), read_only=False)
    narrow = _grant(id="n", expires_at=NOW + timedelta(hours=2))
    chosen = best_consent([narrow, wide], case_id="c", staff_id="s", request=write)
    assert chosen is not None
    assert "write" in chosen.scopes


@pytest.mark.parametrize(
    ("typed", "normal"), [("abcd-efgh", "ABCDEFGH"), ("0OIL 1234", "00111234")]
)
def test_codes_are_forgiving_of_how_they_are_typed(typed: str, normal: str) -> None:
    assert normalise_access_code(typed) == normal


@pytest.mark.parametrize("bad", ["", "ABC", "ABCDEFGHI", "ABCD-EFG!", "ABCDEFGU"])
def test_malformed_codes(bad: str) -> None:
    with pytest.raises(MalformedAccessCode):
        normalise_access_code(bad)
