"""The one ownership rule for cases and sessions, as a truth table."""

from __future__ import annotations

import itertools

import pytest

from actas.domain.access import REVOKERS, may_act_on
from actas.domain.roles import Role

OWNER = "staff-owner"
OTHER = "staff-other"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("is_owner", [True, False])
def test_owner_or_a_revoking_role_and_nobody_else(role: Role, is_owner: bool) -> None:
    allowed = may_act_on(
        staff_id=OWNER if is_owner else OTHER, roles=frozenset({role}), owner_id=OWNER
    )
    assert allowed is (is_owner or role in {Role.LEAD, Role.SECURITY, Role.ADMIN})


def test_no_roles_at_all_is_only_the_owner() -> None:
    assert may_act_on(staff_id=OWNER, roles=frozenset(), owner_id=OWNER)
    assert not may_act_on(staff_id=OTHER, roles=frozenset(), owner_id=OWNER)


def test_any_combination_holding_a_revoking_role_may_act() -> None:
    for size in range(1, len(Role) + 1):
        for combo in itertools.combinations(list(Role), size):
            roles = frozenset(combo)
            assert may_act_on(staff_id=OTHER, roles=roles, owner_id=OWNER) is bool(roles & REVOKERS)
