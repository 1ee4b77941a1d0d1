"""Verification codes: staff confirm they are talking to the right person without collecting
a secret of the customer's.

From a case, the broker emails a six-digit code to the case subject's verified address; the
customer reads it back and staff enter it. The code is never returned to staff, never logged
and never audited; only its hash (keyed with the verification's id) is stored. Attempts are
counted with a compare-and-set, and the last allowed wrong one locks the verification. The
verification row is the record shown with the case: method, when, the result and who entered
it, and whether the email was delivered.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime, timedelta
from typing import Any

from actas.domain.access import Case, CaseStatus
from actas.domain.audit import Actor, AuditEvent, format_time
from actas.domain.errors import ActasError, Conflict, NotFound, Unavailable
from actas.domain.links import (
    CODE_ATTEMPTS,
    CODE_METHOD,
    CODE_SENDS_PER_HOUR,
    CODE_TTL,
    CodeWrong,
    TooManyCodes,
    Verification,
    VerificationClosed,
    VerificationExpired,
    VerificationLocked,
    VerificationStatus,
    attempts_left,
    code_hash,
    code_matches,
    new_code,
    normalise_code,
)
from actas.domain.ports import UnitOfWork
from actas.domain.staff import Staff
from actas.services.context import ServiceContext
from actas.services.links import EMAIL_CHANNEL, verified_email, when

CODE_EMAIL = "email.verification_code"


def _open_case(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id[:40]}")
    if case.status is not CaseStatus.OPEN:
        raise Conflict("the case is closed")
    return case


def _event(type_: str, case: Case, by: Actor, data: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        type=type_,
        actor=by.id,
        subject=case.subject_id,
        account=case.account_id,
        case=case.id,
        reason=case.reason_text,
        ticket=case.ticket,
        ip=by.ip,
        user_agent=by.user_agent,
        data={"application": case.application_id, **data},
    )


def send_code(ctx: ServiceContext, *, staff: Staff, case_id: str, by: Actor) -> Verification:
    """Email a new code to the case subject's verified address; a pending older code of the
    case stops working. Returns the verification record, never the code.

    :raises NotFound: no such case (or its subject is gone).
    :raises Conflict: the case is closed.
    :raises NoVerifiedEmail: the subject has no verified email.
    :raises TooManyCodes: the case sent :data:`CODE_SENDS_PER_HOUR` codes in the last hour.
    """
    if ctx.mail is None:
        raise Unavailable("customer email is not configured")
    code = new_code()
    with ctx.uow() as uow:
        case = _open_case(uow, case_id)
        subject = uow.subjects.get(case.application_id, case.subject_id)
        if subject is None:
            raise NotFound(f"no subject {case.subject_id} in application {case.application_id}")
        address = verified_email(subject)
        now = ctx.clock()
        if uow.verifications.sent_since(case.id, now - timedelta(hours=1)) >= (CODE_SENDS_PER_HOUR):
            raise TooManyCodes(
                f"this case sent {CODE_SENDS_PER_HOUR} codes in the last hour; wait or use "
                "another way to confirm the customer"
            )
        superseded = uow.verifications.supersede_pending(case.id, at=now)
        application = uow.applications.by_id(case.application_id)
        verification = Verification(
            id=str(uuid.uuid4()),
            case_id=case.id,
            application_id=case.application_id,
            subject_id=case.subject_id,
            account_id=case.account_id,
            method=CODE_METHOD,
            requested_by=staff.id,
            issued_at=now,
            expires_at=now + CODE_TTL,
            attempts=0,
            status=VerificationStatus.PENDING,
        )
        payload = ctx.mail.compose(
            "verification_code",
            {
                "name": subject.display_name,
                "app_name": application.name if application else case.application_id,
                "ticket": case.ticket,
                "code": code,
                "minutes": int(CODE_TTL.total_seconds() // 60),
                "expires_at": when(verification.expires_at),
            },
            at=now,
        )
        outbox_id = uow.outbox.add(
            channel=EMAIL_CHANNEL,
            target=address,
            event_type=CODE_EMAIL,
            payload={**payload, "case": case.id},
            at=now,
        )
        uow.verifications.add(
            dataclasses.replace(verification, outbox_id=outbox_id),
            code_hash=code_hash(verification.id, code),
        )
        uow.audit.record(
            _event(
                "verification.sent",
                case,
                by,
                {
                    "verification": verification.id,
                    "method": CODE_METHOD,
                    "expires_at": format_time(verification.expires_at),
                    "superseded": superseded,
                    "email": outbox_id,
                },
            )
        )
        sent = uow.verifications.get(verification.id)
    assert sent is not None
    return sent


def _not_counted(verification: Verification, now: datetime) -> ActasError:
    if verification.status is VerificationStatus.LOCKED:
        return VerificationLocked("too many wrong codes: this verification is locked")
    if verification.status is not VerificationStatus.PENDING:
        return VerificationClosed(f"this verification is already {verification.status.value}")
    if verification.expires_at <= now:
        return VerificationExpired("the code has expired; send a new one")
    if verification.attempts >= CODE_ATTEMPTS:
        return VerificationLocked("too many wrong codes: this verification is locked")
    return VerificationClosed("this verification was decided meanwhile")


def check_code(
    ctx: ServiceContext, *, staff: Staff, verification_id: str, code: str, by: Actor
) -> Verification:
    """Check the code the customer read back. A right code marks the verification verified
    (by ``staff``, now); a wrong one is counted and audited, and the last allowed wrong one
    locks it. Returns the verification record.

    :raises MalformedCode: ``code`` is not six digits (nothing is counted or written).
    :raises CodeWrong: the code is wrong; ``attempts_left`` more may be tried.
    :raises VerificationLocked: too many wrong codes (now or before).
    :raises VerificationExpired: the code's ten minutes are over.
    :raises VerificationClosed: already verified, or replaced by a newer code.
    """
    digits = normalise_code(code)
    error: ActasError | None = None
    with ctx.uow() as uow:
        verification = uow.verifications.get(verification_id[:64])
        if verification is None:
            raise NotFound(f"no verification {verification_id[:40]}")
        case = _open_case(uow, verification.case_id)
        now = ctx.clock()
        counted = uow.verifications.count_attempt(verification.id, at=now, limit=CODE_ATTEMPTS)
        if counted is None:
            # Nothing was counted, so nothing is written: raising rolls back an empty change.
            # Read again: a concurrent check may have decided it since the first read.
            raise _not_counted(uow.verifications.get(verification.id) or verification, now)
        attempts, stored = counted
        ids = {"verification": verification.id, "method": verification.method}
        if code_matches(stored, verification.id, digits):
            if not uow.verifications.decide(
                verification.id, status=VerificationStatus.VERIFIED, at=now, by=staff.id
            ):
                raise VerificationClosed("this verification was decided meanwhile")
            uow.audit.record(
                _event("verification.succeeded", case, by, {**ids, "attempts": attempts})
            )
        else:
            left = attempts_left(attempts)
            uow.audit.record(
                _event(
                    "verification.failed",
                    case,
                    by,
                    {**ids, "attempts": attempts, "attempts_left": left},
                )
            )
            if left == 0 and uow.verifications.decide(
                verification.id, status=VerificationStatus.LOCKED, at=now, by=staff.id
            ):
                uow.audit.record(
                    _event("verification.locked", case, by, {**ids, "attempts": attempts})
                )
                error = VerificationLocked("too many wrong codes: this verification is locked")
            else:
                error = CodeWrong(f"the code is wrong; {left} attempts left", attempts_left=left)
        result = uow.verifications.get(verification.id)
    # The failure and its audit event are committed before the error is raised.
    if error is not None:
        raise error
    assert result is not None
    return result


def verifications_for_case(ctx: ServiceContext, case_id: str) -> list[Verification]:
    """The case's verifications, oldest first, each with its result and whether its email was
    delivered (``sent_at``) or given up on (``send_failed_at``)."""
    with ctx.read() as uow:
        if uow.cases.get(case_id) is None:
            raise NotFound(f"no case {case_id[:40]}")
        return uow.verifications.for_case(case_id)
