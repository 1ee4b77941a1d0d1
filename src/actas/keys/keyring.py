"""Ed25519 signing keys kept in a key file (mode 0600) or a directory of key files, with the
AES data keys that seal the staff TOTP seeds (``actas.keys.seeds``) beside them.

Rotation adds a key that is published at once but signs only after a grace period, so every
SDK has fetched it before it sees a token signed with it. The key it replaces stays published
until every token it signed has expired, then it is retired: no longer published, but kept so
that old audit checkpoints still verify. Each rotation adds a data key too: seeds are sealed
with the newest and open with any, so data keys are never dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from actas.domain.access import TOKEN_TTL
from actas.domain.clock import Clock
from actas.keys.errors import KeyFileError as KeyFileError
from actas.keys.seeds import DataKey, new_data_key

#: Actor tokens live at most this long (DESIGN.md); a superseded key stays published this long.
#: A new key is published this long before it starts signing.
DEFAULT_GRACE = timedelta(minutes=10)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def thumbprint(public: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: a ``kid`` that names the key and nothing else."""
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": _b64url(public_raw(public))},
        separators=(",", ":"),
        sort_keys=True,
    )
    return _b64url(hashlib.sha256(members.encode("ascii")).digest())


@dataclass(frozen=True)
class KeyEntry:
    kid: str
    private: Ed25519PrivateKey
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def to_json(self) -> dict[str, Any]:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        raw = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return {
            "kid": self.kid,
            "alg": "EdDSA",
            "private_key": _b64url(raw),
            "created_at": self.created_at.isoformat(),
            "activates_at": self.activates_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> KeyEntry:
        try:
            private = Ed25519PrivateKey.from_private_bytes(_unb64url(data["private_key"]))
            retired = data.get("retired_at")
            entry = cls(
                kid=str(data["kid"]),
                private=private,
                created_at=datetime.fromisoformat(data["created_at"]),
                activates_at=datetime.fromisoformat(data["activates_at"]),
                retired_at=datetime.fromisoformat(retired) if retired else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyFileError(f"{source}: malformed key entry ({exc})") from None
        if entry.kid != thumbprint(entry.public):
            raise KeyFileError(f"{source}: kid {entry.kid!r} does not match its key")
        return entry


class KeyRing:
    """An immutable set of keys, oldest first."""

    def __init__(self, keys: list[KeyEntry], data_keys: list[DataKey] | None = None) -> None:
        if not keys:
            raise KeyFileError("the key ring is empty")
        self.keys = sorted(keys, key=lambda k: (k.activates_at, k.created_at))
        self._by_kid = {k.kid: k for k in self.keys}
        #: Oldest first; the newest seals.
        self.data_keys = sorted(data_keys or [], key=lambda k: k.created_at)

    def signing_key(self, now: datetime) -> KeyEntry:
        active = [k for k in self.keys if k.activates_at <= now and k.retired_at is None]
        if not active:
            raise KeyFileError("no key is active yet")
        return active[-1]

    def published(self, now: datetime) -> list[KeyEntry]:
        """Keys an SDK must know: the signing key, keys about to sign, and superseded keys whose
        tokens may still be alive."""
        current = self.signing_key(now)
        shown = []
        for index, key in enumerate(self.keys):
            if key.retired_at is not None:
                continue
            if key is current or key.activates_at > now:
                shown.append(key)
                continue
            successor = next((k for k in self.keys[index + 1 :] if k.activates_at <= now), None)
            if successor is None or successor.activates_at + TOKEN_TTL > now:
                shown.append(key)
        return shown

    def get(self, kid: str) -> KeyEntry | None:
        return self._by_kid.get(kid)

    def jwks(self, now: datetime) -> dict[str, Any]:
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64url(public_raw(k.public)),
                    "kid": k.kid,
                    "alg": "EdDSA",
                    "use": "sig",
                }
                for k in self.published(now)
            ]
        }


def new_entry(now: datetime, *, activates_at: datetime | None = None) -> KeyEntry:
    private = Ed25519PrivateKey.generate()
    return KeyEntry(
        kid=thumbprint(private.public_key()),
        private=private,
        created_at=now,
        activates_at=activates_at or now,
    )


