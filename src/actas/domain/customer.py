"""What the customer is told and what they can do from an email, without signing in anywhere:
notices of sessions on their account, the kill switch that ends one, and the yes/no answer to
"did the fix work?" in a close-out email. Pure: standard library only.

A kill switch or an answer link is a one-time secret like a link (DESIGN.md, "One-time
secrets"): 256 bits behind its own prefix, stored only as its SHA-256, bound to one session or
case, used once with a conditional UPDATE. Its landing page is the broker's own
(``/customer/...``): GET shows a confirmation page and changes nothing (mail scanners prefetch
links), POST with the token in the form acts.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from actas.domain.errors import InvalidGrant, InvalidInput
from actas.domain.tokens import MAX_TOKEN_LENGTH, new_token


class ActionKind(StrEnum):
    #: End the session named in the session-started email.
    END_SESSION = "end_session"
    #: Answer "did the fix work?" from the close-out email.
    CONFIRM_FIX = "confirm_fix"


ACTION_PREFIXES: dict[ActionKind, str] = {
    ActionKind.END_SESSION: "actas_ces_",
    ActionKind.CONFIRM_FIX: "actas_ccf_",
}

#: A kill switch works as long as its session could be live (its hard expiry), at least this.
MIN_KILL_SWITCH_TTL = timedelta(hours=1)
#: The customer may answer a close-out email for two weeks.
CONFIRM_TTL = timedelta(days=14)

_ACTION_RE = re.compile(r"^actas_c[a-z]{2}_[A-Za-z0-9_-]{43}$")


class Notice(StrEnum):
    """The emails a customer gets about access to their account."""

    SESSION_STARTED = "session_started"
    SESSION_ENDED = "session_ended"
    BREAK_GLASS = "break_glass"
    LINK_SENT = "link_sent"
    CODE_SENT = "code_sent"
    CLOSE_OUT = "close_out"


#: Never suppressible, whatever a policy says: emergency access is always told.
ALWAYS_SENT = frozenset({Notice.BREAK_GLASS})
#: The default policy tells the customer everything (issue 10).
DEFAULT_NOTICES = frozenset(Notice)


def mandatory(policy_notices: frozenset[Notice]) -> frozenset[Notice]:
    """The notices that must go out: the policy's, and always the break-glass one."""
    return policy_notices | ALWAYS_SENT


class MalformedActionToken(InvalidInput):
    code = "malformed_action_token"


class ActionError(InvalidGrant):
    code = "action_invalid"


class ActionUnknown(ActionError):
    code = "action_unknown"


class ActionUsed(ActionError):
    code = "action_used"


class ActionExpired(ActionError):
    code = "action_expired"


class FixAnswer(StrEnum):
    YES = "yes"
    NO = "no"


@dataclass(frozen=True)
class CustomerAction:
    """An issued kill switch or answer link, as stored: its hash, never the token."""

    id: str
    kind: ActionKind
    application_id: str
    subject_id: str
    account_id: str
    case_id: str
    issued_at: datetime
    expires_at: datetime
    session_id: str | None = None
    used_at: datetime | None = None
    answer: str | None = None
    #: The outbox row of the email that carries the token.
    outbox_id: str | None = None
    #: When the outbox delivered that email (None: not yet, or never).
    sent_at: datetime | None = None
    #: When the outbox gave up on it (dead-lettered).
    send_failed_at: datetime | None = None


def new_action_token(kind: ActionKind) -> str:
    return new_token(ACTION_PREFIXES[kind])


def check_action_token(token: str, kind: ActionKind) -> str:
    """``token`` if it is well formed and of ``kind``; :class:`MalformedActionToken` else."""
    if len(token) > MAX_TOKEN_LENGTH or not _ACTION_RE.match(token):
        raise MalformedActionToken("the link is malformed")
    if not hmac.compare_digest(token[: len(ACTION_PREFIXES[kind])], ACTION_PREFIXES[kind]):
        raise MalformedActionToken("the link is malformed")
    return token


def answer_of(value: str) -> FixAnswer:
    try:
        return FixAnswer(value)
    except ValueError:
        raise InvalidInput("the answer is yes or no") from None


def kill_switch_ttl(now: datetime, session_expires_at: datetime) -> datetime:
    return max(session_expires_at, now + MIN_KILL_SWITCH_TTL)


def describe_duration(seconds: int) -> str:
    """ "1 hour 5 minutes", "40 seconds": how long, as the customer reads it."""
    seconds = max(seconds, 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    if not parts:
        parts.append(f"{secs} second{'s' if secs != 1 else ''}")
    return " ".join(parts)
