"""One-time links and verification codes: the second rung of the access ladder.

The customer gets a link or a code on their own verified channel and support never sees it.
This module holds the rules both follow; the store redeems them atomically and the services
send them. Pure: standard library only.

Links carry 256 bits from the OS generator behind a prefix per purpose (``actas_lpw_`` for a
password reset, ...), so a secret scanner recognises a leaked one and a token of one kind is
refused for another before the database is asked. Only their SHA-256 is stored (DESIGN.md,
"One-time secrets").

Verification codes are read aloud, so they are short (six digits). That is safe only with the
limits around them: a code lives ten minutes, five wrong tries lock it, a case may send only a
few an hour, and its hash is keyed with the verification's own id, so one precomputed table of
the million codes cannot be used across rows.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from enum import StrEnum
from urllib.parse import urlencode, urlsplit, urlunsplit

from actas.domain.errors import Conflict, InvalidGrant, InvalidInput
from actas.domain.tokens import MAX_TOKEN_LENGTH, new_token


class LinkPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"
    MAGIC_SIGNIN = "magic_signin"
    EMAIL_CONFIRMATION = "email_confirmation"
    ACCOUNT_RECOVERY = "account_recovery"


#: One prefix per purpose; all start ``actas_l`` so one scanner rule finds every link.
LINK_PREFIXES: dict[LinkPurpose, str] = {
    LinkPurpose.PASSWORD_RESET: "actas_lpw_",
    LinkPurpose.MAGIC_SIGNIN: "actas_lms_",
    LinkPurpose.EMAIL_CONFIRMATION: "actas_lec_",
    LinkPurpose.ACCOUNT_RECOVERY: "actas_lar_",
}

#: Lifetimes may be set between these bounds (THREATS T11: 10 to 30 minutes).
MIN_LINK_TTL = timedelta(minutes=10)
MAX_LINK_TTL = timedelta(minutes=30)

#: The default lifetimes. A magic sign-in link is a password in an inbox: it gets the shortest
#: life (ASVS 6.5.5 caps authentication-like out-of-band secrets at ten minutes). A reset or a
#: recovery link leads to an authentication change the customer must still complete, and a
#: confirmation link only proves the mailbox is theirs, so they may live longer. These live
#: here, not in the policy file, until a deployment needs another value: the policy loader
#: checks every key against its line, and :func:`link_ttl` already accepts an override within
#: the bounds for the day it does.
LINK_TTLS: dict[LinkPurpose, timedelta] = {
    LinkPurpose.MAGIC_SIGNIN: timedelta(minutes=10),
    LinkPurpose.PASSWORD_RESET: timedelta(minutes=15),
    LinkPurpose.ACCOUNT_RECOVERY: timedelta(minutes=15),
    LinkPurpose.EMAIL_CONFIRMATION: timedelta(minutes=30),
}

#: The last path segment of the application's handoff URL is replaced by this to make the
#: link's landing URL: ``https://app.example/actas/handoff`` gives ``.../actas/link``.
LINK_PATH_SEGMENT = "link"

_TOKEN_RE = re.compile(r"^actas_l[a-z]{2}_[A-Za-z0-9_-]{43}$")

#: Verification codes: six digits, ten minutes, five tries, three sends per case an hour.
CODE_LENGTH = 6
CODE_TTL = timedelta(minutes=10)
CODE_ATTEMPTS = 5
CODE_SENDS_PER_HOUR = 3
CODE_METHOD = "email_code"
_CODE_SEPARATORS = re.compile(r"[\s-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class VerificationStatus(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    LOCKED = "locked"
    #: A newer code was sent for the same case.
    SUPERSEDED = "superseded"


# --- errors ----------------------------------------------------------------------------------


class UnknownPurpose(InvalidInput):
    code = "unknown_link_purpose"


class MalformedToken(InvalidInput):
    code = "malformed_link_token"


class NoVerifiedEmail(Conflict):
    """The subject has no verified email: a link or code would go nowhere safe."""

    code = "no_verified_email"


class LinkError(InvalidGrant):
    """A link cannot be redeemed. The redeemer is the application's server (it holds the
    application credential), so the kinds are told apart; a 256-bit token leaves nothing to
    enumerate."""

    code = "link_invalid"


class LinkUnknown(LinkError):
    code = "link_unknown"


class LinkExpired(LinkError):
    code = "link_expired"


class LinkUsed(LinkError):
    code = "link_used"


class LinkWrongPurpose(LinkError):
    code = "link_wrong_purpose"


class MalformedCode(InvalidInput):
    code = "malformed_verification_code"


class VerificationError(InvalidGrant):
    code = "verification_invalid"


class CodeWrong(VerificationError):
    code = "verification_code_wrong"

    def __init__(self, detail: str, *, attempts_left: int) -> None:
        super().__init__(detail)
        self.attempts_left = attempts_left


class VerificationExpired(VerificationError):
    code = "verification_expired"


class VerificationLocked(Conflict):
    code = "verification_locked"


class VerificationClosed(Conflict):
    """The verification was already decided (or replaced by a newer code)."""

    code = "verification_closed"


class TooManyCodes(Conflict):
    code = "too_many_codes"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """An issued link, as stored: its hash, never the token."""

    id: str
    application_id: str
    subject_id: str
    account_id: str
    purpose: LinkPurpose
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    #: :func:`recipient_hash` of the address the link was sent to.
    recipient_hash: str
    used_at: datetime | None = None
    #: When a newer link of the same purpose for the same subject replaced it.
    superseded_at: datetime | None = None
    #: The outbox row that carries the email (delivered or not: see the outbox).
    outbox_id: str | None = None


@dataclass(frozen=True)
class Verification:
    """A verification code sent from a case: the record of who confirmed what, and how."""

    id: str
    case_id: str
    application_id: str
    subject_id: str
    account_id: str
    method: str
    requested_by: str
    issued_at: datetime
    expires_at: datetime
    attempts: int
    status: VerificationStatus
    decided_at: datetime | None = None
    decided_by: str | None = None
    outbox_id: str | None = None
    #: When the outbox delivered the email with the code (None: not yet, or never).
    sent_at: datetime | None = None
    #: When the outbox gave up on that email (dead-lettered).
    send_failed_at: datetime | None = None


# --- links -----------------------------------------------------------------------------------


def purpose_of(value: str | LinkPurpose) -> LinkPurpose:
    """The purpose named ``value``; :class:`UnknownPurpose` otherwise."""
    try:
        return LinkPurpose(value)
    except ValueError:
        names = ", ".join(p.value for p in LinkPurpose)
        raise UnknownPurpose(f"link purpose {str(value)[:40]!r} is not one of {names}") from None


def link_ttl(purpose: LinkPurpose, override: timedelta | None = None) -> timedelta:
    """The purpose's lifetime, or ``override`` when it lies within 10..30 minutes."""
    if override is None:
        return LINK_TTLS[purpose]
    if not MIN_LINK_TTL <= override <= MAX_LINK_TTL:
        raise InvalidInput(
            f"a {purpose.value} link lifetime of {override.total_seconds():.0f} s is outside "
            f"{MIN_LINK_TTL.total_seconds():.0f}..{MAX_LINK_TTL.total_seconds():.0f} s"
        )
    return override


