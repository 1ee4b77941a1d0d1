"""The customer's side, pure rules: break-glass is always told; tokens of one kind are refused
for another; durations read as words."""

from __future__ import annotations

import pytest

from actas.domain.customer import (
    ActionKind,
    MalformedActionToken,
    Notice,
    check_action_token,
    describe_duration,
    mandatory,
    new_action_token,
)
from actas.domain.policy_rules import Policy


def test_break_glass_is_told_even_when_the_policy_lists_no_notice() -> None:
    assert mandatory(frozenset()) == {Notice.BREAK_GLASS}
    assert Notice.SESSION_STARTED in mandatory(frozenset({Notice.SESSION_STARTED}))


def test_the_default_policy_tells_the_customer_everything() -> None:
    assert set(Policy.__dataclass_fields__["customer_notices"].default) == set(Notice)  # type: ignore[arg-type]


def test_a_kill_switch_token_is_not_an_answer_token() -> None:
    token = new_action_token(ActionKind.END_SESSION)
    assert check_action_token(token, ActionKind.END_SESSION) == token
    with pytest.raises(MalformedActionToken):
        check_action_token(token, ActionKind.CONFIRM_FIX)
    with pytest.raises(MalformedActionToken):
        check_action_token(token[:-1], ActionKind.END_SESSION)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(40, "40 seconds"), (60, "1 minute"), (3900, "1 hour 5 minutes"), (-5, "0 seconds")],
)
def test_durations_read_as_words(seconds: int, words: str) -> None:
    assert describe_duration(seconds) == words
