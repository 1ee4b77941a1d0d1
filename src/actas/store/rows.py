"""Between frozen domain dataclasses and rows whose columns bear the same names."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Convert = Callable[[Any], Any]


class RowLike(Protocol):
    @property
    def _mapping(self) -> Mapping[Any, Any]: ...


def from_row(cls: type[T], row: RowLike, **convert: Convert) -> T:
    """Build ``cls`` from the row's columns of the same names, converting where asked."""
    m = row._mapping
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        raw = m[f.name]
        values[f.name] = convert[f.name](raw) if f.name in convert and raw is not None else raw
    return cls(**values)


def to_row(obj: Any, *, skip: tuple[str, ...] = (), **convert: Convert) -> dict[str, Any]:
    """The column values of a dataclass, converting where asked."""
    values = {}
    for f in fields(obj):
        if f.name in skip:
            continue
        raw = getattr(obj, f.name)
        values[f.name] = convert[f.name](raw) if f.name in convert and raw is not None else raw
    return values


def joined(values: tuple[str, ...]) -> str:
    return " ".join(values)


def split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def enum_value(member: Any) -> Any:
    return member.value
