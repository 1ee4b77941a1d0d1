"""Opaque bearer secrets: random, prefixed for secret scanners, stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

#: Prefixes make a leaked secret easy to recognise in a repository or a log.
STAFF_SESSION_PREFIX = "actas_st_"
APP_CREDENTIAL_PREFIX = "actas_ak_"
HANDOFF_PREFIX = "actas_hc_"
REFRESH_PREFIX = "actas_rh_"

MAX_TOKEN_LENGTH = 256


def new_token(prefix: str) -> str:
    """256 bits from the OS generator, behind a readable prefix."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """SHA-256 is enough for 256-bit random secrets (no dictionary to attack)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like(token: str, prefix: str) -> bool:
    return len(token) <= MAX_TOKEN_LENGTH and token.startswith(prefix)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
