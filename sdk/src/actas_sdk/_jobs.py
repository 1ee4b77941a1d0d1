"""Background jobs run as the impersonation that queued them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from actas_sdk import errors
from actas_sdk.context import ImpersonationContext, activated

if TYPE_CHECKING:
    from actas_sdk._runtime import ActAs


@contextmanager
def job(actas: ActAs, token: str | None, *, name: str) -> Iterator[ImpersonationContext | None]:
    """See :meth:`ActAs.job`: the token re-verified (its ``exp`` extended by the job's
    allowed age), the session checked live, and one ``job`` event recorded at the end."""
    if token is None:
        yield None
        return
    now = actas.clock()
    verified = actas.verifier.verify(token, now, via="job", check_exp=False)
    if verified.exp + actas.config.job_max_age_seconds <= now:
        raise errors.TokenExpired(verified.exp, now, actas.config.job_max_age_seconds)
    actas._check_live(verified.context.session_id, now, allow_io=True)
    with activated(verified.context, at=actas.clock()) as frame:
        detail = "completed"
        try:
            yield verified.context
        except BaseException as exc:
            detail = f"failed: {type(exc).__name__}"
            raise
        finally:
            actas.record(
                frame, method=None, route=name[:300], status=None, kind="job", detail=detail
            )
