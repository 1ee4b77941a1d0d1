"""The repositories a unit of work holds: what the services may ask of the store. Adapters in
``actas.store`` implement them; :class:`actas.domain.ports.UnitOfWork` names them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from actas.domain.access import (
    AccessRequest,
    AccessSession,
    Approval,
    Case,
    CaseNote,
    EndReason,
    RequestState,
    Revocation,
)
from actas.domain.alerts import Alert, BreakGlassReview, RaisedAlert
from actas.domain.audit import AuditEvent, AuditQuery
from actas.domain.consent import AccessCode, CustomerPolicy, Grant
from actas.domain.customer import ActionKind, CustomerAction
from actas.domain.links import Link, LinkPurpose, Verification, VerificationStatus
from actas.domain.merkle import RangeHasher
from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import Account, Application, Subject
from actas.domain.throttle import ThrottleState


class StaffRepo(Protocol):
    def add(self, staff: Staff) -> None: ...
    def by_id(self, staff_id: str) -> Staff | None: ...
    def by_email(self, email: str) -> Staff | None: ...
    def all(self) -> list[Staff]: ...
    def emails(self) -> list[str]:
        """Every staff member's email as stored (disabled members too)."""
        ...

    def active_admin_ids(self) -> frozenset[str]:
        """The active admins, their rows locked until the transaction ends (PostgreSQL), so
        two admins disabling each other at once cannot both succeed."""
        ...

    def claim_totp_step(self, staff_id: str, step: int) -> bool:
        """Atomically move the last used TOTP step forward; False if ``step`` is not newer."""
        ...

    def set_disabled(self, staff_id: str, at: datetime | None) -> None: ...
    def set_roles(self, staff_id: str, roles: frozenset[Role]) -> None: ...
    def set_profile(self, staff_id: str, *, email: str, display_name: str) -> None: ...
    def set_totp_secret(self, staff_id: str, secret: str) -> None: ...
    def set_password_hash(self, staff_id: str, password_hash: str) -> None: ...
    def reseal_totp_secret(self, staff_id: str, *, old: str, new: str) -> bool:
        """Replace the stored seed by the same seed sealed anew, if it is still ``old``."""
        ...


class ThrottleRepo(Protocol):
    """Failure counts per bucket key (see ``actas.domain.throttle``), shared by replicas."""

    def get(self, key: str) -> ThrottleState | None: ...
    def locked(
        self, key: str, *, bucket: str, email_key: str | None, now: datetime
    ) -> ThrottleState:
        """The bucket's state, created empty if need be, its row locked until the transaction
        ends: failures counted at once on several replicas are none of them lost."""
        ...

    def save(self, key: str, state: ThrottleState) -> None: ...
    def purge(self, before: datetime) -> int:
        """Drop buckets quiet since before ``before`` (forgotten ones); returns how many."""
        ...

    def clear(self, key: str) -> bool: ...
    def clear_email(self, email_key: str) -> int:
        """Forget every (email, address) bucket of one email; returns how many."""
        ...

    def blocked_emails(self, now: datetime) -> dict[str, datetime]:
        """Email keys of sign-ins slowed at ``now``, with the latest end of their wait."""
        ...


class StaffSessionRepo(Protocol):
    def add(self, session: StaffSession, *, token_hash: str) -> None: ...
    def by_token_hash(self, token_hash: str) -> StaffSession | None: ...
    def touch(self, session_id: str, at: datetime) -> None: ...
    def revoke(self, session_id: str, at: datetime) -> bool: ...
    def revoke_all_for(self, staff_id: str, at: datetime) -> int: ...


class ApplicationRepo(Protocol):
    def add(self, app: Application, *, credential_hash: str) -> None: ...
    def by_id(self, app_id: str) -> Application | None: ...
    def by_credential_hash(self, credential_hash: str) -> Application | None: ...
    def all(self) -> list[Application]: ...
    def set_handoff_hosts(self, app_id: str, hosts: tuple[str, ...]) -> None: ...


