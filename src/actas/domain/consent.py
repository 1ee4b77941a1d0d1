"""The customer in control: consent grants, support access codes and the customer's own policy.

A **grant** is the customer's say-so for a window they pick from :data:`GRANT_MINUTES`:
optionally read-only, optionally for one case, and (when it came from a support access code)
for one staff member. Only the customer makes one, through the application; support can
neither create, extend nor change it.

A **support access code** is read aloud to support, so it is short: eight characters from
Crockford's base32 (40 bits). That is safe only with the limits around it, as for the email
verification codes: it lives ten minutes, is used once, is bound to one subject (its hash is
keyed with the application and subject, so a guess is only ever tried against one subject's
codes), generating codes is capped per subject, and wrong guesses are counted per subject and
per staff member: :data:`CODE_SUBJECT_FAILURES` of them lock every live code of the subject.

The **customer's own policy** (never / consent each time / as the default policy says) is
combined with the broker's decision by :func:`apply_customer_policy`: the stricter of the two
wins, and the reasons say so. Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from actas.domain.errors import Conflict, InvalidGrant, InvalidInput
from actas.domain.policy import AccessRequestSpec, Consent, Decision, consent_gap
from actas.domain.policy_rules import ANY_ADMIN, DEFAULT_GRANT_MINUTES, AccessKind, Outcome

#: The windows a customer may pick, in minutes: an hour, a day, a week.
#: The default durations (the policy file's ``grant_minutes`` may replace them).
GRANT_MINUTES = DEFAULT_GRANT_MINUTES
#: A support access code lives this long unless the customer picks less.
CODE_TTL = timedelta(minutes=10)
CODE_LENGTH = 8
#: Crockford's base32: no I, L, O or U, so nothing is misheard or misread.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: At most this many codes a subject may generate in an hour.
CODE_ISSUES_PER_HOUR = 5
#: Wrong guesses against one subject before its live codes lock.
CODE_SUBJECT_FAILURES = 5
#: Wrong guesses by one staff member (any subject) before they must wait.
CODE_STAFF_FAILURES = 10
#: The window over which wrong guesses are counted.
CODE_FAILURE_WINDOW = timedelta(hours=1)

_SEPARATORS = re.compile(r"[\s-]")
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class CustomerRule(StrEnum):
    """What the customer's account admins say about support access."""

    #: Support may never reach the account (unless the contract says otherwise).
    NEVER = "never"
    #: Only with the customer's consent, every time, whatever the account's flags.
    CONSENT = "consent"
    #: As the broker's policy says.
    DEFAULT = "default"


class GrantSource(StrEnum):
    CUSTOMER = "customer"
    ACCESS_CODE = "access_code"


class CodeStatus(StrEnum):
    PENDING = "pending"
    USED = "used"
    LOCKED = "locked"
    EXPIRED = "expired"


# --- errors ----------------------------------------------------------------------------------


class MalformedAccessCode(InvalidInput):
    code = "malformed_access_code"


class AccessCodeInvalid(InvalidGrant):
    """Wrong, used, expired, locked, or for another subject: one answer for all, so guessing
    learns nothing."""

    code = "access_code_invalid"

    def __init__(self, detail: str, *, attempts_left: int) -> None:
        super().__init__(detail)
        self.attempts_left = attempts_left


class TooManyAccessCodes(Conflict):
    code = "too_many_access_codes"


class GrantClosed(Conflict):
    code = "grant_closed"


# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Grant:
    id: str
    application_id: str
    account_id: str
    #: The customer (subject) who granted it.
    granted_by: str
    source: GrantSource
    kinds: frozenset[AccessKind]
    scopes: frozenset[str]
    read_only: bool
    created_at: datetime
    expires_at: datetime
    #: Only for this case (None: any case on the account).
    case_id: str | None = None
    #: Only for this staff member (a grant made by entering an access code).
    staff_id: str | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    def live_at(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

    def applies_to(self, *, case_id: str, staff_id: str, now: datetime) -> bool:
        return (
            self.live_at(now)
            and self.case_id in (None, case_id)
            and self.staff_id in (None, staff_id)
        )

    def consent(self) -> Consent:
        return Consent(scopes=self.scopes, kinds=self.kinds, expires_at=self.expires_at)


@dataclass(frozen=True, kw_only=True)
class AccessCode:
    id: str
    application_id: str
    account_id: str
    subject_id: str
    issued_at: datetime
    expires_at: datetime
    #: The window and mode of the grant the code makes when it is entered.
    grant_minutes: int
    read_only: bool
    used_at: datetime | None = None
    used_by: str | None = None
    case_id: str | None = None
    grant_id: str | None = None
    locked_at: datetime | None = None

    def status(self, now: datetime) -> CodeStatus:
        if self.used_at is not None:
            return CodeStatus.USED
        if self.locked_at is not None:
            return CodeStatus.LOCKED
        if self.expires_at <= now:
            return CodeStatus.EXPIRED
        return CodeStatus.PENDING


@dataclass(frozen=True, kw_only=True)
class CustomerPolicy:
    application_id: str
    account_id: str
    rule: CustomerRule = CustomerRule.DEFAULT
    #: Email the customer a notice of every session.
    notify_every_session: bool = False
    #: Set only by the application: the contract requires support access, so ``never`` asks
    #: for consent instead of denying.
    contract_access: bool = False
    updated_at: datetime | None = None
    updated_by: str | None = None


# --- grants ----------------------------------------------------------------------------------


def grant_scopes(read_only: bool) -> frozenset[str]:
    """What a grant covers: reading only, or also writing and the admin actions."""
    return frozenset({"read"}) if read_only else frozenset({"read", "write", ANY_ADMIN})


def check_grant_minutes(minutes: int, allowed: Iterable[int] = GRANT_MINUTES) -> int:
    choices = tuple(allowed)
    if minutes not in choices:
        raise InvalidInput(
            f"a grant lasts one of {', '.join(str(m) for m in choices)} minutes, got {minutes}"
        )
    return minutes


def best_consent(
    grants: Iterable[Grant], *, case_id: str, staff_id: str, request: AccessRequestSpec
) -> Consent | None:
    """The live grant that covers the request, or else the latest one that applies (so the
    decision can say why it falls short), or None."""
    usable = sorted(
        (g for g in grants if g.applies_to(case_id=case_id, staff_id=staff_id, now=request.now)),
        key=lambda g: (g.expires_at, g.id),
        reverse=True,
    )
    scopes = request.scopes or frozenset({"read"})
    for grant in usable:
        if not consent_gap(grant.consent(), request, scopes):
            return grant.consent()
    return usable[0].consent() if usable else None


# --- access codes ----------------------------------------------------------------------------


def new_access_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_access_code(code: str) -> str:
    """``ABCD-EFGH``: easier to read aloud in two halves."""
    return f"{code[:4]}-{code[4:]}"


def normalise_access_code(code: str) -> str:
    """Upper case, separators dropped, look-alikes mapped (O to 0, I and L to 1)."""
    text = _SEPARATORS.sub("", code[:40]).upper().translate(_ALIASES)
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        raise MalformedAccessCode(
            f"a support access code is {CODE_LENGTH} letters and digits, like ABCD-1234"
        )
    return text


def access_code_hash(application_id: str, subject_id: str, code: str) -> str:
    """Keyed with the subject: the same code for another subject is another hash, so a code is
    only ever found for the subject it was made for."""
    key = f"actas-access-code\x00{application_id}\x00{subject_id}".encode()
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def code_attempts_left(failures: int) -> int:
    return max(0, CODE_SUBJECT_FAILURES - failures)


# --- the customer's own policy ---------------------------------------------------------------


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def apply_customer_policy(
    decision: Decision,
    *,
    customer: CustomerPolicy | None,
    consent: Consent | None,
    request: AccessRequestSpec,
) -> Decision:
    """The stricter of the broker's ``decision`` and the customer's own policy, with reasons.

    ``never`` denies (even under break-glass: it is the customer's word) unless the
    application recorded that the contract requires access, when it asks for consent instead.
    ``consent`` asks for the customer's consent whatever the account's flags (break-glass
    skips it, as it skips the flags' consent). ``default`` leaves the decision as it is.
    """
    if customer is None or customer.rule is CustomerRule.DEFAULT:
        return decision
    reasons = list(decision.reasons)
    if decision.outcome is Outcome.DENY:
        if customer.rule is CustomerRule.NEVER and not customer.contract_access:
            reasons.append("denied: the customer's own policy also says support may never reach it")
        return dataclasses.replace(decision, reasons=tuple(reasons))
    if customer.rule is CustomerRule.NEVER and not customer.contract_access:
        return dataclasses.replace(
            decision,
            outcome=Outcome.DENY,
            reasons=(
                "denied: the customer's own policy says support may never reach the account; "
                f"it is stricter than the broker's policy, which alone would say "
                f"{decision.outcome.value}",
            ),
            approvals_required=0,
            approver_roles=frozenset(),
            consent_required=False,
            approval_required=False,
            review_required=False,
        )
    why = (
        "the customer's own policy says never, but the contract requires access, so it asks "
        "for consent each time"
        if customer.rule is CustomerRule.NEVER
        else "the customer's own policy asks for consent each time"
    )
    if request.break_glass and decision.outcome is Outcome.ALLOW:
        reasons.insert(1, f"break-glass: consent skipped; without break-glass {why}")
        return dataclasses.replace(decision, reasons=tuple(reasons))
    if decision.outcome is Outcome.NEEDS_CONSENT:
        reasons.append(f"{why} too")
        return dataclasses.replace(decision, reasons=tuple(reasons))
    gap = consent_gap(consent, request, decision.scopes)
    if consent is not None and not gap:
        reasons.insert(
            0,
            f"{why}: covered by the customer's consent until {_time(consent.expires_at)}",
        )
        return dataclasses.replace(decision, reasons=tuple(reasons))
    approval = decision.outcome is Outcome.NEEDS_APPROVAL
    kept = [
        ("then " + r) if approval and r.startswith("needs ") else r
        for r in reasons
        if not r.startswith("allowed:")
    ]
    return dataclasses.replace(
        decision,
        outcome=Outcome.NEEDS_CONSENT,
        reasons=(
            f"needs the customer's consent because {why}, stricter than the broker's policy; {gap}",
            *kept,
        ),
        consent_required=True,
    )
