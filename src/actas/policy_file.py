"""Reading the access policy from TOML, checking every key, and pointing at the line at fault.

The shape is documented in ``default_policy.toml``, which ships with the broker. Unknown keys,
roles, flags, kinds and scopes are errors: a typo must never quietly widen or narrow access.
All the problems in a file are reported at once, each as ``source:line: message``.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actas.domain.customer import ALWAYS_SENT, DEFAULT_NOTICES, Notice
from actas.domain.errors import InvalidInput
from actas.domain.policy_rules import (
    DEFAULT_GRANT_MINUTES,
    MAX_APPROVALS,
    MAX_GRANT_MINUTES,
    REASON_CODE_RE,
    AccessKind,
    BreakGlass,
    FlagRule,
    Policy,
    RolePolicy,
    scope_problem,
)
from actas.domain.roles import Role
from actas.domain.subjects import AccountFlag
from actas.policy_alerts import read_alerts
from actas.policy_reader import PolicyError as PolicyError
from actas.policy_reader import PolicyProblem as PolicyProblem
from actas.policy_reader import Reader, show

#: The policy that ships with the broker, used when none is configured.
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.toml")

_TOP_REQUIRED = (
    "approver_roles",
    "approvals_required",
    "idle_timeout_minutes",
    "request_ttl_minutes",
    "reason_codes",
    "high_risk_flags",
    "roles",
    "flags",
)
_TOP_OPTIONAL = ("high_risk_kinds", "break_glass", "alerts", "customer_notices", "grant_minutes")
_ROLE_REQUIRED = ("kinds", "scopes", "max_minutes", "assigned_only")
_ROLE_OPTIONAL = ("requires_approval", "may_reach_privileged")
_CONFIGURABLE_FLAGS = tuple(f for f in AccountFlag if f is not AccountFlag.NO_ACCESS)


def _read_role(reader: Reader, role: Role, data: object) -> RolePolicy | None:
    path = ("roles", role.value)
    before = len(reader.problems)
    table = reader.table(path, data, _ROLE_REQUIRED, _ROLE_OPTIONAL)
    kinds = reader.members((*path, "kinds"), table.get("kinds", []), AccessKind, "kind")
    scopes = reader.strings((*path, "scopes"), table.get("scopes", []))
    for scope in scopes:
        if problem := scope_problem(scope, grant=True):
            reader.fail((*path, "scopes"), f"{'.'.join(path)}.scopes: {problem}", value=scope)
    max_minutes = reader.minutes((*path, "max_minutes"), table.get("max_minutes", 1))
    flags = {
        key: reader.boolean((*path, key), table.get(key, False))
        for key in ("assigned_only", "requires_approval", "may_reach_privileged")
    }
    if len(reader.problems) > before or max_minutes is None:
        return None
    return RolePolicy(
        kinds=kinds,
        scopes=frozenset(scopes),
        max_minutes=max_minutes,
        assigned_only=bool(flags["assigned_only"]),
        requires_approval=bool(flags["requires_approval"]),
        may_reach_privileged=bool(flags["may_reach_privileged"]),
    )


def _read_roles(reader: Reader, data: object) -> dict[Role, RolePolicy]:
    roles: dict[Role, RolePolicy] = {}
    table = reader.table(("roles",), data, (), tuple(r.value for r in Role), what="role")
    for name, value in table.items():
        if (role_policy := _read_role(reader, Role(name), value)) is not None:
            roles[Role(name)] = role_policy
    return roles


def _read_flags(reader: Reader, data: object) -> dict[AccountFlag, FlagRule]:
    flags: dict[AccountFlag, FlagRule] = {}
    if isinstance(data, dict) and AccountFlag.NO_ACCESS.value in data:
        reader.fail(
            ("flags", "no_access"),
            "flags.no_access cannot be configured: no_access always denies",
        )
        data = {k: v for k, v in data.items() if k != AccountFlag.NO_ACCESS.value}
    names = tuple(f.value for f in _CONFIGURABLE_FLAGS)
    table = reader.table(("flags",), data, (), names, what="flag")
    for flag in _CONFIGURABLE_FLAGS:
        path = ("flags", flag.value)
        if flag.value not in table:
            if isinstance(data, dict):  # else: already reported as not a table
                reader.fail(
                    ("flags",),
                    f"flags.{flag.value} is missing; list every flag except no_access "
                    "(approval = false and consent = false to let it ask for nothing)",
                )
            continue
        rule = reader.table(path, table[flag.value], ("approval", "consent"))
        approval = reader.boolean((*path, "approval"), rule.get("approval", False))
        consent = reader.boolean((*path, "consent"), rule.get("consent", False))
        if approval is not None and consent is not None:
            flags[flag] = FlagRule(approval=approval, consent=consent)
    return flags


def _read_break_glass(reader: Reader, data: object, declared: Sequence[str]) -> BreakGlass:
    path = ("break_glass",)
    table = reader.table(path, data, ("enabled",), ("roles", "max_minutes"))
    enabled = reader.boolean((*path, "enabled"), table.get("enabled", False))
    if not enabled:
        return BreakGlass(enabled=False)
    for key in ("roles", "max_minutes"):
        if key not in table:
            reader.fail(path, f"break_glass is enabled but is missing {key}")
    bg_roles = reader.members((*path, "roles"), table.get("roles", []), Role, "role")
    if "roles" in table and not bg_roles:
        reader.fail((*path, "roles"), "break_glass is enabled but break_glass.roles is empty")
    for role in sorted(r for r in bg_roles if r.value not in declared):
        reader.fail(
            (*path, "roles"),
            f"break_glass.roles names {role.value}, which has no [roles.{role.value}] table",
            value=role.value,
        )
    max_minutes = reader.minutes((*path, "max_minutes"), table.get("max_minutes", 1))
    if reader.problems or max_minutes is None:
        return BreakGlass(enabled=False)  # never used: the policy is refused
    return BreakGlass(enabled=True, roles=bg_roles, max_minutes=max_minutes)


def _read_notices(reader: Reader, top: dict[str, Any]) -> frozenset[Notice]:
    """The emails the customer gets (all of them when the key is absent). The break-glass
    notice cannot be left out: the file must not read as if it could."""
    if "customer_notices" not in top:
        return DEFAULT_NOTICES
    path = ("customer_notices",)
    notices = reader.members(path, top["customer_notices"], Notice, "notice")
    if isinstance(top["customer_notices"], list) and not notices >= ALWAYS_SENT:
        reader.fail(
            path,
            "customer_notices must include break_glass: the customer is always told when "
            "break-glass access is used",
        )
    return notices


def _read_grant_minutes(reader: Reader, top: dict[str, Any]) -> tuple[int, ...]:
    """The durations a customer may grant access for: 1 to 5 distinct values, each at most
    thirty days, shortest first (the default when the key is absent)."""
    if "grant_minutes" not in top:
        return DEFAULT_GRANT_MINUTES
    path = ("grant_minutes",)
    value = top["grant_minutes"]
    if not isinstance(value, list) or not 1 <= len(value) <= 5:
        reader.fail(path, f"grant_minutes must list 1 to 5 durations, got {show(value)}")
        return DEFAULT_GRANT_MINUTES
    read = [reader.integer(path, v, high=MAX_GRANT_MINUTES, unit=" (30 days)") for v in value]
    chosen = [m for m in read if m is not None]
    if len(set(chosen)) != len(chosen):
        reader.fail(path, "grant_minutes lists a duration twice")
    return tuple(sorted(set(chosen))) or DEFAULT_GRANT_MINUTES


def _read(reader: Reader, data: dict[str, Any]) -> Policy | None:
    top = reader.table((), data, _TOP_REQUIRED, _TOP_OPTIONAL)
    roles = _read_roles(reader, top["roles"]) if "roles" in top else {}
    flags = _read_flags(reader, top["flags"]) if "flags" in top else {}
    approver_roles = reader.members(
        ("approver_roles",), top.get("approver_roles", []), Role, "role"
    )
    if "approver_roles" in top and not approver_roles:
        reader.fail(("approver_roles",), "approver_roles must name at least one role")
    approvals = reader.integer(
        ("approvals_required",), top.get("approvals_required", 1), high=MAX_APPROVALS
    )
    idle = reader.minutes(("idle_timeout_minutes",), top.get("idle_timeout_minutes", 1))
    ttl = reader.minutes(("request_ttl_minutes",), top.get("request_ttl_minutes", 1))
    codes = reader.strings(("reason_codes",), top.get("reason_codes", []))
    if "reason_codes" in top and not codes:
        reader.fail(("reason_codes",), "reason_codes must list at least one reason code")
    for code in codes:
        if not REASON_CODE_RE.match(code):
            reader.fail(
                ("reason_codes",),
                f"reason_codes has {show(code)}; a code is 1-64 of a-z, 0-9 and _, "
                "starting with a letter",
                value=code,
            )
    risky_flags = reader.members(
        ("high_risk_flags",), top.get("high_risk_flags", []), AccountFlag, "flag"
    )
    if AccountFlag.NO_ACCESS in risky_flags:
        reader.fail(
            ("high_risk_flags",),
            "high_risk_flags cannot hold no_access: no_access always denies",
            value="no_access",
        )
    risky_kinds = reader.members(
        ("high_risk_kinds",), top.get("high_risk_kinds", []), AccessKind, "kind"
    )
    roles_table = top.get("roles")
    declared = [str(name) for name in roles_table] if isinstance(roles_table, dict) else []
    break_glass = _read_break_glass(reader, top.get("break_glass", {"enabled": False}), declared)
    alerts = read_alerts(reader, top.get("alerts", {}))
    notices = _read_notices(reader, top)
    grant_minutes = _read_grant_minutes(reader, top)
    if reader.problems or approvals is None or idle is None or ttl is None:
        return None
    return Policy(
        roles=roles,
        flags=flags,
        approver_roles=approver_roles,
        approvals_required=approvals,
        idle_timeout_minutes=idle,
        request_ttl_minutes=ttl,
        reason_codes=tuple(codes),
        high_risk_flags=risky_flags,
        high_risk_kinds=risky_kinds,
        break_glass=break_glass,
        alerts=alerts,
        customer_notices=notices,
        grant_minutes=grant_minutes,
    )


_TOML_AT_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def load_policy_text(text: str, *, source: str) -> Policy:
    """Parse and check a policy. ``source`` names it in messages (usually the file's path).

    :raises PolicyError: listing every problem, each with its line where one is known.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line: int | None = len(text.splitlines()) or 1
        if match := _TOML_AT_RE.search(message):
            message = message[: match.start()]
            if match[1]:
                line = int(match[1])
                message += f" (column {match[2]})"
        raise PolicyError([PolicyProblem(source, line, "", f"not valid TOML: {message}")]) from None
    reader = Reader(text, source)
    try:
        policy = _read(reader, data)
    except InvalidInput as exc:  # a rule the checks above missed: still one clear line
        reader.problems.append(PolicyProblem(source, None, "", exc.detail))
        policy = None
    if policy is None:
        raise PolicyError(reader.problems)
    return policy


def load_policy(path: Path) -> Policy:
    """Read and check the policy file at ``path``.

    :raises PolicyError: when it cannot be read, is not TOML, or breaks a rule.
    """
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise PolicyError([PolicyProblem(source, None, "", f"cannot read: {reason}")]) from None
    except UnicodeDecodeError as exc:
        raise PolicyError(
            [PolicyProblem(source, None, "", f"not UTF-8 (byte {exc.start})")]
        ) from None
    return load_policy_text(text, source=source)


@functools.cache
def load_default_policy() -> Policy:
    """The shipped default policy (read once; a ``Policy`` is immutable)."""
    return load_policy(DEFAULT_POLICY_PATH)
