"""Step-up: a fresh code from the staff member's authenticator before anything sensitive
(starting a session, approving a high-risk request)."""

from __future__ import annotations

from actas.domain.errors import Forbidden, StepUpRequired
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services.context import ServiceContext


def require_fresh_code(
    ctx: ServiceContext, uow: UnitOfWork, staff: Staff, code: str | None
) -> None:
    """A fresh TOTP code, never one used before (it moves the staff member's last step)."""
    if not code:
        raise StepUpRequired("this needs a fresh code from your authenticator app")
    current = uow.staff.by_id(staff.id)
    if current is None or not current.active:
        raise Forbidden("the staff account is disabled")
    step = ctx.totp.matching_step(current.totp_secret, code.strip(), ctx.clock())
    if step is None or not uow.staff.claim_totp_step(staff.id, step):
        raise StepUpRequired("the authenticator code is wrong or was already used")
