"""The fast canonical encoder writes exactly the bytes of the RFC 8785 reference."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from actas.domain.audit import AuditEvent
from actas.domain.errors import InvalidInput
from actas.store.chain import canonical_bytes, prepare

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


# --- events encoded before the head is locked (store.chain.prepare) ----------------------------

_MARK_IN_DATA = 2**53 - 2  # the marker prepare() uses: an event's data may hold it too


@settings(max_examples=200, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=8), values, max_size=4),
    seq=st.integers(min_value=1, max_value=2**53 - 3),
    reason=st.none() | st.text(max_size=40),
)
def test_prepared_text_is_the_canonical_text(data: dict[str, Any], seq: int, reason: Any) -> None:
    """Splicing the sequence number into the bytes encoded before the lock gives exactly the
    bytes encoding the whole body under the lock gave."""
    try:
        event = AuditEvent("app.request", actor="s-1", reason=reason, data=data)
    except InvalidInput:
        return
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    try:
        canonical_bytes(event.body(seq=seq, event_id="x", at=now))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return  # not encodable at all (an integer beyond 2**53): refused either way
    prepared = prepare(event, now=now)
    expected = canonical_bytes(event.body(seq=seq, event_id=prepared.event_id, at=now))
    assert prepared.text(seq) == expected


def test_prepared_text_when_the_data_holds_the_marker() -> None:
    """Data that contains the marker as a nested ``seq`` member (it sorts before the top-level
    one) or as text does not move the splice."""
    now = datetime(2026, 1, 2, tzinfo=UTC)
    awkward: list[dict[str, Any]] = [
        {"seq": _MARK_IN_DATA},
        {"a": {"seq": _MARK_IN_DATA}, "seq": _MARK_IN_DATA},
        {"note": f'"seq":{_MARK_IN_DATA}'},
    ]
    for data in awkward:
        event = AuditEvent("app.request", data=data)
        prepared = prepare(event, now=now)
        for seq in (1, 42, 10**12):
            body = event.body(seq=seq, event_id=prepared.event_id, at=now)
            assert prepared.text(seq) == canonical_bytes(body)
