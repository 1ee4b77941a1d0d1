"""Minting actor tokens (DESIGN.md contract): EdDSA JWS, ``typ: at+jwt``, RFC 8693 ``act``.

PyJWT does the JOSE work; this module only decides the claims. Nothing personal goes in:
no reason text, no email, no display name.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import jwt

from actas.domain.access import TOKEN_TTL, MintedToken
from actas.domain.errors import NoTimeLeft
from actas.keys.keyring import KeyRing, KeySource

TOKEN_TYPE = "at+jwt"
ALGORITHM = "EdDSA"


def mint_actor_token(
    ring: KeyRing,
    *,
    issuer: str,
    audience: str,
    subject: str,
    actor: str,
    session_id: str,
    scopes: tuple[str, ...],
    account: str,
    kind: str,
    now: datetime,
    not_after: datetime,
    ttl: timedelta = TOKEN_TTL,
) -> MintedToken:
    """Sign a token valid from ``now`` for ``ttl`` (at most five minutes), never past
    ``not_after`` (the session's hard expiry)."""
    if kind not in ("assist", "impersonate"):
        raise ValueError(f"kind must be assist or impersonate, got {kind!r}")
    if ttl > TOKEN_TTL:
        raise ValueError(f"actor tokens live at most {TOKEN_TTL}, asked for {ttl}")
    key = ring.signing_key(now)
    issued = int(now.timestamp())
    expires = min(issued + int(ttl.total_seconds()), int(not_after.timestamp()))
    if expires <= issued:
        raise NoTimeLeft("the session has ended (expired): no time is left for a token")
    jti = str(uuid.uuid4())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "act": {"sub": actor},
        "sid": session_id,
        "scope": " ".join(scopes),
        "acct": account,
        # In assist the app keeps the staff member as themselves (DESIGN.md).
        "kind": kind,
        "iat": issued,
        "nbf": issued,
        "exp": expires,
        "jti": jti,
    }
    token = jwt.encode(
        claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )
    return MintedToken(
        token=token, jti=jti, expires_at=datetime.fromtimestamp(expires, tz=now.tzinfo)
    )


class KeyRingMinter:
    """The :class:`~actas.domain.ports.ActorTokenMinter` of a running broker."""

    def __init__(self, keys: KeySource, *, issuer: str) -> None:
        self.keys = keys
        self.issuer = issuer

    def mint(
        self,
        *,
        audience: str,
        subject: str,
        actor: str,
        session_id: str,
        scopes: tuple[str, ...],
        account: str,
        kind: str,
        now: datetime,
        not_after: datetime,
    ) -> MintedToken:
        return mint_actor_token(
            self.keys.ring(),
            issuer=self.issuer,
            audience=audience,
            subject=subject,
            actor=actor,
            session_id=session_id,
            scopes=scopes,
            account=account,
            kind=kind,
            now=now,
            not_after=not_after,
        )
