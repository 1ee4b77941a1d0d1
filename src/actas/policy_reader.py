"""The TOML policy reader's tools: problems with their lines, and a reader that checks types,
keys and enum members while collecting every problem (split from ``policy_file``, which holds
the policy's own shape)."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from actas.domain.errors import ActasError
from actas.domain.policy_rules import MAX_MINUTES

E = TypeVar("E", bound=StrEnum)
KeyPath = tuple[str, ...]


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


def show(value: object) -> str:
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


def choices(options: Iterable[str]) -> str:
    return ", ".join(options)


class Reader:
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
            self.fail(path, f"{name} must be a table, got {show(data)}")
            return {}
        allowed = (*required, *optional)
        for key in data:
            if key not in allowed:
                near = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean {near[0]}?)" if near else f"; expected {choices(allowed)}"
                self.fail((*path, key), f"unknown {what} {'.'.join((*path, key))}{hint}")
        for key in required:
            if key not in data:
                self.fail(path, f"{name} is missing {key}")
        return {k: v for k, v in data.items() if k in allowed}

    def integer(self, path: KeyPath, value: object, *, high: int, unit: str = "") -> int | None:
        name = ".".join(path)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.fail(path, f"{name} must be a positive integer, got {show(value)}")
            return None
        if value > high:
            self.fail(path, f"{name} must be at most {high}{unit}, got {value}")
            return None
        return value

    def minutes(self, path: KeyPath, value: object) -> int | None:
        return self.integer(path, value, high=MAX_MINUTES, unit=" (a day)")

    def boolean(self, path: KeyPath, value: object) -> bool | None:
        if not isinstance(value, bool):
            self.fail(path, f"{'.'.join(path)} must be true or false, got {show(value)}")
            return None
        return value

    def strings(self, path: KeyPath, value: object) -> list[str]:
        if not isinstance(value, list):
            self.fail(path, f"{'.'.join(path)} must be an array of strings, got {show(value)}")
            return []
        good = []
        for item in value:
            if isinstance(item, str):
                good.append(item)
            else:
                self.fail(path, f"{'.'.join(path)} holds {show(item)}, not a string")
        return good

    def members(self, path: KeyPath, value: object, enum: type[E], what: str) -> frozenset[E]:
        found = set()
        for item in self.strings(path, value):
            try:
                found.add(enum(item))
            except ValueError:
                expected = choices(e.value for e in enum)
                self.fail(
                    path,
                    f"{'.'.join(path)} has unknown {what} {show(item)}; expected {expected}",
                    value=item,
                )
        return frozenset(found)
