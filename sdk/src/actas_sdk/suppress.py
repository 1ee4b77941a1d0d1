"""Silencing side effects aimed at the user while a staff member acts as them.

Every skip is counted on the current request (or job), and the count travels with its audit
event: ``{"email": 1, "push": 2}``.
"""

from __future__ import annotations

import functools
import inspect
import smtplib
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from actas_sdk.context import count_suppressed, suppressed

F = TypeVar("F", bound=Callable[..., Any])


class skip_during_impersonation:
    """Skip a function during impersonation (it returns ``default``), as a decorator::

        @skip_during_impersonation("push")
        def send_push(user, text): ...

    or guard a block, as a context manager whose value is true while impersonating::

        with skip_during_impersonation("webhook") as skipped:
            if not skipped:
                deliver(...)
    """

    def __init__(self, kind: str, *, default: Any = None) -> None:
        self.kind = kind
        self.default = default

    def __call__(self, func: F) -> F:
        kind, default = self.kind, self.default
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def skip_async(*args: Any, **kwargs: Any) -> Any:
                if suppressed():
                    count_suppressed(kind)
                    return default
                return await func(*args, **kwargs)

            return cast(F, skip_async)

        @functools.wraps(func)
        def skip(*args: Any, **kwargs: Any) -> Any:
            if suppressed():
                count_suppressed(kind)
                return default
            return func(*args, **kwargs)

        return cast(F, skip)

    def __enter__(self) -> bool:
        if suppressed():
            count_suppressed(self.kind)
            return True
        return False

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


_smtp_lock = threading.Lock()
_smtp_originals: dict[str, Callable[..., Any]] = {}


def patch_smtplib() -> None:
    """Make every ``smtplib.SMTP`` (and ``SMTP_SSL``, ``LMTP``) send a no-op during
    impersonation: the message is counted as a suppressed ``email`` and reported as accepted
    for all recipients. Idempotent; :func:`unpatch_smtplib` undoes it."""
    with _smtp_lock:
        if _smtp_originals:
            return
        for name in ("sendmail", "send_message"):
            original = getattr(smtplib.SMTP, name)
            _smtp_originals[name] = original
            setattr(smtplib.SMTP, name, _quiet(original))


def unpatch_smtplib() -> None:
    with _smtp_lock:
        for name, original in _smtp_originals.items():
            setattr(smtplib.SMTP, name, original)
        _smtp_originals.clear()


def _quiet(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def send(self: smtplib.SMTP, *args: Any, **kwargs: Any) -> Any:
        if suppressed():
            count_suppressed("email")
            return {}
        return original(self, *args, **kwargs)

    return send
