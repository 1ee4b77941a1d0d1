"""Break-glass review: every break-glass use waits in a queue until someone other than its user
records whether it was justified; one still unreviewed after a while alerts again."""

from __future__ import annotations

from actas.domain import alerts as rules
from actas.domain.access import AccessRequest
from actas.domain.alerts import Alert, AlertRule, BreakGlassReview
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, InvalidInput
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.services import alerts, trail
from actas.services.context import ServiceContext

REVIEWED = "break_glass.reviewed"
MAX_COMMENT = 2000


def queue(ctx: ServiceContext) -> list[AccessRequest]:
    """Break-glass uses nobody has reviewed yet, oldest first."""
    with ctx.read() as uow:
        return uow.break_glass.unreviewed()


def review(
    ctx: ServiceContext,
    *,
    request_id: str,
    reviewer: Staff,
    justified: bool,
    comment: str,
    by: Actor,
) -> BreakGlassReview:
    """Record the outcome of one break-glass use: by ``security``, never by its user, once."""
    if Role.SECURITY not in reviewer.roles or not reviewer.active:
        raise Forbidden("only security reviews break-glass access")
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"a comment of 1 to {MAX_COMMENT} characters is required")
    with ctx.uow() as uow:
        request = trail.load_request(uow, request_id)
        if not request.break_glass or request.outcome != "allow":
            raise Conflict("this request did not use break-glass")
        if request.staff_id == reviewer.id:
            raise Forbidden("a break-glass use is reviewed by someone other than its user")
        done = BreakGlassReview(
            request_id=request.id,
            reviewer_id=reviewer.id,
            justified=justified,
            comment=comment,
            reviewed_at=ctx.clock(),
        )
        if not uow.break_glass.record(done):
            raise Conflict("this break-glass use is already reviewed")
        uow.audit.record(
            trail.event(
                REVIEWED,
                by,
                request=request,
                reason=comment,
                data={"justified": justified, "reviewer": reviewer.id},
            )
        )
    return done


def alert_overdue(ctx: ServiceContext) -> int:
    """Alert again on each break-glass use still unreviewed past the policy's delay, once per
    such period (the sweeper calls this). Returns the number of alerts raised."""
    policy = ctx.policy.alerts
    if not policy.on(AlertRule.BREAK_GLASS_UNREVIEWED):
        return 0
    raised = 0
    now = ctx.clock()
    for request in queue(ctx):
        if not rules.review_overdue(
            used_at=request.created_at, now=now, after=policy.break_glass_review
        ):
            continue
        hours = int((now - request.created_at).total_seconds()) // 3600
        alert = Alert(
            AlertRule.BREAK_GLASS_UNREVIEWED,
            request.id,
            rules.window_start(at=now, window=policy.break_glass_review),
            account=request.account_id,
            application=request.application_id,
            staff=request.staff_id,
            detail={"request": request.id, "hours_unreviewed": hours},
        )
        with ctx.uow() as uow:
            if alerts.raise_alert(ctx, uow, alert, at=now):
                raised += 1
    return raised
