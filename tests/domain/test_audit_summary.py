"""`actas audit verify` prints VerifyReport.summary(): counts follow English plural rules."""

from __future__ import annotations

import pytest

from actas.domain.audit import VerifyReport


@pytest.mark.parametrize(
    ("events", "checkpoints", "expected"),
    [
        (1, 1, "audit log OK: 1 event chained, 1 checkpoint verified"),
        (0, 0, "audit log OK: 0 events chained, 0 checkpoints verified"),
        (35, 3, "audit log OK: 35 events chained, 3 checkpoints verified"),
        (2, 1, "audit log OK: 2 events chained, 1 checkpoint verified"),
    ],
)
def test_an_untouched_log_counts_in_the_singular_and_plural(
    events: int, checkpoints: int, expected: str
) -> None:
    assert VerifyReport(ok=True, events=events, checkpoints=checkpoints).summary() == expected


def test_a_damaged_log_counts_what_was_good_before_it() -> None:
    one = VerifyReport(
        ok=False, events=1, checkpoints=0, first_bad_seq=2, problem="edited", detail="seq 2 differs"
    )
    assert one.summary().endswith("[1 event and 0 checkpoints were good before it]")
    single = VerifyReport(
        ok=False, events=0, checkpoints=1, first_bad_seq=1, problem="edited", detail="x"
    )
    assert single.summary().endswith("[0 events and 1 checkpoint were good before it]")
