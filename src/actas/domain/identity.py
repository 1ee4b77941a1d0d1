"""Staff identity beyond a password: single sign-on identities, passkeys, enrollment links and
SCIM provisioning tokens. Entities and the rules that need no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from actas.domain.errors import AuthenticationFailed
from actas.domain.roles import Role

#: A password hash no hasher produces: a staff member created by SSO, SCIM or an enrollment
#: link that has not set a password yet can never sign in with one.
NO_PASSWORD = "!"

#: Prefixes make a leaked secret easy to recognise (see ``actas.domain.tokens``).
ENROLLMENT_PREFIX = "actas_en_"
SCIM_TOKEN_PREFIX = "actas_scim_"

#: An enrollment link lives a day; a sign-in at the IdP or a WebAuthn ceremony a few minutes.
ENROLLMENT_TTL = timedelta(hours=24)
SSO_LOGIN_TTL = timedelta(minutes=10)
CHALLENGE_TTL = timedelta(minutes=5)

#: How many passkeys one staff member may hold (a bound on rows, not a policy).
MAX_PASSKEYS = 10
PASSKEY_NAME_MAX = 64


class StepUpAction(StrEnum):
    """The acts that need a fresh proof of presence; the policy may demand a passkey for each."""

    START = "start"
    APPROVE_HIGH_RISK = "approve_high_risk"
    BREAK_GLASS = "break_glass"


class ChallengePurpose(StrEnum):
    REGISTER = "register"
    SIGN_IN = "sign_in"
    STEP_UP = "step_up"


@dataclass(frozen=True)
class PasskeyRules:
    """Which step-ups must be a passkey (TOTP refused): by the staff member's roles or by act."""

    roles: frozenset[Role] = frozenset()
    actions: frozenset[StepUpAction] = frozenset()

    def passkey_required(self, *, roles: frozenset[Role], action: StepUpAction) -> bool:
        return action in self.actions or bool(self.roles & roles)


@dataclass(frozen=True)
class IdentityRules:
    """The sign-in methods the broker accepts, from the settings."""

    #: False once SSO is on and the company wants every sign-in to go through its IdP.
    password_sign_in: bool = True
    passkeys: PasskeyRules = field(default_factory=PasskeyRules)
    #: The role a member created through SCIM starts with (their IdP groups decide at SSO).
    scim_role: Role = Role.AGENT
    #: ``[oidc.roles]``: IdP group -> broker roles, applied again at every SSO sign-in.
    role_map: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    #: Whether the first SSO sign-in of a person whose groups map to a role creates them.
    sso_creates_staff: bool = True


@dataclass(frozen=True)
class Passkey:
    id: str
    staff_id: str
    #: The credential id as the authenticator reports it, base64url without padding.
    credential_id: str
    public_key: bytes = field(repr=False)
    sign_count: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Enrollment:
    id: str
    staff_id: str
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    used_at: datetime | None
    #: A sealed TOTP seed offered on the enrollment page until the member confirms it.
    pending_totp_secret: str | None = field(repr=False, default=None)

    def usable_at(self, now: datetime) -> bool:
        return self.used_at is None and self.expires_at > now


@dataclass(frozen=True)
class SsoLogin:
    """One sign-in at the IdP in flight: what the callback must find (state is the key)."""

    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)
    next_url: str
    expires_at: datetime


@dataclass(frozen=True)
class ScimToken:
    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class IdTokenClaims:
    """What the broker uses from a validated ID token."""

    issuer: str
    subject: str
    email: str | None
    name: str | None
    groups: tuple[str, ...]


GROUP_RE = re.compile(r"[^\x00-\x1f]{1,256}")


def roles_for_groups(
    groups: Iterable[str], mapping: Mapping[str, frozenset[Role]]
) -> frozenset[Role]:
    """The roles the IdP's groups grant under ``[oidc.roles]``: the union, nothing else."""
    roles: set[Role] = set()
    for group in groups:
        roles |= mapping.get(group, frozenset())
    return frozenset(roles)


class SsoRefused(AuthenticationFailed):
    """A sign-in refused, with a short reason code for the audit log (never shown to the
    browser beyond the generic message)."""

    def __init__(self, reason: str, message: str = "the sign-in at your identity provider failed"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ScimProfile:
    """What an IdP last said of a member it provisioned, kept to be returned as sent (RFC 7644
    round trip). ``None`` is an attribute the IdP never set or removed."""

    given_name: str | None = None
    family_name: str | None = None
    display_name: str | None = None
    active: bool | None = None
