"""C2SP checkpoint notes: what is written parses back, and every malformed part is refused."""

from __future__ import annotations

import base64

import pytest

from actas.domain import notes
from actas.domain.errors import InvalidInput

ROOT = bytes(range(32))


def _note(text: str = "", sig: bytes = b"\x01\x02\x03\x04" + bytes(64)) -> str:
    text = text or notes.checkpoint_text("log.test/audit", 7, ROOT)
    return text + "\n" + notes.sign_line("log.test/audit", sig[:4], sig[4:])


def test_a_note_parses_back() -> None:
    parsed = notes.parse(_note())
    assert (parsed.origin, parsed.size, parsed.root) == ("log.test/audit", 7, ROOT)
    assert parsed.text == "log.test/audit\n7\n" + base64.b64encode(ROOT).decode() + "\n"
    assert parsed.signatures[0].key_id == b"\x01\x02\x03\x04"
    assert len(notes.key_id("log.test/audit", bytes(32))) == 4


@pytest.mark.parametrize(
    ("note", "needle"),
    [
        ("log\n7\nAAAA\n", "blank line"),
        ("log\n7\n\n\u2014 log AAAAAAAA\n", "three lines"),
        ("log\n07\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 log AAAAAAAA\n", "decimal"),
        ("log\n7\n!!\n\n\u2014 log AAAAAAAA\n", "not base64"),
        ("log\n7\nAAAA\n\n\u2014 log AAAAAAAA\n", "32 bytes"),
        ("log\n7\n" + base64.b64encode(ROOT).decode() + "\n\n- log AAAAAAAA\n", "em dash"),
        ("log\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 log !!\n", "not base64"),
        ("log\n7\n" + base64.b64encode(ROOT).decode() + "\n\n\u2014 log AAAA\n", "malformed"),
    ],
)
def test_malformed_notes_are_refused(note: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        notes.parse(note)


def test_origin_must_be_one_line() -> None:
    with pytest.raises(ValueError, match="one line"):
        notes.checkpoint_text("a\nb", 1, ROOT)


def test_witness_file_lines() -> None:
    text = notes.witness_line("n1", "k1") + "\n" + notes.witness_line("n2", "k2")
    assert notes.read_witness(text) == [("n1", "k1"), ("n2", "k2")]
    for bad in ("{", '{"note": 1, "kid": "k"}', '{"note": "n"}'):
        with pytest.raises(InvalidInput, match="line 1"):
            notes.read_witness(bad)
