"""What a policy can say: the kinds of access, the scopes, each role's limits, the account
flags' rules and break-glass. Validated when built, so a loaded policy is always coherent;
:mod:`actas.domain.policy` decides with it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from actas.domain.alerts import AlertRules
from actas.domain.customer import DEFAULT_NOTICES, Notice
from actas.domain.errors import InvalidInput
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag

#: How long a customer may grant support access for, unless the policy file says otherwise
#: (``grant_minutes``): an hour, a day, a week.
DEFAULT_GRANT_MINUTES = (60, 24 * 60, 7 * 24 * 60)
#: No grant lasts longer than thirty days, whatever the policy file says.
MAX_GRANT_MINUTES = 30 * 24 * 60

#: A requested scope: ``read``, ``write`` or one named admin action of the application.
SCOPE_RE = re.compile(r"^(read|write|admin:[a-z][a-z0-9_]{0,62})$")
#: In a role's scopes (or a consent), any admin action.
ANY_ADMIN = "admin:*"
REASON_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: No session, however privileged its holder, lasts longer than a day.
MAX_MINUTES = 24 * 60
MAX_APPROVALS = 10


class AccessKind(StrEnum):
    #: Staff stay themselves and may call only the admin actions the scopes name.
    ASSIST = "assist"
    #: Staff see the application as the subject; read-only unless ``write`` is granted.
    IMPERSONATE = "impersonate"


class Outcome(StrEnum):
    ALLOW = "allow"
    NEEDS_CONSENT = "needs_consent"
    NEEDS_APPROVAL = "needs_approval"
    DENY = "deny"


def scope_problem(scope: str, *, grant: bool = False) -> str | None:
    """Why ``scope`` is not well formed, or None. A grant may also say ``admin:*``."""
    if SCOPE_RE.match(scope) or (grant and scope == ANY_ADMIN):
        return None
    extra = ", admin:*" if grant else ""
    return f"{scope[:70]!r} is not a valid scope; scopes are read, write, admin:<action>{extra}"


def scope_covered(scope: str, granted: Iterable[str]) -> bool:
    granted = frozenset(granted)
    return scope in granted or (scope.startswith("admin:") and ANY_ADMIN in granted)


def _check_minutes(what: str, minutes: int) -> None:
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"{what} must be 1 to {MAX_MINUTES} minutes, got {minutes}")


@dataclass(frozen=True, kw_only=True)
class RolePolicy:
    """What holders of one role may do. A role with no ``RolePolicy`` may do nothing."""

    kinds: frozenset[AccessKind]
    #: ``read``, ``write``, ``admin:<action>``, or ``admin:*`` for every admin action.
    scopes: frozenset[str]
    max_minutes: int
    #: Only accounts the staff member is assigned to.
    assigned_only: bool
    requires_approval: bool = False
    #: The only way to reach a privileged subject (an admin, staff or service account).
    may_reach_privileged: bool = False

    def __post_init__(self) -> None:
        _check_minutes("max_minutes", self.max_minutes)
        for scope in self.scopes:
            if problem := scope_problem(scope, grant=True):
                raise InvalidInput(problem)


@dataclass(frozen=True, kw_only=True)
class FlagRule:
    """What an account flag asks for. ``no_access`` has no rule: it always denies."""

    approval: bool
    consent: bool


@dataclass(frozen=True, kw_only=True)
class BreakGlass:
    enabled: bool = False
    roles: frozenset[Role] = frozenset()
    max_minutes: int = 30

    def __post_init__(self) -> None:
        _check_minutes("break_glass.max_minutes", self.max_minutes)
        if self.enabled and not self.roles:
            raise InvalidInput("break_glass is enabled but names no role")


@dataclass(frozen=True, kw_only=True)
class Policy:
    roles: Mapping[Role, RolePolicy]
    #: Every flag except ``no_access``. A flag missing here asks for approval and consent.
    flags: Mapping[AccountFlag, FlagRule]
    approver_roles: frozenset[Role]
    approvals_required: int
    idle_timeout_minutes: int
    #: Pending requests expire after this long.
    request_ttl_minutes: int
    reason_codes: tuple[str, ...]
    #: Requests on accounts with these flags are high risk: approved only in the console,
    #: with a TOTP code, never straight from Slack.
    high_risk_flags: frozenset[AccountFlag] = frozenset()
    #: Kinds that are always high risk. ``write`` under impersonate and break-glass always are.
    high_risk_kinds: frozenset[AccessKind] = frozenset()
    break_glass: BreakGlass = field(default_factory=BreakGlass)
    #: Which notices the customer must get. The console has no switch for them; break-glass
    #: is told whatever this says (``customer.ALWAYS_SENT``).
    customer_notices: frozenset[Notice] = DEFAULT_NOTICES
    #: The anomaly alerts' thresholds and windows (``actas.domain.alerts``).
    alerts: AlertRules = field(default_factory=AlertRules)
    #: The durations a customer picks a grant's from, shortest first.
    grant_minutes: tuple[int, ...] = DEFAULT_GRANT_MINUTES

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", MappingProxyType(dict(self.roles)))
        object.__setattr__(self, "flags", MappingProxyType(dict(self.flags)))
        if AccountFlag.NO_ACCESS in self.flags:
            raise InvalidInput("no_access cannot be configured: it always denies")
        if AccountFlag.NO_ACCESS in self.high_risk_flags:
            raise InvalidInput("no_access cannot be high risk: it always denies")
        if not self.approver_roles:
            raise InvalidInput("approver_roles names no role")
        if not 1 <= self.approvals_required <= MAX_APPROVALS:
            raise InvalidInput(
                f"approvals_required must be 1 to {MAX_APPROVALS}, got {self.approvals_required}"
            )
        _check_minutes("idle_timeout_minutes", self.idle_timeout_minutes)
        _check_minutes("request_ttl_minutes", self.request_ttl_minutes)
        if not self.reason_codes:
            raise InvalidInput("reason_codes is empty")
        for code in self.reason_codes:
            if not REASON_CODE_RE.match(code):
                raise InvalidInput(f"reason code {code[:70]!r} must be 1-64 of a-z, 0-9 and _")