class AccountRepo(Protocol):
    def get(self, application_id: str, account_id: str) -> Account | None: ...
    def handoff_urls(self, application_id: str) -> list[str]:
        """The distinct handoff URLs the application's accounts name."""
        ...

    def upsert(self, account: Account) -> None: ...


class SubjectRepo(Protocol):
    def get(self, application_id: str, subject_id: str) -> Subject | None: ...
    def upsert(self, subject: Subject) -> None: ...
    def search(self, text: str, *, limit: int) -> list[tuple[Subject, Account]]:
        """Subjects whose email, name or id, or whose account's id or name, match ``text``
        (case-insensitive); exact matches of an id or email first."""
        ...


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: the log had ``seq`` events and the last one's hash was ``hash``."""

    seq: int
    hash: bytes
    at: datetime
    kid: str
    signature: bytes
    #: Since migration 0009: the Merkle tree root of events 1..seq and the C2SP signed note.
    root: bytes | None = None
    note: str | None = None


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Queue an event; it is appended to the chain inside this same transaction."""
        ...

    def query(self, query: AuditQuery) -> list[dict[str, Any]]:
        """Events matching ``query``, oldest first, as their canonical JSON objects."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def tree(self, size: int) -> RangeHasher:
        """The Merkle tree of events 1..``size`` (a signed checkpoint's), for proofs."""
        ...


class AssignmentRepo(Protocol):
    def for_staff(self, staff_id: str) -> frozenset[tuple[str, str]]: ...
    def add(self, staff_id: str, application_id: str, account_id: str) -> bool: ...
    def remove(self, staff_id: str, application_id: str, account_id: str) -> bool: ...


class SlackLinkRepo(Protocol):
    def staff_for(self, slack_user_id: str) -> str | None: ...
    def link(self, slack_user_id: str, staff_id: str) -> None: ...


class CaseRepo(Protocol):
    def add(self, case: Case) -> None: ...
    def get(self, case_id: str) -> Case | None: ...
    def close(self, case_id: str, *, at: datetime, by: str, changes: str, verify: str) -> bool: ...
    def add_note(self, note: CaseNote) -> None: ...
    def notes(self, case_id: str) -> list[CaseNote]: ...
    def for_subject(self, application_id: str, subject_id: str) -> list[Case]: ...
    def open_for_staff(self, staff_id: str) -> list[Case]: ...


class AccessRequestRepo(Protocol):
    def add(self, request: AccessRequest) -> None: ...
    def get(self, request_id: str) -> AccessRequest | None: ...
    def transition(
        self,
        request_id: str,
        *,
        from_states: frozenset[RequestState],
        to: RequestState,
        at: datetime,
    ) -> bool:
        """Compare-and-set the state; False when another transition won."""
        ...

    def add_approval(self, approval: Approval) -> bool:
        """False when this approver already answered this request."""
        ...

    def approvals(self, request_id: str) -> list[Approval]: ...
    def in_states(self, states: frozenset[RequestState]) -> list[AccessRequest]: ...
    def due(
        self, states: frozenset[RequestState], now: datetime, *, limit: int
    ) -> list[AccessRequest]:
        """Requests in ``states`` whose ``expires_at`` is at or before ``now``."""
        ...

    def for_case(self, case_id: str) -> list[AccessRequest]: ...


