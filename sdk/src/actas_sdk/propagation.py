"""Carrying an impersonation to the application's own services and background jobs.

The actor token itself travels (a header, or a task's headers dict), so the receiving side
verifies it again instead of trusting whoever sent it: a job started by staff is recorded as
staff acting for the user. Celery and RQ need no import here: both take a plain dict.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, TypeVar

from actas_sdk.context import current_impersonation

#: The header carrying the actor token to another service (matches ``Config.propagation_header``).
HEADER = "X-Actas-Actor-Token"
#: The key under which the token travels in a task's headers (Celery) or meta (RQ).
TASK_KEY = "actas_actor_token"

M = TypeVar("M", bound=MutableMapping[str, Any])


def outgoing_headers(header: str = HEADER) -> dict[str, str]:
    """``{header: token}`` while impersonating, else ``{}``: merge it into an outgoing call
    to one of your own services (never to a third party)."""
    context = current_impersonation()
    if context is None or not context.token:
        return {}
    return {header: context.token}


def put_token(headers: M) -> M:
    """Add the current actor token to a task's headers dict (returned for chaining); a no-op
    for normal users. Celery: ``apply_async(..., headers=put_token({}))``; RQ:
    ``enqueue(..., meta=put_token({}))``."""
    context = current_impersonation()
    if context is not None and context.token:
        headers[TASK_KEY] = context.token
    return headers


def take_token(headers: Mapping[str, Any] | None) -> str | None:
    """The actor token a task carries, or None; pass it to :meth:`ActAs.job`."""
    if not headers:
        return None
    value = headers.get(TASK_KEY)
    return value if isinstance(value, str) and value else None
