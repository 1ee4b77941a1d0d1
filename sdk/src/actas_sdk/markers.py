"""Marks on views: protected actions, explicit opt-outs, and the finer scopes a route needs.

The decorators only set attributes and return the view itself, so they work under any
framework's route decorator (put them below it). The middleware reads them before the view
runs: Flask and Django hand it the view; under ASGI it finds the route the way the router will.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_PROTECTED = "__actas_protected__"
_ALLOW = "__actas_allow__"
_SCOPES = "__actas_scopes__"


def protected_action(category: str) -> Callable[[F], F]:
    """Refuse this view during impersonation whatever the scopes (a credential or identity
    change: ``password``, ``mfa``, ``api_keys``, ``email``, ``payment_methods``,
    ``account_deletion``...). Every refusal is audited."""

    def mark(view: F) -> F:
        setattr(view, _PROTECTED, category)
        return view

    return mark


def allow_during_impersonation(view: F) -> F:
    """Opt this view out of protection (a protected pattern or mark) explicitly."""
    setattr(view, _ALLOW, True)
    return view


def requires_scope(*scopes: str) -> Callable[[F], F]:
    """Let this view's unsafe methods run during impersonation when the session holds one of
    ``scopes`` (the ``write`` scope allows every unsafe method anyway)."""

    def mark(view: F) -> F:
        setattr(view, _SCOPES, frozenset(scopes) | getattr(view, _SCOPES, frozenset()))
        return view

    return mark


class Marks(NamedTuple):
    protected: str | None = None
    allow: bool = False
    scopes: frozenset[str] = frozenset()


NO_MARKS = Marks()


def marks_of(view: object, method: str) -> Marks:
    """The marks of ``view`` for ``method``, looking into class-based views too."""
    if view is None:
        return NO_MARKS
    candidates: list[object] = [view]
    view_class = getattr(view, "view_class", None)  # Django and Flask class-based views
    if view_class is not None:
        candidates.append(view_class)
    if isinstance(view, type) or view_class is not None:  # Starlette HTTPEndpoint, MethodView
        owner = view_class if view_class is not None else view
        handler = getattr(owner, method.lower(), None)
        if handler is not None:
            candidates.append(handler)
    protected: str | None = None
    allow = False
    scopes: frozenset[str] = frozenset()
    for candidate in candidates:
        protected = protected or getattr(candidate, _PROTECTED, None)
        allow = allow or bool(getattr(candidate, _ALLOW, False))
        scopes = scopes | getattr(candidate, _SCOPES, frozenset())
    if protected is None and not allow and not scopes:
        return NO_MARKS
    return Marks(protected=protected, allow=allow, scopes=scopes)
