"""The [alerts] table of the policy file: defaults, overrides, switches, and errors with lines."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from actas.domain.alerts import AlertRule, AlertRules
from actas.policy_file import DEFAULT_POLICY_PATH, PolicyError, load_policy_text

SHIPPED = DEFAULT_POLICY_PATH.read_text()
#: The shipped policy without its [alerts] tables, so a test can write its own.
BASE = SHIPPED[: SHIPPED.index("# Anomaly alerts")]


def load(extra: str) -> AlertRules:
    return load_policy_text(BASE + "\n" + extra, source="policy.toml").alerts


def test_the_shipped_policy_keeps_the_defaults() -> None:
    assert load_policy_text(SHIPPED, source="shipped").alerts == AlertRules()
    assert load("") == AlertRules()
    assert AlertRules().sessions_per_account == 5
    assert AlertRules().staff_share_percent == 80
    assert AlertRules().staff_share_window == timedelta(days=90)


def test_thresholds_windows_and_switches() -> None:
    rules = load(
        """
[alerts.sessions_per_account]
max_sessions = 3
window_hours = 12

[alerts.outside_hours]
start = "07:30"
end = "19:00"
days = ["mon", "tue", "sat"]
timezone = "Europe/Berlin"

[alerts.fast_approval]
min_seconds = 45

[alerts.no_ticket]
enabled = false
"""
    )
    assert (rules.sessions_per_account, rules.sessions_window) == (3, timedelta(hours=12))
    assert rules.working_hours.start == time(7, 30)
    assert rules.working_hours.days == frozenset({0, 1, 5})
    assert rules.working_hours.zone == "Europe/Berlin"
    assert rules.fast_approval == timedelta(seconds=45)
    assert not rules.on(AlertRule.NO_TICKET)
    assert rules.on(AlertRule.BREAK_GLASS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[alerts.sesions_per_account]\nmax_sessions = 3", "did you mean sessions_per_account"),
        ("[alerts.staff_share]\nmax_percent = 101", "at most 100"),
        ("[alerts.staff_share]\nmax_percnt = 90", "did you mean max_percent"),
        ('[alerts.outside_hours]\nstart = "25:00"', "must be HH:MM"),
        ('[alerts.outside_hours]\ndays = ["funday"]', "funday"),
        ('[alerts.outside_hours]\ntimezone = "Mars/Base"', "unknown"),
        ('[alerts.break_glass]\nenabled = "no"', "true or false"),
        ("[alerts.denied_requests]\ncount = 0", "positive integer"),
    ],
)
def test_mistakes_are_refused_with_their_line(extra: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load(extra)
    assert message in str(caught.value)
    assert caught.value.line is not None
    assert caught.value.line > BASE.count("\n")