def _write_private(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically with mode 0600 from the first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".actas-key-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(path: Path) -> KeyRing:
    """Read a key file, or every ``*.json`` file of a key directory."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    entries: list[KeyEntry] = []
    data_keys: list[DataKey] = []
    for file in files:
        try:
            mode = file.stat().st_mode & 0o777
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyFileError(f"ACTAS_KEY_FILE={str(file)!r} does not exist") from None
        except (OSError, ValueError) as exc:
            raise KeyFileError(f"ACTAS_KEY_FILE={str(file)!r} cannot be read: {exc}") from None
        if mode & 0o077:
            raise KeyFileError(
                f"ACTAS_KEY_FILE={str(file)!r} is readable by others (mode {mode:o}); chmod 600"
            )
        items = data.get("keys", [data]) if isinstance(data, dict) else None
        sealing = data.get("data_keys", []) if isinstance(data, dict) else None
        if not isinstance(items, list) or not isinstance(sealing, list):
            raise KeyFileError(f"{file}: expected an object with a 'keys' list")
        entries.extend(KeyEntry.from_json(item, file) for item in items)
        data_keys.extend(DataKey.from_json(item, file) for item in sealing)
    if not entries:
        raise KeyFileError(f"ACTAS_KEY_FILE={str(path)!r} holds no key")
    return KeyRing(entries, data_keys)


DATA_KEYS_FILE = "data-keys.json"


def save(path: Path, ring: KeyRing) -> None:
    data_keys = [k.to_json() for k in ring.data_keys]
    if path.is_dir():
        for key in ring.keys:
            _write_private(path / f"{key.kid}.json", key.to_json())
        if data_keys:
            _write_private(
                path / DATA_KEYS_FILE, {"version": 1, "keys": [], "data_keys": data_keys}
            )
        return
    _write_private(
        path, {"version": 1, "keys": [k.to_json() for k in ring.keys], "data_keys": data_keys}
    )


def ensure(path: Path, now: datetime) -> tuple[KeyRing, bool]:
    """Load the key file, creating it with one signing key and one data key on first start.
    A key file from before data keys gets its first one. Returns (ring, created)."""
    if path.exists() and not (path.is_dir() and not any(path.glob("*.json"))):
        ring = load(path)
        if not ring.data_keys:
            ring = KeyRing(ring.keys, [new_data_key(now)])
            save(path, ring)
        return ring, False
    ring = KeyRing([new_entry(now)], [new_data_key(now)])
    save(path, ring)
    return ring, True


def rotate(path: Path, now: datetime, *, grace: timedelta = DEFAULT_GRACE) -> KeyEntry:
    """Add a key that signs after ``grace``; retire keys whose tokens have all expired."""
    ring = load(path)
    fresh = new_entry(now, activates_at=now + grace)
    keys = [*ring.keys, fresh]
    interim = KeyRing(keys)
    still_published = {k.kid for k in interim.published(now)}
    keys = [
        k if k.kid in still_published or k.retired_at else replace(k, retired_at=now) for k in keys
    ]
    save(path, KeyRing(keys, [*ring.data_keys, new_data_key(now)]))
    return fresh


class KeySource:
    """The live key ring of a running broker: re-reads the file when it changes on disk, so a
    rotation reaches every replica sharing the file without a restart."""

    def __init__(self, path: Path, clock: Clock, *, recheck_seconds: float = 1.0) -> None:
        self.path = path
        self.clock = clock
        self.recheck_seconds = recheck_seconds
        self._lock = threading.Lock()
        self._ring = load(path)
        self._stamp = self._mtime()
        self._checked = time.monotonic()

    def _mtime(self) -> tuple[tuple[int, int, int], ...]:
        """What changes whenever a key file is replaced: saves go through os.replace, so the
        inode changes even when the modification time does not (coarse clocks, copies)."""
        files = sorted(self.path.glob("*.json")) if self.path.is_dir() else [self.path]
        stats = (f.stat() for f in files)
        return tuple((s.st_ino, s.st_mtime_ns, s.st_size) for s in stats)

    def ring(self) -> KeyRing:
        if time.monotonic() - self._checked >= self.recheck_seconds:
            with self._lock:
                self._checked = time.monotonic()
                stamp = self._mtime()
                if stamp != self._stamp:
                    self._ring = load(self.path)
                    self._stamp = stamp
        return self._ring

    def data_keys(self) -> list[DataKey]:
        return self.ring().data_keys

    def sign(self, message: bytes) -> tuple[str, bytes]:
        key = self.ring().signing_key(self.clock())
        return key.kid, key.private.sign(message)

    def public_key(self, kid: str) -> bytes | None:
        key = self.ring().get(kid)
        return public_raw(key.public) if key is not None else None

    def verify(self, kid: str, message: bytes, signature: bytes) -> bool:
        key = self.ring().get(kid)
        if key is None:
            return False
        try:
            key.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True
