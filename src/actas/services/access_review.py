"""The quarterly access review: build it from the quarter's rows, and let a member of
``security`` sign it off (an audit event in the same transaction as the sign-off row)."""

from __future__ import annotations

from actas.domain import access_review as review_rules
from actas.domain.access_review import (
    AccessReview,
    AlertFact,
    BreakGlassFact,
    EligibleStaff,
    SignOff,
)
from actas.domain.audit import Actor
from actas.domain.errors import Conflict, Forbidden, InvalidInput
from actas.domain.ports import UnitOfWork
from actas.domain.roles import Role
from actas.domain.staff import Staff
from actas.services import trail
from actas.services.context import ServiceContext

SIGNED = "access_review.signed"
MAX_COMMENT = 2000


def _build(ctx: ServiceContext, uow: UnitOfWork, quarter: review_rules.Quarter) -> AccessReview:
    start, end = quarter.start, quarter.end
    staff = uow.staff.all()
    # Eligibility is what the policy grants: a role the policy lets request access.
    requesting = set(ctx.policy.roles)
    eligible = [
        EligibleStaff(s.id, s.display_name, tuple(sorted(r.value for r in s.roles & requesting)))
        for s in staff
        if s.active and s.roles & requesting
    ]
    glass = [
        BreakGlassFact(
            request_id=request.id,
            staff_id=request.staff_id,
            account=f"{request.application_id}/{request.account_id}",
            used_at=request.created_at,
            reviewed_by=review.reviewer_id if review else None,
            justified=review.justified if review else None,
        )
        for request, review in uow.break_glass.between(start, end)
    ]
    return review_rules.build(
        quarter,
        sessions=uow.reviews.sessions_between(start, end),
        approvals=uow.reviews.approvals_between(start, end),
        break_glass=glass,
        alerts=[
            AlertFact(a.rule, a.acknowledged_at is not None) for a in uow.alerts.between(start, end)
        ],
        eligible=eligible,
        names={s.id: s.display_name for s in staff},
    )


def build(ctx: ServiceContext, quarter: str) -> AccessReview:
    """The review of ``quarter`` (``2026Q4``), read in one transaction so its parts agree."""
    parsed = review_rules.parse_quarter(quarter)
    with ctx.read() as uow:
        return _build(ctx, uow, parsed)


def signoffs(ctx: ServiceContext, quarter: str) -> list[SignOff]:
    parsed = review_rules.parse_quarter(quarter)
    with ctx.read() as uow:
        return uow.reviews.signoffs(parsed.label)


def sign_off(
    ctx: ServiceContext,
    *,
    quarter: str,
    digest: str,
    reviewer: Staff,
    comment: str,
    by: Actor,
) -> SignOff:
    """Sign the review of a finished quarter. ``digest`` is the one the reviewer was shown: if
    the figures changed since (a late row), the sign-off is refused rather than attached to
    figures nobody looked at."""
    if Role.SECURITY not in reviewer.roles or not reviewer.active:
        raise Forbidden("only security signs off an access review")
    comment = comment.strip()
    if not comment or len(comment) > MAX_COMMENT:
        raise InvalidInput(f"a comment of 1 to {MAX_COMMENT} characters is required")
    parsed = review_rules.parse_quarter(quarter)
    now = ctx.clock()
    if now < parsed.end:
        raise Conflict("a quarter is signed off once it has ended")
    with ctx.uow() as uow:
        current = _build(ctx, uow, parsed)
        if digest != current.digest:
            raise Conflict("the review changed since it was shown; look at it again")
        done = SignOff(parsed.label, reviewer.id, current.digest, comment, now)
        if not uow.reviews.sign(done):
            raise Conflict("you signed off this quarter already")
        uow.audit.record(
            trail.event(
                SIGNED,
                by,
                reason=comment,
                data={"quarter": parsed.label, "digest": current.digest},
            )
        )
    return done