class AccessSessionRepo(Protocol):
    def add(self, session: AccessSession) -> None: ...
    def get(self, session_id: str) -> AccessSession | None: ...
    def open_sessions(self) -> list[AccessSession]: ...
    def for_case(self, case_id: str) -> list[AccessSession]: ...
    def for_staff(self, staff_id: str) -> list[AccessSession]: ...
    def for_account(self, application_id: str, account_id: str) -> list[AccessSession]: ...
    def end(
        self, session_id: str, *, at: datetime, reason: EndReason, note: str | None = None
    ) -> bool:
        """End a session that has not ended yet; False if it already had."""
        ...

    def set_refresh(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        """Give a session its refresh handle, once (at handoff)."""
        ...

    def clear_refresh(self, session_id: str) -> bool:
        """Withdraw the session's refresh handle (the session moves to a new handoff)."""
        ...

    def touch(self, session_id: str, *, refresh_hash: str, at: datetime) -> bool:
        """Mark the session active if ``refresh_hash`` is its handle and it has not ended."""
        ...

    def extend(self, session_id: str, *, expires_at: datetime) -> bool: ...

    def lapsed(self, now: datetime, *, limit: int) -> list[AccessSession]:
        """Open sessions whose hard expiry or idle deadline may have passed at ``now``, found
        through an index (at most ``limit``; a few due within the second may come along:
        check :meth:`AccessSession.lapse_reason`)."""
        ...

    def claim_sweep(self) -> bool:
        """Whether this transaction may sweep: True in one process at a time (held until the
        transaction ends)."""
        ...


class HandoffRepo(Protocol):
    def add(
        self,
        *,
        code_hash: str,
        session_id: str,
        application_id: str,
        handoff_url: str,
        issued_at: datetime,
        expires_at: datetime,
    ) -> None: ...
    def redeem(
        self, *, code_hash: str, application_id: str, handoff_url: str, at: datetime
    ) -> str | None:
        """Mark the code used in one conditional UPDATE; the session id, or None."""
        ...


class RevocationRepo(Protocol):
    def add(
        self,
        *,
        session_id: str,
        application_id: str,
        reason: str,
        at: datetime,
        session_expires_at: datetime,
    ) -> None:
        """Record and announce (to every replica, after commit) that a session ended."""
        ...

    def current(
        self, *, now: datetime, after_seq: int = 0, application_id: str | None = None
    ) -> list[Revocation]:
        """Revocations whose sessions would otherwise still be alive (one application's when
        ``application_id`` is given)."""
        ...

    def latest_seq(self) -> int:
        """The highest ``seq`` ever committed (0 for none)."""
        ...


class IngestRepo(Protocol):
    def claim(self, ids: list[str], *, session_id: str, at: datetime) -> set[str]:
        """Remember ``ids``; return those never seen before (the ones to append)."""
        ...


class OutboxRepo(Protocol):
    def add(
        self, *, channel: str, target: str, event_type: str, payload: dict[str, Any], at: datetime
    ) -> str:
        """Queue one message; returns the row's id (to tell later whether it was delivered)."""
        ...


class LinkRepo(Protocol):
    def add(self, link: Link, *, token_hash: str) -> None: ...
    def supersede(
        self, *, application_id: str, subject_id: str, purpose: LinkPurpose, at: datetime
    ) -> int:
        """Retire the subject's unused links of ``purpose``; returns how many."""
        ...

    def redeem(
        self, *, token_hash: str, application_id: str, purpose: LinkPurpose, at: datetime
    ) -> Link | None:
        """Mark the link used in one conditional UPDATE ... RETURNING; None if it is unknown,
        used, superseded, expired or of another purpose or application."""
        ...

    def by_token_hash(self, token_hash: str) -> Link | None: ...


class VerificationRepo(Protocol):
    def add(self, verification: Verification, *, code_hash: str) -> None: ...
    def get(self, verification_id: str) -> Verification | None: ...
    def for_case(self, case_id: str) -> list[Verification]: ...
    def sent_since(self, case_id: str, since: datetime) -> int: ...
    def supersede_pending(self, case_id: str, *, at: datetime) -> int: ...
    def count_attempt(
        self, verification_id: str, *, at: datetime, limit: int
    ) -> tuple[int, str] | None:
        """Compare-and-set: count one attempt if the verification is pending, unexpired and
        under ``limit``; returns (attempts now, code hash), or None when it was not counted."""
        ...

    def decide(
        self, verification_id: str, *, status: VerificationStatus, at: datetime, by: str
    ) -> bool:
        """Compare-and-set from pending to ``status``; False if it was no longer pending."""
        ...


class CustomerActionRepo(Protocol):
    def add(self, action: CustomerAction, *, token_hash: str) -> None: ...
    def use(
        self, *, token_hash: str, kind: ActionKind, at: datetime, answer: str | None = None
    ) -> CustomerAction | None:
        """Mark it used in one conditional UPDATE; None if unknown, used or expired."""
        ...

    def by_token_hash(self, token_hash: str) -> CustomerAction | None: ...
    def for_case(self, case_id: str) -> list[CustomerAction]: ...


class AlertRepo(Protocol):
    """Alerts raised and the counts the alert rules ask of the log."""

    def raise_once(self, alert: Alert, *, alert_id: str, at: datetime) -> bool:
        """Store ``alert`` unless its rule, subject and window already have one; True if new."""
        ...

    def get(self, alert_id: str) -> RaisedAlert | None: ...
    def recent(self, *, open_only: bool, limit: int = 200) -> list[RaisedAlert]: ...
    def between(self, start: datetime, end: datetime) -> list[RaisedAlert]: ...
    def acknowledge(self, alert_id: str, *, by: str, comment: str, at: datetime) -> bool:
        """Compare-and-set: False when the alert is already acknowledged."""
        ...

    def bump(self, rule: str, subject: str, by: int) -> int:
        """Add ``by`` to a rule's running count for ``subject``; the new count."""
        ...

    def count_events(
        self,
        types: tuple[str, ...],
        *,
        since: datetime,
        account: str | None = None,
        application: str | None = None,
        actor: str | None = None,
    ) -> int:
        """Audit events of these types since ``since`` (this transaction's included); with
        ``account``, about that account of ``application``."""
        ...

    def denied_requests(self, staff_id: str, *, since: datetime) -> int:
        """Requests by ``staff_id`` denied (by policy or by an approver) since ``since``."""
        ...


class BreakGlassRepo(Protocol):
    def unreviewed(self) -> list[AccessRequest]:
        """Break-glass requests that were allowed and have no review yet, oldest first."""
        ...

    def review(self, request_id: str) -> BreakGlassReview | None: ...
    def record(self, review: BreakGlassReview) -> bool:
        """Store the review unless one exists already; True if stored."""
        ...

    def between(
        self, start: datetime, end: datetime
    ) -> list[tuple[AccessRequest, BreakGlassReview | None]]:
        """Break-glass requests allowed in [start, end) and their reviews."""
        ...


class GrantRepo(Protocol):
    """The customer's consent grants."""

    def add(self, grant: Grant) -> None: ...
    def get(self, grant_id: str) -> Grant | None: ...
    def for_account(self, application_id: str, account_id: str) -> list[Grant]:
        """Every grant of the account, newest first."""
        ...

    def revoke(self, grant_id: str, *, at: datetime, by: str) -> bool:
        """Revoke a grant still live at ``at``; False when it was not."""
        ...


class AccessCodeRepo(Protocol):
    def add(self, code: AccessCode, *, code_hash: str) -> None: ...
    def issued_since(self, application_id: str, subject_id: str, since: datetime) -> int: ...
    def for_subject(self, application_id: str, subject_id: str) -> list[AccessCode]: ...
    def redeem(
        self,
        *,
        code_hash: str,
        application_id: str,
        subject_id: str,
        staff_id: str,
        case_id: str,
        grant_id: str,
        at: datetime,
    ) -> AccessCode | None:
        """Use the code, atomically: ``UPDATE ... WHERE used_at IS NULL AND locked_at IS NULL
        AND expires_at > at RETURNING``. None: no such usable code for this subject."""
        ...

    def lock_live(self, application_id: str, subject_id: str, *, at: datetime) -> int:
        """Lock every usable code of the subject; returns how many."""
        ...

    def add_failure(
        self, *, application_id: str, subject_id: str, staff_id: str, at: datetime
    ) -> None: ...
    def failures_for_subject(
        self, application_id: str, subject_id: str, since: datetime
    ) -> int: ...
    def failures_by_staff(self, staff_id: str, since: datetime) -> int: ...


class CustomerPolicyRepo(Protocol):
    def get(self, application_id: str, account_id: str) -> CustomerPolicy | None: ...
    def put(self, policy: CustomerPolicy) -> None: ...
