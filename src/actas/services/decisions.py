"""The policy's decision on the state as it is now: at request, approval and start time, for
the console's live preview, and for ``actas policy explain``."""

from __future__ import annotations

from actas.domain.access import Case, CaseStatus
from actas.domain.consent import apply_customer_policy, best_consent
from actas.domain.emails import canonical_email, normalise_email
from actas.domain.errors import InvalidInput, NotFound
from actas.domain.policy import (
    AccessRequestSpec,
    AccountView,
    Decision,
    StaffView,
    SubjectView,
    decide,
)
from actas.domain.policy_rules import AccessKind
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services import trail
from actas.services.context import ServiceContext


def decide_now(
    ctx: ServiceContext,
    uow: UnitOfWork,
    *,
    staff: Staff,
    case: Case,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    break_glass: bool,
) -> Decision:
    """Evaluate the policy on the current state. Run at request, approval and start time, so a
    subject or account that changed in between is judged as it is now (T12)."""
    try:
        access_kind = AccessKind(kind)
    except ValueError:
        raise InvalidInput(f"kind {kind[:20]!r} is not assist or impersonate") from None
    subject = uow.subjects.get(case.application_id, case.subject_id)
    account = uow.accounts.get(case.application_id, case.account_id)
    if subject is None or account is None:
        raise NotFound("the case's subject or account no longer exists")
    # Both sides canonical on read: rows stored before emails were normalised where they enter
    # (a subject's " lead1@..." or a staff member's non-ASCII spelling) compare as they mean.
    staff_emails = {canonical_email(e) for e in uow.staff.emails()}
    is_staff = subject.email is not None and canonical_email(subject.email) in staff_emails
    spec = AccessRequestSpec(
        kind=access_kind,
        scopes=scopes,
        minutes=minutes,
        reason_code=case.reason_code,
        now=ctx.clock(),
        break_glass=break_glass,
    )
    # The customer's live grant that applies to this case and staff member, if any.
    consent = best_consent(
        uow.grants.for_account(case.application_id, case.account_id),
        case_id=case.id,
        staff_id=staff.id,
        request=spec,
    )
    decision = decide(
        policy=ctx.policy,
        staff=StaffView(
            id=staff.id, roles=staff.roles, assigned_accounts=uow.assignments.for_staff(staff.id)
        ),
        subject=SubjectView.of(subject, is_broker_staff=is_staff),
        account=AccountView.of(account),
        consent=consent,
        request=spec,
    )
    # The stricter of the broker's policy and the customer's own wins.
    return apply_customer_policy(
        decision,
        customer=uow.customer_policies.get(case.application_id, case.account_id),
        consent=consent,
        request=spec,
    )


def preview(
    ctx: ServiceContext,
    *,
    staff: Staff,
    case_id: str,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    break_glass: bool = False,
) -> Decision:
    """The decision a request would get now, without recording anything."""
    with ctx.read() as uow:
        case = trail.load_case(uow, case_id)
        return decide_now(
            ctx,
            uow,
            staff=staff,
            case=case,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=break_glass,
        )


def explain(
    ctx: ServiceContext,
    *,
    staff_email: str,
    application_id: str,
    subject_id: str,
    kind: str,
    scopes: frozenset[str],
    minutes: int,
    reason_code: str | None = None,
    break_glass: bool = False,
) -> Decision:
    """The decision for a hypothetical request, for ``actas policy explain``."""
    with ctx.read() as uow:
        staff = uow.staff.by_email(normalise_email(staff_email))
        if staff is None:
            raise NotFound(f"no staff member with email {staff_email[:80]}")
        subject = uow.subjects.get(application_id, subject_id)
        if subject is None:
            raise NotFound(f"no subject {subject_id[:128]} in application {application_id[:63]}")
        hypothetical = Case(
            id="explain",
            application_id=application_id,
            subject_id=subject_id,
            account_id=subject.account_id,
            staff_id=staff.id,
            ticket="-",
            reason_code=reason_code or ctx.policy.reason_codes[0],
            reason_text="-",
            status=CaseStatus.OPEN,
            opened_at=ctx.clock(),
        )
        return decide_now(
            ctx,
            uow,
            staff=staff,
            case=hypothetical,
            kind=kind,
            scopes=scopes,
            minutes=minutes,
            break_glass=break_glass,
        )
