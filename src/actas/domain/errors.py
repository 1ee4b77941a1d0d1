"""One root for every error the broker raises on purpose.

Each error carries a stable ``code`` and a message that names the rule and the value. The
API turns them into RFC 9457 problems through a single table (``actas.api.problems``).
"""

from __future__ import annotations


class ActasError(Exception):
    """Root of the broker's own errors."""

    code = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ActasError):
    code = "invalid_input"


class NotFound(ActasError):
    code = "not_found"


class Conflict(ActasError):
    code = "conflict"


class AuthenticationFailed(ActasError):
    """Credentials were wrong. The message never says which part, to stop enumeration."""

    code = "authentication_failed"


class Throttled(ActasError):
    """Too many failures from this source: wait ``retry_after`` seconds. Said the same way
    whether or not the email belongs to anyone."""

    code = "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InvalidGrant(ActasError):
    """A one-time code or refresh handle is unknown, used, expired or bound elsewhere.
    One message for all of these, so that probing learns nothing."""

    code = "invalid_grant"


class NoTimeLeft(InvalidGrant):
    """The session ends before a token could be of any use (its last second)."""

    code = "session_over"


class Forbidden(ActasError):
    code = "forbidden"


class StepUpRequired(ActasError):
    code = "step_up_required"


class Unavailable(ActasError):
    code = "unavailable"
