"""Reading the access policy from TOML, checking every key, and pointing at the line at fault.

The shape is documented in ``default_policy.toml``, which ships with the broker. Unknown keys,
roles, flags, kinds and scopes are errors: a typo must never quietly widen or narrow access.
All the problems in a file are reported at once, each as ``source:line: message``.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from actas.domain.errors import ActasError, InvalidInput
from actas.domain.policy_rules import (
    MAX_APPROVALS,
    MAX_MINUTES,
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

#: The policy that ships with the broker, used when none is configured.
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.toml")

E = TypeVar("E", bound=StrEnum)
KeyPath = tuple[str, ...]

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
_TOP_OPTIONAL = ("high_risk_kinds", "break_glass", "alerts")
_ROLE_REQUIRED = ("kinds", "scopes", "max_minutes", "assigned_only")
_ROLE_OPTIONAL = ("requires_approval", "may_reach_privileged")
_CONFIGURABLE_FLAGS = tuple(f for f in AccountFlag if f is not AccountFlag.NO_ACCESS)


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong with a policy file."""

    source: str
    #: 1-based; None when the problem has no line (an unreadable file).
    line: int | None
    #: The dotted key at fault, "" for the file as a whole.
    key: str
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


class PolicyError(ActasError):
    """The policy file cannot be used. ``str()`` gives one ``source:line: message`` per problem."""

    code = "invalid_policy"

    def __init__(self, problems: Sequence[PolicyProblem]) -> None:
        if not problems:
            raise ValueError("a PolicyError needs at least one problem")
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = tuple(problems)
        self.source = problems[0].source
        self.line = problems[0].line
        self.key = problems[0].key


def _split_dotted(text: str) -> KeyPath:
    parts = re.findall(r'"([^"]*)"|\'([^\']*)\'|([^.\s]+)', text)
    return tuple(next(p for p in groups if p) if any(groups) else "" for groups in parts)


_HEADER_RE = re.compile(r"^\[\[?\s*(?P<name>[^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_PART = r'(?:[A-Za-z0-9_-]+|"[^"]*"|\'[^\']*\')'
_KEY_RE = re.compile(rf"^(?P<key>{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")


class _Locator:
    """Finds the line of a key: its table header, then its ``key =`` line inside that table."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.keys: dict[KeyPath, int] = {}
        self.starts: list[int] = []
        table: KeyPath = ()
        in_string = False
        for number, raw in enumerate(self.lines, start=1):
            line = raw.strip()
            was_in_string = in_string
            in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1
            if was_in_string:
                continue
            if header := _HEADER_RE.match(line):
                table = _split_dotted(header["name"])
                self._add(table, number)
            elif key := _KEY_RE.match(line):
                self._add(table + _split_dotted(key["key"]), number)

    def _add(self, path: KeyPath, number: int) -> None:
        self.starts.append(number)
        for end in range(1, len(path) + 1):
            self.keys.setdefault(path[:end], number)

    def line(self, path: KeyPath, value: str | None = None) -> int | None:
        """The line of ``path`` (or of its nearest parent); of ``value`` in it when given."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.keys:
                found = self.keys[path[:end]]
                break
        else:
            return 1 if self.lines else None
        if value is not None and end == len(path):
            stop = min((n for n in self.starts if n > found), default=len(self.lines) + 1)
            quoted = (json.dumps(value), f"'{value}'")
            for number in range(found, stop):
                if any(q in self.lines[number - 1] for q in quoted):
                    return number
        return found


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:70])
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _choices(options: Iterable[str]) -> str:
    return ", ".join(options)


class _Reader:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.locator = _Locator(text)
        self.problems: list[PolicyProblem] = []

    def fail(self, path: KeyPath, message: str, *, value: str | None = None) -> None:
        line = self.locator.line(path, value)
        self.problems.append(PolicyProblem(self.source, line, ".".join(path), message))

    def table(
        self,
        path: KeyPath,
        data: object,
        required: Sequence[str],
        optional: Sequence[str] = (),
        *,
        what: str = "key",
    ) -> dict[str, Any]:
        name = ".".join(path) or "the policy"
        if not isinstance(data, dict):
            self.fail(path, f"{name} must be a table, got {_show(data)}")
            return {}
        allowed = (*required, *optional)
        for key in data:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {near[0]}?)" if near else f"; expected {_choices(allowed)}"
                self.fail((*path, key), f"unknown {what} {'.'.join((*path, key))}{hint}")
        for key in required:
            if key not in data:
                self.fail(path, f"{name} is missing {key}")
        return {k: v for k, v in data.items() if k in allowed}

    def integer(self, path: KeyPath, value: object, *, high: int, unit: str = "") -> int | None:
        name = ".".join(path)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.fail(path, f"{name} must be a positive integer, got {_show(value)}")
            return None
        if value > high:
            self.fail(path, f"{name} must be at most {high}{unit}, got {value}")
            return None
        return value

    def minutes(self, path: KeyPath, value: object) -> int | None:
        return self.integer(path, value, high=MAX_MINUTES, unit=" (a day)")

    def boolean(self, path: KeyPath, value: object) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"{'.'.join(path)} must be true or false, got {_show(value)}")
            return None
        return value

    def strings(self, path: KeyPath, value: object) -> list[str]:
        if not isinstance(value, list):
            self.fail(path, f"{'.'.join(path)} must be an array of strings, got {_show(value)}")
            return []
        good = []
        for item in value:
            if isinstance(item, str):
                good.append(item)
            else:
                self.fail(path, f"{'.'.join(path)} holds {_show(item)}, not a string")
        return good

    def members(self, path: KeyPath, value: object, enum: type[E], what: str) -> frozenset[E]:
        found = set()
        for item in self.strings(path, value):
            try:
                found.add(enum(item))
            except ValueError:
                expected = _choices(e.value for e in enum)
                self.fail(
                    path,
                    f"{'.'.join(path)} has unknown {what} {_show(item)}; expected {expected}",
                    value=item,
                )
        return frozenset(found)


def _read_role(reader: _Reader, role: Role, data: object) -> RolePolicy | None:
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


def _read_roles(reader: _Reader, data: object) -> dict[Role, RolePolicy]:
    roles: dict[Role, RolePolicy] = {}
    table = reader.table(("roles",), data, (), tuple(r.value for r in Role), what="role")
    for name, value in table.items():
        if (role_policy := _read_role(reader, Role(name), value)) is not None:
            roles[Role(name)] = role_policy
    return roles


def _read_flags(reader: _Reader, data: object) -> dict[AccountFlag, FlagRule]:
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


def _read_break_glass(reader: _Reader, data: object, declared: Sequence[str]) -> BreakGlass:
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


def _read(reader: _Reader, data: dict[str, Any]) -> Policy | None:
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
                f"reason_codes has {_show(code)}; a code is 1-64 of a-z, 0-9 and _, "
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
    reader = _Reader(text, source)
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
