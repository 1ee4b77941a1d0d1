"""One spelling per email address (finding 4)."""

from __future__ import annotations

import pytest

from actas.domain.emails import canonical_email, normalise_email
from actas.domain.errors import InvalidInput

SPELLINGS = [
    "lead1@staff.test",
    " lead1@staff.test",
    "lead1@staff.test\t",
    "\u3000lead1@staff.test",  # ideographic space
    "LEAD1@Staff.Test",
    "\uff2c\uff25\uff21\uff24\uff11@staff.test",  # fullwidth LEAD1
    "lead\u200b1@staff.test",  # zero-width space
    "\u00adlead1@staff.test",  # soft hyphen
    "lead1@staff.test\u200e",  # left-to-right mark
    "lead\u0031@sta\ufb00.test".replace("\ufb00", "ff"),
    "lead1@sta\ufb00.test",  # the ff ligature
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_has_the_one_canonical_form(spelling: str) -> None:
    assert canonical_email(spelling) == "lead1@staff.test"
    assert normalise_email(spelling) == "lead1@staff.test"


def test_case_folding_goes_beyond_lower() -> None:
    assert canonical_email("STRASSE@x.test") == canonical_email("straße@x.test")


@pytest.mark.parametrize(
    "bad", ["", "   ", "no-at-sign", "two@@x.test", "a b@x.test", "a@x.test\nb@y.test", "a\x00@x"]
)
def test_what_is_not_one_plain_address_is_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_email(bad)
