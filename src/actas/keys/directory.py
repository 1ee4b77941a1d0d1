"""The :class:`~actas.domain.ports.KeyDirectory` of a running broker: its key file, as the
services see it (JWKS, a checkpoint's public key, rotation, a listing)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from actas.domain.ports import KeyInfo
from actas.keys import keyring
from actas.keys.keyring import KeySource, public_raw


class KeyFileDirectory:
    def __init__(self, source: KeySource, path: Path) -> None:
        self.source = source
        self.path = path

    def jwks(self, now: datetime) -> dict[str, Any]:
        return self.source.ring().jwks(now)

    def public_jwk(self, kid: str) -> dict[str, Any] | None:
        key = self.source.ring().get(kid)
        if key is None:
            return None
        x = base64.urlsafe_b64encode(public_raw(key.public)).rstrip(b"=").decode()
        return {"kty": "OKP", "crv": "Ed25519", "kid": key.kid, "x": x}

    def rotate(self, now: datetime, *, grace: timedelta) -> KeyInfo:
        fresh = keyring.rotate(self.path, now, grace=grace)
        state = "pending" if fresh.activates_at > now else "signing"
        return KeyInfo(kid=fresh.kid, state=state, activates_at=fresh.activates_at)

    def describe(self, now: datetime) -> list[KeyInfo]:
        ring = self.source.ring()
        published = {k.kid for k in ring.published(now)}
        signing = ring.signing_key(now).kid
        return [
            KeyInfo(
                kid=key.kid,
                state=(
                    "signing"
                    if key.kid == signing
                    else "pending"
                    if key.activates_at > now
                    else "published"
                    if key.kid in published
                    else "retired"
                ),
                activates_at=key.activates_at,
            )
            for key in ring.keys
        ]
