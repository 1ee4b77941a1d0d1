"""Offline verification of actor tokens against the broker's JWKS.

Two explicit steps, as RFC 8725 asks: the signature (PyJWT's ``EdDSA`` algorithm, fixed here
and never read from the header, with a key object chosen by ``kid`` from the broker's key
set), then every claim against the injected clock. The header's ``jku``, ``x5u`` and ``jwk``
are never consulted; the ``kid`` only indexes an in-memory dict. Tokens longer than
``max_token_bytes`` are refused before anything is decoded.

The compact serialization is split and decoded here, strictly (base64url without padding,
C decoder): PyJWT 2.15's ``PyJWS.decode`` checks every character of every segment in a Python
loop, which costs as much as the Ed25519 verification itself (~100 us a token, measured by
``bench/sdk_overhead.py``). Only that parsing moved; PyJWT still does the signature check.
"""

from __future__ import annotations

import binascii
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwt.algorithms import get_default_algorithms

from actas_sdk import errors
from actas_sdk.context import ImpersonationContext

ALGORITHM = "EdDSA"
TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
_MAX_ID = 256
_MAX_KID = 128
#: after a failed JWKS fetch with no key at all, try again this soon
_EMPTY_RETRY_SECONDS = 1.0


#: PyJWT's EdDSA algorithm: the one and only, whatever a header says.
_EDDSA = get_default_algorithms()[ALGORITHM]


#: session id -> (the session's hard expiry, the staff member's name, the customer's name)
SessionDetails = Callable[[str], tuple[datetime, str | None, str | None]]


class NeedsIO(Exception):
    """Internal: the answer needs a call to the broker, which the caller may not block on."""


#: The value of each base64url character, for the canonical-spelling check below.
_B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {c: i for i, c in enumerate(_B64URL)}
_URL_TO_STANDARD = bytes.maketrans(b"-_", b"+/")
#: After 2 or 3 characters of a final group, these low bits of the last one carry no data.
_UNUSED_BITS = {2: 0x0F, 3: 0x03}