def new_link_token(purpose: LinkPurpose) -> str:
    return new_token(LINK_PREFIXES[purpose])


def check_token(token: str) -> LinkPurpose:
    """The purpose a well-formed link token was issued for (from its prefix); raises
    :class:`MalformedToken` for anything else, without saying more."""
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN_RE.match(token):
        raise MalformedToken("the link token is malformed")
    prefix = token[: token.index("_", len("actas_")) + 1]
    for purpose, known in LINK_PREFIXES.items():
        if hmac.compare_digest(prefix, known):
            return purpose
    raise MalformedToken("the link token is malformed")


def link_url(handoff_url: str, token: str) -> str:
    """The landing URL of a link, derived from the application's configured handoff URL (never
    from a request's Host header, THREATS T29). The token travels in the query; the landing
    page (the SDK) answers with no-referrer and no-store and redeems only on POST (T7, T8)."""
    parts = urlsplit(handoff_url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput("the application's handoff URL is not an http(s) URL")
    parent = parts.path.rsplit("/", 1)[0] if "/" in parts.path else ""
    return urlunsplit(
        (parts.scheme, parts.netloc, f"{parent}/{LINK_PATH_SEGMENT}", urlencode({"t": token}), "")
    )


def check_address(address: str) -> str:
    """``address`` if it is one plain addr-spec fit for a ``To`` header (no display name, no
    second address, no line break); ValueError otherwise. The store keeps whatever the
    application upserted, so this is checked again before anything is sent to it."""
    if not address or len(address) > 320 or _CONTROL.search(address):
        raise ValueError("not an email address")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError("not an email address") from exc
    if not parsed.username or "." not in parsed.domain or parsed.addr_spec != address:
        raise ValueError("not an email address")
    return address


def recipient_hash(address: str) -> str:
    """Which address a link went to, without keeping the address: at redemption the subject's
    verified email must still be this one, so a link sent to an address the customer has since
    replaced (perhaps to lock an intruder out) no longer works."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


# --- verification codes ----------------------------------------------------------------------


def new_code() -> str:
    """Six digits from the OS generator, leading zeros kept."""
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def normalise_code(code: str) -> str:
    """The code as typed, without spaces or dashes ("123 456"); :class:`MalformedCode` unless
    exactly six ASCII digits remain."""
    if len(code) > 32:
        raise MalformedCode(f"a verification code is {CODE_LENGTH} digits")
    digits = _CODE_SEPARATORS.sub("", code)
    if len(digits) != CODE_LENGTH or not digits.isascii() or not digits.isdigit():
        raise MalformedCode(f"a verification code is {CODE_LENGTH} digits")
    return digits


def code_hash(verification_id: str, code: str) -> str:
    """HMAC-SHA256 keyed with the verification's id: the same code hashes differently in every
    row, so no table of the 10**6 codes serves for more than one verification."""
    key = b"actas-verification-code\x00" + verification_id.encode("utf-8")
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def code_matches(stored_hash: str, verification_id: str, code: str) -> bool:
    return hmac.compare_digest(stored_hash, code_hash(verification_id, code))


def attempts_left(attempts: int) -> int:
    return max(CODE_ATTEMPTS - attempts, 0)
