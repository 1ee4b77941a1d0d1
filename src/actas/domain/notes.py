"""Checkpoints as C2SP signed notes (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note).

A checkpoint's text is three lines: the log's origin, the tree size in decimal, and the tree's
root hash in standard base64. The signed note adds a blank line and one signature line per key:
an em dash, a space, the key name, a space, and base64 of the 4-byte key ID followed by the
Ed25519 signature of the text. The key ID of an Ed25519 key is the first four bytes of
``SHA-256(key name || 0x0A || 0x01 || 32-byte public key)``. Any tool that reads C2SP
checkpoints (a witness, a customer's verifier) reads ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass

from actas.domain.errors import InvalidInput

ED25519 = 0x01
_DASH = "\u2014 "


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    if not origin or any(c in origin for c in "\n\r") or origin != origin.strip():
        raise ValueError("a checkpoint origin is one line of text")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_line(name: str, key: bytes, signature: bytes) -> str:
    return f"{_DASH}{name} {base64.b64encode(key + signature).decode()}\n"


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class SignedCheckpoint:
    """A parsed, not yet verified, checkpoint note."""

    note: str
    text: str
    origin: str
    size: int
    root: bytes
    signatures: tuple[NoteSignature, ...]


def parse(note: str) -> SignedCheckpoint:
    """Split a signed checkpoint note into its text, fields and signatures; raise
    :class:`InvalidInput` naming what is malformed. Signatures are not checked here."""
    text, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise InvalidInput("checkpoint note has no blank line before its signatures")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise InvalidInput("checkpoint note text has fewer than three lines")
    origin, size_text, root_text = lines[:3]
    if not size_text.isdigit() or (size_text.startswith("0") and size_text != "0"):
        raise InvalidInput(f"checkpoint tree size {size_text!r} is not a decimal number")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise InvalidInput("checkpoint root hash is not base64") from exc
    if len(root) != 32:
        raise InvalidInput("checkpoint root hash is not 32 bytes")
    signatures = []
    for line in sigs[:-1].split("\n"):
        if not line.startswith(_DASH):
            raise InvalidInput("checkpoint signature line does not start with an em dash")
        name, _, blob = line[len(_DASH) :].rpartition(" ")
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as exc:
            raise InvalidInput("checkpoint signature is not base64") from exc
        if not name or len(raw) < 5:
            raise InvalidInput("checkpoint signature line is malformed")
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return SignedCheckpoint(
        note=note,
        text=text,
        origin=origin,
        size=int(size_text),
        root=root,
        signatures=tuple(signatures),
    )


def witness_line(note: str, kid: str) -> str:
    """One line of a witness file: the signed note and the broker's key id for it."""
    return json.dumps({"note": note, "kid": kid}, ensure_ascii=False) + "\n"


def read_witness(text: str) -> list[tuple[str, str]]:
    """``(note, kid)`` pairs of a witness file, oldest first; a malformed line is an error."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            note, kid = item["note"], item["kid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(f"witness file line {number} is not a witnessed checkpoint") from exc
        if not isinstance(note, str) or not isinstance(kid, str):
            raise InvalidInput(f"witness file line {number} is not a witnessed checkpoint")
        found.append((note, kid))
    return found
