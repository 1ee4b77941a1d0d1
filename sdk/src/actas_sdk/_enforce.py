"""What an impersonated request may not do: protected actions (never), and unsafe methods
without the write scope (or a finer scope for the route)."""

from __future__ import annotations

from actas_sdk import errors
from actas_sdk._config import Config, Rules
from actas_sdk._routes import UNSAFE_METHODS
from actas_sdk.context import ImpersonationContext
from actas_sdk.markers import NO_MARKS, Marks, marks_of


class Checker:
    """:func:`refusal` for one application, with the marks of each view read once (not per
    request) and the common case (a read of an unmarked view) answered without the rules."""

    def __init__(self, config: Config, rules: Rules) -> None:
        self.config, self.rules = config, rules
        self._marks: dict[tuple[object, str], Marks] = {}

    def refusal(
        self,
        context: ImpersonationContext,
        method: str,
        path: str,
        view: object = None,
        marks: Marks | None = None,
    ) -> errors.Refused | None:
        if marks is None:
            marks = self.marks(view, method)
        if marks is NO_MARKS and method not in UNSAFE_METHODS and context.kind != "assist":
            return None
        return refusal(self.config, self.rules, context, method, path, view, marks)

    def marks(self, view: object, method: str) -> Marks:
        key = (view, method)
        try:
            return self._marks[key]
        except KeyError:
            pass
        except TypeError:  # a view that cannot be a key is read every time
            return marks_of(view, method)
        found = marks_of(view, method)
        if len(self._marks) >= 4096:
            self._marks.clear()
        self._marks[key] = found
        return found


def refusal(
    config: Config,
    rules: Rules,
    context: ImpersonationContext,
    method: str,
    path: str,
    view: object = None,
    marks: Marks | None = None,
) -> errors.Refused | None:
    """Why this request may not run during impersonation, or None. ``view`` (or its
    precomputed ``marks``) carries the decorators' marks. Protected route patterns apply to
    unsafe methods; a marked view is refused whatever the method."""
    if marks is None:
        marks = marks_of(view, method)
    if context.is_assist:
        return assist_refusal(rules, context, method, path, marks)
    unsafe = method in UNSAFE_METHODS
    if not unsafe and marks is NO_MARKS:
        return None
    category = marks.protected
    if category is None and unsafe:
        category = rules.protected.match(method, path)
    if category is not None and not (marks.allow or rules.allowed.match(method, path)):
        return errors.Refused(
            f"{method} {path[:100]} is a protected action ({category}): never during impersonation",
            reason=f"protected:{category}",
        )
    if not unsafe or config.write_scope in context.scopes:
        return None
    if marks.scopes & context.scopes:
        return None
    for scope in context.scopes:
        routes = rules.scoped.get(scope)
        if routes is not None and routes.match(method, path) is not None:
            return None
    granted = " ".join(sorted(context.scopes)) or "none"
    return errors.Refused(
        f"{method} needs scope {config.write_scope!r}; this session has: {granted}",
        reason="scope",
    )


def assist_refusal(
    rules: Rules, context: ImpersonationContext, method: str, path: str, marks: Marks
) -> errors.Refused | None:
    """In assist the staff member is not the customer: only views marked with (or routes
    scoped to) an admin action the session names may run, whatever the method."""
    actions = context.admin_actions()
    if marks.protected is None and marks.scopes & actions:
        return None
    for scope in actions:
        routes = rules.scoped.get(scope)
        if routes is not None and routes.match(method, path) is not None:
            return None
    named = " ".join(sorted(actions)) or "none"
    return errors.Refused(
        f"{method} {path[:100]} is not an admin action of this assist session "
        f"(it may call: {named})",
        reason="assist",
    )
