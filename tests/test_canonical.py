"""The fast canonical encoder writes exactly the bytes of the RFC 8785 reference."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from actas.store.chain import canonical_bytes

scalars = st.none() | st.booleans() | st.integers() | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(), values, max_size=8))
def test_same_bytes_as_the_reference(body: dict[str, Any]) -> None:
    try:
        expected = rfc8785.dumps(body)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return  # the reference refuses it too (e.g. an integer beyond 2**53)
    assert canonical_bytes(body) == expected


def test_the_awkward_cases() -> None:
    cases: list[dict[str, Any]] = [
        {"\u20ac": 1, "\U0001f600": 2, "\uff21": 3},  # UTF-16 order differs from code points
        {"text": "line\nbreak\ttab\x00nul\x1f\u2028\u2029\x7f"},
        {"big": 2**53 - 1, "neg": -(2**53 - 1)},
        {"nested": {"b": [1, {"d": None, "c": True}], "a": "é"}},
    ]
    for body in cases:
        assert canonical_bytes(body) == rfc8785.dumps(body)
