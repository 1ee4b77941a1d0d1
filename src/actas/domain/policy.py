"""The access policy: who may reach which account, how, for how long, and with whose say-so.

:func:`decide` is a pure, keyword-only function of the policy, the staff member, the subject,
its account, the customer's live consent and the request. It returns a :class:`Decision` with
its reasons in plain words. Anything the policy does not grant is denied; deny reasons are all
collected, so staff see everything that is wrong at once. :func:`can_approve` says whether one
staff member may approve another's request (never their own: T13).

Break-glass skips approval and consent, never a denial: ``no_access``, broker staff, privileged
subjects, durations and the role's kinds and scopes still hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from actas.domain.errors import InvalidInput
from actas.domain.policy_rules import (
    AccessKind,
    FlagRule,
    Outcome,
    Policy,
    RolePolicy,
    scope_covered,
    scope_problem,
)
from actas.domain.roles import Role
from actas.domain.subjects import Account, AccountFlag, Subject


@dataclass(frozen=True, kw_only=True)
class StaffView:
    """The staff member asking (or approving)."""

    id: str
    roles: frozenset[Role]
    #: ``(application_id, account_id)`` pairs.
    assigned_accounts: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, kw_only=True)
class SubjectView:
    application_id: str
    id: str
    account_id: str
    privileged: bool
    #: The subject's verified email belongs to a broker staff account: never reachable.
    is_broker_staff: bool

    @classmethod
    def of(cls, subject: Subject, *, is_broker_staff: bool) -> SubjectView:
        return cls(
            application_id=subject.application_id,
            id=subject.id,
            account_id=subject.account_id,
            privileged=subject.privileged,
            is_broker_staff=is_broker_staff,
        )


@dataclass(frozen=True, kw_only=True)
class AccountView:
    application_id: str
    id: str
    flags: frozenset[AccountFlag]

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(application_id=account.application_id, id=account.id, flags=account.flags)


@dataclass(frozen=True, kw_only=True)
class Consent:
    """The customer's live consent grant. ``admin:*`` in its scopes covers any admin action."""

    scopes: frozenset[str]
    kinds: frozenset[AccessKind]
    expires_at: datetime

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise InvalidInput("the consent's expiry must carry a time zone")


@dataclass(frozen=True, kw_only=True)
class AccessRequestSpec:
    kind: AccessKind
    #: Empty means ``{"read"}``.
    scopes: frozenset[str]
    minutes: int
    reason_code: str
    now: datetime
    break_glass: bool = False

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise InvalidInput("the request time must carry a time zone")


