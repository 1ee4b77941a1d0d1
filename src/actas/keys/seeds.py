"""Data keys, kept in the key file beside the signing keys, and the AES-GCM sealing of the
staff TOTP seeds with them.

A database dump alone then holds no usable seed. A sealed seed reads
``enc:v1:<kid>:<base64url(nonce || ciphertext+tag)>``; the key id and the purpose are the
associated data, so a seed cannot be moved to another key id or reused as anything else.
Sealing uses the newest data key; opening uses whichever key the value names, so rotation
(``actas keys rotate`` adds a data key with each signing key) needs no downtime, and
``actas init`` seals old seeds anew. A value without the ``enc:`` prefix is a plain base32
seed written before migration 0004: it opens as itself until it is sealed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from actas.keys.errors import KeyFileError

SEALED_PREFIX = "enc:v1:"
_PURPOSE = b"actas totp seed v1:"
_KID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}", re.ASCII)
_NONCE = 12


class SealedSeedError(Exception):
    """A sealed value names an unknown key, is malformed or was tampered with."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, repr=False)
class DataKey:
    kid: str
    key: bytes
    created_at: datetime

    def __repr__(self) -> str:
        return f"DataKey(kid={self.kid!r}, key=<hidden>)"

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": "A256GCM",
            "key": _b64url(self.key),
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> DataKey:
        try:
            entry = cls(
                kid=str(data["kid"]),
                key=_unb64url(str(data["key"])),
                created_at=datetime.fromisoformat(data["created_at"]),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise KeyFileError(f"{source}: malformed data key ({exc})") from None
        if data.get("alg") != "A256GCM" or len(entry.key) != 32 or not _KID_RE.fullmatch(entry.kid):
            raise KeyFileError(f"{source}: data key {entry.kid[:64]!r} is not a 256-bit AES key")
        return entry


def new_data_key(now: datetime) -> DataKey:
    return DataKey(kid=secrets.token_urlsafe(12), key=AESGCM.generate_key(256), created_at=now)


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED_PREFIX)


class SeedCipher:
    """Seals and opens seeds with the data keys of the live key ring."""

    def __init__(self, data_keys: Callable[[], list[DataKey]]) -> None:
        #: Oldest first, read at each call: a rotation reaches every replica without a restart.
        self._data_keys = data_keys

    def _newest(self) -> DataKey:
        keys = self._data_keys()
        if not keys:
            raise KeyFileError("the key file holds no data key; run `actas init` to add one")
        return keys[-1]

    def seal(self, seed: str) -> str:
        key = self._newest()
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(key.key).encrypt(nonce, seed.encode("ascii"), _PURPOSE + key.kid.encode())
        return f"{SEALED_PREFIX}{key.kid}:{_b64url(nonce + sealed)}"

    def open(self, stored: str) -> str:
        if not is_sealed(stored):
            return stored  # plain, from before migration 0004; sealed at the next chance
        kid, _, body = stored[len(SEALED_PREFIX) :].partition(":")
        key = next((k for k in self._data_keys() if k.kid == kid), None)
        if key is None:
            raise SealedSeedError(f"no data key {kid[:64]!r} in the key file")
        try:
            raw = _unb64url(body)
            seed = AESGCM(key.key).decrypt(raw[:_NONCE], raw[_NONCE:], _PURPOSE + kid.encode())
            return seed.decode("ascii")
        except (InvalidTag, ValueError, binascii.Error):
            raise SealedSeedError(f"a seed sealed with data key {kid!r} does not open") from None

    def is_current(self, stored: str) -> bool:
        return is_sealed(stored) and stored.startswith(f"{SEALED_PREFIX}{self._newest().kid}:")
