"""Support access codes: the customer reads a short code to support, and the staff member
who enters it on their case gets a grant bound to that case and to themselves.

The code is returned once, to the application, to show the customer; only its hash (keyed with
the subject) is stored and nothing logs it. Entering it is one atomic ``UPDATE ... RETURNING``,
so it works once however many try at the same moment. Wrong codes are counted per subject and
per staff member and audited; :data:`CODE_SUBJECT_FAILURES` wrong codes for one subject lock
its live codes (the customer makes a new one), and a staff member past
:data:`CODE_STAFF_FAILURES` in an hour must wait.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from actas.domain.access import Case, CaseStatus
from actas.domain.audit import Actor, AuditEvent, format_time
from actas.domain.consent import (
    CODE_FAILURE_WINDOW,
    CODE_ISSUES_PER_HOUR,
    CODE_STAFF_FAILURES,
    CODE_TTL,
    AccessCode,
    AccessCodeInvalid,
    Grant,
    GrantSource,
    TooManyAccessCodes,
    access_code_hash,
    check_grant_minutes,
    code_attempts_left,
    format_access_code,
    grant_scopes,
    new_access_code,
    normalise_access_code,
)
from actas.domain.errors import ActasError, Conflict, Forbidden, InvalidInput, Throttled
from actas.domain.policy_rules import AccessKind
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.domain.subjects import Application
from actas.services import consent, trail
from actas.services.context import ServiceContext

#: The longest a customer may let a code wait to be read out.
MAX_CODE_MINUTES = 30


@dataclass(frozen=True)
class IssuedCode:
    record: AccessCode
    #: ``ABCD-EFGH``: shown to the customer once, never stored.
    code: str


def issue_code(
    ctx: ServiceContext,
    *,
    app: Application,
    subject_id: str,
    grant_minutes: int | None = None,
    read_only: bool = False,
    ttl_minutes: int = int(CODE_TTL.total_seconds() // 60),
    by: Actor,
) -> IssuedCode:
    """Make a code for the subject to read out. At most :data:`CODE_ISSUES_PER_HOUR` an hour."""
    # The policy file's durations; the shortest when the customer did not pick one.
    allowed = ctx.policy.grant_minutes
    grant_minutes = check_grant_minutes(
        allowed[0] if grant_minutes is None else grant_minutes, allowed
    )
    if not 1 <= ttl_minutes <= MAX_CODE_MINUTES:
        raise InvalidInput(f"a code lives 1 to {MAX_CODE_MINUTES} minutes, got {ttl_minutes}")
    code = new_access_code()
    with ctx.uow() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        now = ctx.clock()
        if uow.access_codes.issued_since(app.id, subject.id, now - timedelta(hours=1)) >= (
            CODE_ISSUES_PER_HOUR
        ):
            raise TooManyAccessCodes(
                f"{CODE_ISSUES_PER_HOUR} codes were made for this user in the last hour; wait"
            )
        record = AccessCode(
            id=str(uuid.uuid4()),
            application_id=app.id,
            account_id=subject.account_id,
            subject_id=subject.id,
            issued_at=now,
            expires_at=now + timedelta(minutes=ttl_minutes),
            grant_minutes=grant_minutes,
            read_only=read_only,
        )
        uow.access_codes.add(record, code_hash=access_code_hash(app.id, subject.id, code))
        uow.audit.record(
            AuditEvent(
                type="access_code.issued",
                actor=by.id,
                subject=subject.id,
                account=subject.account_id,
                ip=by.ip,
                user_agent=by.user_agent,
                data={
                    "application": app.id,
                    "access_code": record.id,
                    "expires_at": format_time(record.expires_at),
                    "grant_minutes": grant_minutes,
                    "read_only": read_only,
                },
            )
        )
    return IssuedCode(record=record, code=format_access_code(code))


def _open_case_of(uow: UnitOfWork, staff: Staff, case_id: str) -> Case:
    case = trail.load_case(uow, case_id[:36])
    if case.status is not CaseStatus.OPEN:
        raise Conflict("the case is closed; open a new case")
    if case.staff_id != staff.id:
        raise Forbidden("only the staff member who opened the case may enter a code on it")
    return case


def _code_event(type_: str, case: Case, by: Actor, **data: object) -> AuditEvent:
    return trail.event(type_, by, case=case, data={"application": case.application_id, **data})


def enter_code(ctx: ServiceContext, *, staff: Staff, case_id: str, code: str, by: Actor) -> Grant:
    """Enter the code the customer read out on the staff member's own open case. A right code
    makes a grant for this case and this staff member; a wrong one is counted and audited.

    :raises MalformedAccessCode: not eight letters and digits (nothing counted or written).
    :raises Throttled: the staff member entered too many wrong codes in the last hour.
    :raises AccessCodeInvalid: wrong, used, expired, locked or another subject's code.
    """
    text = normalise_access_code(code)
    error: ActasError | None = None
    with ctx.uow() as uow:
        case = _open_case_of(uow, staff, case_id)
        now = ctx.clock()
        window = now - CODE_FAILURE_WINDOW
        if uow.access_codes.failures_by_staff(staff.id, window) >= CODE_STAFF_FAILURES:
            uow.audit.record(_code_event("access_code.throttled", case, by))
            error = Throttled(
                "too many wrong support access codes from you in the last hour; wait",
                retry_after=int(CODE_FAILURE_WINDOW.total_seconds()),
            )
        else:
            grant_id = str(uuid.uuid4())
            used = uow.access_codes.redeem(
                code_hash=access_code_hash(case.application_id, case.subject_id, text),
                application_id=case.application_id,
                subject_id=case.subject_id,
                staff_id=staff.id,
                case_id=case.id,
                grant_id=grant_id,
                at=now,
            )
            if used is None:
                error = _count_failure(uow, staff, case, by, now=now)
            else:
                grant = Grant(
                    id=grant_id,
                    application_id=case.application_id,
                    account_id=case.account_id,
                    granted_by=case.subject_id,
                    source=GrantSource.ACCESS_CODE,
                    kinds=frozenset(AccessKind),
                    scopes=grant_scopes(used.read_only),
                    read_only=used.read_only,
                    created_at=now,
                    expires_at=now + timedelta(minutes=used.grant_minutes),
                    case_id=case.id,
                    staff_id=staff.id,
                )
                uow.audit.record(
                    _code_event("access_code.used", case, by, access_code=used.id, grant=grant.id)
                )
                consent.record_grant(ctx, uow, grant, by)
    # A wrong code's count and audit event are committed before the error is raised.
    if error is not None:
        raise error
    return grant


def _count_failure(
    uow: UnitOfWork, staff: Staff, case: Case, by: Actor, *, now: datetime
) -> AccessCodeInvalid:
    app_id, subject_id = case.application_id, case.subject_id
    uow.access_codes.add_failure(
        application_id=app_id, subject_id=subject_id, staff_id=staff.id, at=now
    )
    # A fresh code from the customer gets a fresh count: failures since the newest code.
    codes = uow.access_codes.for_subject(app_id, subject_id)
    since = max([now - CODE_FAILURE_WINDOW, *(c.issued_at for c in codes[:1])])
    failures = uow.access_codes.failures_for_subject(app_id, subject_id, since)
    left = code_attempts_left(failures)
    uow.audit.record(
        _code_event("access_code.failed", case, by, failures=failures, attempts_left=left)
    )
    if left == 0:
        locked = uow.access_codes.lock_live(app_id, subject_id, at=now)
        uow.audit.record(_code_event("access_code.locked", case, by, codes_locked=locked))
        return AccessCodeInvalid(
            "the code is not valid; too many wrong codes were entered for this customer, so "
            "their codes are locked: ask them to make a new one",
            attempts_left=0,
        )
    return AccessCodeInvalid(
        f"the code is not valid (wrong, used or expired); {left} attempts left",
        attempts_left=left,
    )


def codes_of(ctx: ServiceContext, *, app: Application, subject_id: str) -> list[AccessCode]:
    with ctx.read() as uow:
        subject = consent.load_subject(uow, app, subject_id)
        return uow.access_codes.for_subject(app.id, subject.id)