def b64decode(segment: str) -> bytes:
    """Strict base64url (RFC 7515 section 2): the URL alphabet only, no padding, and the
    unused low bits of the last character zero. One token then has exactly one spelling, so a
    respelt token is not a second valid token (the cache, logs and any other verifier see
    the same string the broker signed)."""
    if "=" in segment:
        raise errors.MalformedToken("a token segment carries base64 padding")
    if "+" in segment or "/" in segment:
        raise errors.MalformedToken("a token segment is not base64url (+ or / in it)")
    unused = _UNUSED_BITS.get(len(segment) % 4)
    if unused is not None and _VALUE.get(segment[-1], 0) & unused:
        raise errors.MalformedToken("a token segment is not canonical base64url")
    try:
        data = segment.encode("ascii").translate(_URL_TO_STANDARD)
        # strict_mode: any character outside the alphabet is an error, not skipped
        return binascii.a2b_base64(data + b"=" * (-len(segment) % 4), strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise errors.MalformedToken("a token segment is not base64url") from exc


class _DuplicateMember(ValueError):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object hook that refuses a member named twice: parsers disagree on which one
    wins (Python keeps the last, others the first), and a token must mean one thing."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _DuplicateMember
    return value


_DECODER = json.JSONDecoder(object_pairs_hook=_unique)


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(raw.decode())
    except _DuplicateMember as exc:
        raise errors.MalformedToken(f"the token {what} names a member twice") from exc
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.MalformedToken(f"the token {what} is not JSON") from exc
    if not isinstance(value, dict):
        raise errors.MalformedToken(f"the token {what} is not a JSON object")
    return value


def parse_jwks(document: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 signing keys of a JWKS, by ``kid``; anything else is skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise errors.BrokerError("the JWKS has no keys list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if (
            entry.get("kty") != "OKP"
            or entry.get("crv") != "Ed25519"
            or entry.get("alg", ALGORITHM) != ALGORITHM
            or entry.get("use", "sig") != "sig"
            or not isinstance(kid, str)
            or not 0 < len(kid) <= _MAX_KID
            or not isinstance(x, str)
        ):
            continue
        try:
            raw = b64decode(x)
            keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
        except (errors.MalformedToken, ValueError):
            continue
    return keys


def claims_to_be_actor_token(token: str, issuer: str) -> bool:
    """Whether a Bearer credential claims to be an actor token (then it must verify): its
    header says ``typ: at+jwt`` or its payload names our issuer. Anything else belongs to
    the application's own API authentication."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 65536:
        return False
    try:
        header = json_object(b64decode(parts[0]), "header")
        typ = header.get("typ")
        if isinstance(typ, str) and typ.lower() in TOKEN_TYPES:
            return True
        return json_object(b64decode(parts[1]), "payload").get("iss") == issuer
    except errors.ActAsError:
        return False


class KeySet:
    """The broker's public keys: fetched once, refetched on an unknown ``kid`` at most once
    per ``min_interval`` seconds (so a flood of made-up ``kid`` values cannot flood the
    broker)."""

    def __init__(
        self,
        fetch: Callable[[], Mapping[str, Any]],
        *,
        clock: Callable[[], float],
        min_interval: float,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._min_interval = min_interval
        self._keys: dict[str, Ed25519PublicKey] = {}
        self._last_attempt: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def may_refresh(self) -> bool:
        last = self._last_attempt
        if last is None:
            return True
        wait = self._min_interval if self._keys else _EMPTY_RETRY_SECONDS
        return self._clock() - last >= wait

    def refresh(self) -> bool:
        """Fetch the key set if allowed now; True if a fetch happened and succeeded."""
        with self._lock:
            if not self.may_refresh():
                return False
            self._last_attempt = self._clock()
            self._keys = parse_jwks(self._fetch())
            return True


@dataclass(frozen=True, slots=True)
class Verified:
    """A verified token as cached: the context plus its raw times."""

    context: ImpersonationContext
    exp: float
    nbf: float


def _text(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise errors.MissingClaim(name, "is missing or not a non-empty string")
    if len(value) > _MAX_ID:
        raise errors.MissingClaim(name, f"is longer than {_MAX_ID} characters")
    return value


def _time(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise errors.MissingClaim(name, "is missing or not a number")
    return float(value)


def _actors(act: object) -> tuple[str, ...]:
    chain: list[str] = []
    while act is not None:
        if not isinstance(act, dict):
            raise errors.MissingClaim("act", "is not an object")
        sub = act.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > _MAX_ID:
            raise errors.MissingClaim("act.sub")
        chain.append(sub)
        if len(chain) > 8:
            raise errors.MissingClaim("act", "nests deeper than 8 actors")
        act = act.get("act")
    if not chain:
        raise errors.MissingClaim("act.sub")
    return tuple(chain)


class Verifier:
    """Checks one token completely; see the module docstring for the rules."""

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        leeway: float,
        max_lifetime: float,
        max_bytes: int,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.max_bytes = max_bytes

    def header(self, token: str) -> dict[str, Any]:
        """The checked header (size, shape, ``alg``, ``typ``); no key is touched yet."""
        if len(token) > self.max_bytes:
            raise errors.TokenTooLarge(len(token), self.max_bytes)
        if not token.isascii():
            raise errors.MalformedToken("the token is not ASCII")
        parts = token.split(".")
        if len(parts) != 3:
            raise errors.MalformedToken(f"a JWS has 3 segments, this has {len(parts)}")
        header = json_object(b64decode(parts[0]), "header")
        alg = header.get("alg")
        if alg != ALGORITHM:
            raise errors.WrongAlgorithm(alg)
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in TOKEN_TYPES:
            raise errors.WrongType(typ)
        if "crit" in header or "b64" in header:
            raise errors.MalformedToken("critical header extensions are not supported")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= _MAX_KID:
            raise errors.UnknownKey(kid)
        return header

    def verify(
        self,
        token: str,
        now: float,
        *,
        via: str = "cookie",
        allow_io: bool = True,
        check_exp: bool = True,
        session_expires_at: datetime | None = None,
        session_details: SessionDetails | None = None,
    ) -> Verified:
        """The verified token, or a :class:`~actas_sdk.errors.TokenError` saying why not.

        ``session_details(session_id)``, called once every claim has passed, gives the
        session's hard expiry and names (from the cookie's sealed part) for the context.

        Raises :class:`NeedsIO` when the ``kid`` is unknown, a JWKS refetch is allowed and
        ``allow_io`` is False; the caller retries where it may block."""
        header = self.header(token)
        kid: str = header["kid"]
        key = self.keys.get(kid)
        if key is None and self.keys.may_refresh():
            if not allow_io:
                raise NeedsIO
            self.keys.refresh()
            key = self.keys.get(kid)
        if key is None:
            raise errors.UnknownKey(kid)
        signing_input, _, signature = token.rpartition(".")
        if not _EDDSA.verify(signing_input.encode(), key, b64decode(signature)):
            raise errors.BadSignature("the signature does not verify")
        payload = signing_input.partition(".")[2]
        claims = json_object(b64decode(payload), "payload")
        return self.check_claims(
            claims,
            now,
            token=token,
            via=via,
            check_exp=check_exp,
            session_expires_at=session_expires_at,
            session_details=session_details,
        )

    def check_claims(
        self,
        claims: Mapping[str, Any],
        now: float,
        *,
        token: str,
        via: str,
        check_exp: bool = True,
        session_expires_at: datetime | None = None,
        session_details: SessionDetails | None = None,
    ) -> Verified:
        issuer = claims.get("iss")
        if issuer != self.issuer:
            raise errors.WrongIssuer(issuer, self.issuer)
        audience = claims.get("aud")
        if audience != self.audience:  # a list, even one naming us, is refused
            raise errors.WrongAudience(audience, self.audience)
        exp, nbf, iat = _time(claims, "exp"), _time(claims, "nbf"), _time(claims, "iat")
        if check_exp and exp <= now - self.leeway:
            raise errors.TokenExpired(exp, now, self.leeway)
        if nbf > now + self.leeway:
            raise errors.TokenNotYetValid("nbf", nbf, now, self.leeway)
        if iat > now + self.leeway:
            raise errors.TokenNotYetValid("iat", iat, now, self.leeway)
        if exp - iat > self.max_lifetime:
            raise errors.LifetimeTooLong(exp - iat, int(self.max_lifetime))
        actors = _actors(claims.get("act"))
        scope = claims.get("scope", "")
        if not isinstance(scope, str) or len(scope) > 2000:
            raise errors.MissingClaim("scope", "is not a string of at most 2000 characters")
        kind = claims.get("kind")
        if kind not in KINDS:
            # Fail closed: a token that does not say which kind it is gets nothing.
            raise errors.MissingClaim("kind", "must be assist or impersonate")
        subject, account = _text(claims, "sub"), _text(claims, "acct")
        session_id, token_id = _text(claims, "sid"), _text(claims, "jti")
        actor_name = subject_name = None
        if session_details is not None:
            session_expires_at, actor_name, subject_name = session_details(session_id)
        context = ImpersonationContext(
            kind=str(kind),
            subject=subject,
            account=account,
            actor=actors[0],
            session_id=session_id,
            scopes=frozenset(scope.split()),
            expires_at=datetime.fromtimestamp(exp, UTC),
            token_id=token_id,
            session_expires_at=session_expires_at,
            actor_name=actor_name,
            subject_name=subject_name,
            actors=actors,
            via=via,
            token=token,
        )
        return Verified(context=context, exp=exp, nbf=nbf)


#: The ``kind`` claim's values (DESIGN.md).
KINDS = ("assist", "impersonate")

V = TypeVar("V")


class TokenCache(Generic[V]):
    """Verified tokens by their exact string until ``exp`` (plus leeway): a bounded LRU.

    Only successes are cached, so a flood of bad tokens cannot push good ones out faster
    than verifying them costs."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        # No lock on the hot path: both calls are atomic; a racing eviction costs a reorder.
        entry = self._entries.get(key)
        if entry is not None:
            try:  # noqa: SIM105 (suppress() costs a context manager per request)
                self._entries.move_to_end(key)
            except KeyError:
                pass
        return entry

    def put(self, key: str, entry: V) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