@dataclass(frozen=True, kw_only=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    #: The scopes decided on (an empty request means ``read``).
    scopes: frozenset[str]
    #: 0 when no approval is needed.
    approvals_required: int
    approver_roles: frozenset[Role]
    high_risk: bool
    consent_required: bool
    approval_required: bool
    #: Break-glass: security must review the session afterwards.
    review_required: bool
    #: The longest session this request may have (0 when no role grants anything).
    max_minutes: int
    idle_timeout_minutes: int

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW


_FLAG_WORDS = {
    AccountFlag.REGULATED: "is regulated",
    AccountFlag.ENHANCED_CONTROLS: "has enhanced controls",
    AccountFlag.FLAGGED: "is flagged",
    AccountFlag.NO_ACCESS: "has opted out",
}
_ROLE_NOUNS = {
    Role.AGENT: "an agent",
    Role.LEAD: "a lead",
    Role.ENGINEER: "an engineer",
    Role.SECURITY: "security",
    Role.ADMIN: "an admin",
}
#: Asked for by a flag the policy does not configure: the strictest rule short of denial.
_UNCONFIGURED = FlagRule(approval=True, consent=True)


def _ordered(roles: Iterable[Role]) -> list[Role]:
    chosen = set(roles)
    return [role for role in Role if role in chosen]


def _names(roles: Iterable[Role], joiner: str = " and ") -> str:
    return joiner.join(role.value for role in _ordered(roles)) or "no role"


def _nouns(roles: Iterable[Role]) -> str:
    return " or ".join(_ROLE_NOUNS.get(role, role.value) for role in _ordered(roles))


def _account_is(flags: Iterable[AccountFlag]) -> str:
    words = [_FLAG_WORDS[flag] for flag in AccountFlag if flag in set(flags)]
    return "the account " + " and ".join(words)


def _time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def effective_role_policy(*, policy: Policy, roles: Iterable[Role]) -> RolePolicy | None:
    """The most permissive combination of the staff member's roles, or None if none counts."""
    held = [policy.roles[role] for role in _ordered(roles) if role in policy.roles]
    if not held:
        return None
    return RolePolicy(
        kinds=frozenset().union(*(rp.kinds for rp in held)),
        scopes=frozenset().union(*(rp.scopes for rp in held)),
        max_minutes=max(rp.max_minutes for rp in held),
        assigned_only=all(rp.assigned_only for rp in held),
        requires_approval=all(rp.requires_approval for rp in held),
        may_reach_privileged=any(rp.may_reach_privileged for rp in held),
    )


def is_high_risk(
    *,
    policy: Policy,
    account: AccountView,
    kind: AccessKind,
    scopes: frozenset[str],
    break_glass: bool,
) -> bool:
    """A high-risk flag, a high-risk kind, ``write`` under impersonate, or break-glass."""
    return (
        break_glass
        or bool(account.flags & policy.high_risk_flags)
        or kind in policy.high_risk_kinds
        or (kind is AccessKind.IMPERSONATE and "write" in scopes)
    )


def consent_gap(consent: Consent | None, request: AccessRequestSpec, scopes: frozenset[str]) -> str:
    """Why the live consent does not cover the request, or "" when it does."""
    if consent is None:
        return "there is no consent on file"
    if consent.expires_at <= request.now:
        return f"the consent on file expired at {_time(consent.expires_at)}"
    if request.kind not in consent.kinds:
        return f"the consent on file does not cover {request.kind.value}"
    missing = sorted(s for s in scopes if not scope_covered(s, consent.scopes))
    if missing:
        return "the consent on file does not cover " + ", ".join(missing)
    return ""


def decide(
    *,
    policy: Policy,
    staff: StaffView,
    subject: SubjectView,
    account: AccountView,
    consent: Consent | None,
    request: AccessRequestSpec,
) -> Decision:
    """Decide one access request. Deny by default; every outcome says why."""
    denials: list[str] = []
    scopes = request.scopes or frozenset({"read"})
    kind = request.kind
    role_policy = effective_role_policy(policy=policy, roles=staff.roles)
    counted = [role for role in _ordered(staff.roles) if role in policy.roles]
    who = _names(counted, " + ")

    if subject.is_broker_staff:
        denials.append("denied: broker staff accounts can never be impersonated or assisted")
    if AccountFlag.NO_ACCESS in account.flags:
        denials.append("denied: the account has opted out of support access (no_access)")
    if (subject.application_id, subject.account_id) != (account.application_id, account.id):
        denials.append(
            f"denied: the subject belongs to account {subject.application_id}/"
            f"{subject.account_id}, not {account.application_id}/{account.id}"
        )

    break_glass_refused = ""
    if request.break_glass and not policy.break_glass.enabled:
        break_glass_refused = "denied: break-glass is disabled by the policy"
    elif request.break_glass and not staff.roles & policy.break_glass.roles:
        break_glass_refused = (
            f"denied: break-glass is only for {_names(policy.break_glass.roles, ' or ')}; "
            f"you hold {_names(staff.roles)}"
        )
    break_glass_ok = request.break_glass and not break_glass_refused

    cap = 0
    if role_policy is None:
        denials.append(
            f"denied: no role you hold ({_names(staff.roles)}) grants support access"
            if staff.roles
            else "denied: you hold no role, and support access needs one"
        )
    else:
        cap = policy.break_glass.max_minutes if break_glass_ok else role_policy.max_minutes
        if kind not in role_policy.kinds:
            may = " or ".join(k.value for k in AccessKind if k in role_policy.kinds) or "nothing"
            denials.append(f"denied: {who} may not {kind.value} (only {may})")
        for scope in sorted(scopes):
            if problem := scope_problem(scope):
                denials.append(f"denied: {problem}")
            elif kind is AccessKind.ASSIST and scope == "write":
                denials.append(
                    "denied: write does not apply to assist, where you act as yourself "
                    "through admin actions; request impersonate to write as the user"
                )
            elif not scope_covered(scope, role_policy.scopes):
                granted = ", ".join(sorted(role_policy.scopes)) or "none"
                denials.append(f"denied: {who} may not use scope {scope} (allowed: {granted})")
        if request.minutes < 1:
            denials.append(f"denied: a session lasts at least 1 minute, got {request.minutes}")
        elif request.minutes > cap:
            whose = (
                "break-glass"
                if break_glass_ok
                else _names(r for r in counted if policy.roles[r].max_minutes == cap)
            )
            denials.append(
                f"denied: {request.minutes} minutes is over the {whose} maximum of {cap}"
            )
        place = (account.application_id, account.id)
        if role_policy.assigned_only and place not in staff.assigned_accounts:
            denials.append(
                f"denied: {who} may only reach assigned accounts, and {place[0]}/{place[1]} "
                "is not assigned to you"
            )
        if subject.privileged and not role_policy.may_reach_privileged:
            reach = [r for r, rp in policy.roles.items() if rp.may_reach_privileged]
            only = f"only {_names(reach, ' or ')} may reach it" if reach else "no role may reach it"
            denials.append(
                "denied: the subject is privileged (an admin, staff or service account "
                f"of the application); {only}"
            )
    if request.reason_code not in policy.reason_codes:
        denials.append(
            f"denied: reason code {request.reason_code[:70]!r} is not one of "
            + ", ".join(policy.reason_codes)
        )
    if break_glass_refused:
        denials.append(break_glass_refused)

    high_risk = is_high_risk(
        policy=policy,
        account=account,
        kind=kind,
        scopes=scopes,
        break_glass=request.break_glass,
    )

    def decision(outcome: Outcome, reasons: list[str], **flags: bool) -> Decision:
        approval = flags.get("approval_required", False)
        return Decision(
            outcome=outcome,
            reasons=tuple(reasons),
            scopes=scopes,
            approvals_required=policy.approvals_required if approval else 0,
            approver_roles=policy.approver_roles if approval else frozenset(),
            high_risk=high_risk,
            consent_required=flags.get("consent_required", False),
            approval_required=approval,
            review_required=flags.get("review_required", False),
            max_minutes=cap,
            idle_timeout_minutes=policy.idle_timeout_minutes,
        )

    if denials or role_policy is None:
        return decision(Outcome.DENY, denials)

    rules = {f: policy.flags.get(f, _UNCONFIGURED) for f in account.flags}
    approval_flags = [f for f, rule in rules.items() if rule.approval]
    consent_flags = [f for f, rule in rules.items() if rule.consent]
    approval_causes = [_account_is(approval_flags)] if approval_flags else []
    if role_policy.requires_approval:
        plural = "roles require" if len(counted) > 1 else "role requires"
        approval_causes.append(f"the {_names(counted)} {plural} approval")
    approval_line = ""
    if approval_causes:
        n = policy.approvals_required
        by = (
            f"approval by {_nouns(policy.approver_roles)}"
            if n == 1
            else f"approval by {n} different staff holding {_names(policy.approver_roles, ' or ')}"
        )
        approval_line = f"{by} because {' and '.join(approval_causes)}"
    allowed_line = f"allowed: {who} may {kind.value} for up to {cap} minutes"

    if break_glass_ok:
        reasons = [
            "break-glass: approval skipped; security is alerted and the session must be reviewed"
        ]
        if consent_flags:
            because = _account_is(consent_flags)
            reasons.append(
                "break-glass: the customer's consent is skipped too; without break-glass "
                f"it would be needed because {because}"
            )
        if approval_line:
            reasons.append(f"without break-glass this would need {approval_line}")
        reasons.append(allowed_line + " under break-glass")
        return decision(Outcome.ALLOW, reasons, review_required=True)

    reasons = []
    consent_needed = False
    if consent_flags:
        gap = consent_gap(consent, request, scopes)
        if consent is not None and not gap:
            reasons.append(f"covered by the customer's consent until {_time(consent.expires_at)}")
        else:
            consent_needed = True
            because = _account_is(consent_flags)
            reasons.append(f"needs the customer's consent because {because}; {gap}")
    if approval_line:
        reasons.append(("then needs " if consent_needed else "needs ") + approval_line)
    if consent_needed:
        return decision(
            Outcome.NEEDS_CONSENT,
            reasons,
            consent_required=True,
            approval_required=bool(approval_line),
        )
    if approval_line:
        return decision(Outcome.NEEDS_APPROVAL, reasons, approval_required=True)
    reasons.append(allowed_line + "; no flag on the account asks for approval")
    return decision(Outcome.ALLOW, reasons)


def can_approve(
    *,
    policy: Policy,
    approver: StaffView,
    requester_id: str,
    decision_high_risk: bool,
    via_slack: bool = False,
) -> tuple[bool, str]:
    """Whether ``approver`` may approve a request, and why (T13: never one's own)."""
    if approver.id == requester_id:
        return False, "nobody may approve their own request"
    if not approver.roles & policy.approver_roles:
        return False, (
            f"only {_names(policy.approver_roles, ' or ')} may approve; "
            f"the approver holds {_names(approver.roles)}"
        )
    if decision_high_risk and via_slack:
        return (
            False,
            "a high-risk request is approved in the console with a TOTP code, not from Slack",
        )
    if decision_high_risk:
        return True, "may approve in the console after a TOTP code (high risk)"
    return True, f"may approve as {_names(approver.roles & policy.approver_roles)}"


def describe(policy: Policy) -> tuple[str, ...]:
    """The policy in plain lines, one per rule, for ``actas policy check`` and the console."""
    lines = []
    for role in _ordered(policy.roles):
        rp = policy.roles[role]
        kinds = " and ".join(k.value for k in AccessKind if k in rp.kinds) or "nothing"
        extras = [
            "assigned accounts only" if rp.assigned_only else "any account",
            *(["needs approval"] if rp.requires_approval else []),
            *(["may reach privileged subjects"] if rp.may_reach_privileged else []),
        ]
        lines.append(
            f"{role.value}: {kinds}; scopes {', '.join(sorted(rp.scopes)) or 'none'}; "
            f"up to {rp.max_minutes} minutes; {'; '.join(extras)}"
        )
    unlisted = [role for role in Role if role not in policy.roles]
    if unlisted:
        lines.append(f"{_names(unlisted)}: no support access")
    lines.append("no_access accounts: always denied; broker staff subjects: always denied")
    for flag in AccountFlag:
        if flag is AccountFlag.NO_ACCESS:
            continue
        rule = policy.flags.get(flag, _UNCONFIGURED)
        asks = [w for w, on in (("approval", rule.approval), ("consent", rule.consent)) if on]
        lines.append(f"{flag.value} accounts: " + (" and ".join(asks) or "nothing extra"))
    lines.append(
        f"approval: {policy.approvals_required} by {_names(policy.approver_roles, ' or ')}, "
        "never the requester"
    )
    bg = policy.break_glass
    lines.append(
        f"break-glass: {_names(bg.roles, ' or ')}, up to {bg.max_minutes} minutes, reviewed"
        if bg.enabled
        else "break-glass: disabled"
    )
    return tuple(lines)
