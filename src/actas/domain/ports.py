"""The ports the services need. Adapters in ``store``, ``security`` and ``keys`` implement them;
``bootstrap`` chooses which."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from actas.domain.access import (
    AccessRequest,
    AccessSession,
    Approval,
    Case,
    CaseNote,
    EndReason,
    MintedToken,
    RequestState,
    Revocation,
)
from actas.domain.audit import AuditEvent, AuditQuery, VerifyReport
from actas.domain.links import Link, LinkPurpose, Verification, VerificationStatus
from actas.domain.roles import Role
from actas.domain.staff import Staff, StaffSession
from actas.domain.subjects import Account, Application, Subject


class StaffRepo(Protocol):
    def add(self, staff: Staff) -> None: ...
    def by_id(self, staff_id: str) -> Staff | None: ...
    def by_email(self, email: str) -> Staff | None: ...
    def all(self) -> list[Staff]: ...
    def add_failure(self, staff_id: str) -> int:
        """Atomically count one more failed sign-in; returns the new count."""
        ...

    def set_locked_until(self, staff_id: str, until: datetime | None) -> None: ...
    def reset_failures(self, staff_id: str) -> None: ...
    def claim_totp_step(self, staff_id: str, step: int) -> bool:
        """Atomically move the last used TOTP step forward; False if ``step`` is not newer."""
        ...

    def set_disabled(self, staff_id: str, at: datetime | None) -> None: ...
    def set_roles(self, staff_id: str, roles: frozenset[Role]) -> None: ...
    def set_totp_secret(self, staff_id: str, secret: str) -> None: ...


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


class AccountRepo(Protocol):
    def get(self, application_id: str, account_id: str) -> Account | None: ...
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


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None:
        """Queue an event; it is appended to the chain inside this same transaction."""
        ...

    def query(self, query: AuditQuery) -> list[dict[str, Any]]:
        """Events matching ``query``, oldest first, as their canonical JSON objects."""
        ...

    def latest_checkpoint(self) -> Checkpoint | None: ...


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
    def for_case(self, case_id: str) -> list[AccessRequest]: ...


class AccessSessionRepo(Protocol):
    def add(self, session: AccessSession) -> None: ...
    def get(self, session_id: str) -> AccessSession | None: ...
    def open_sessions(self) -> list[AccessSession]: ...
    def for_case(self, case_id: str) -> list[AccessSession]: ...
    def for_staff(self, staff_id: str) -> list[AccessSession]: ...
    def end(self, session_id: str, *, at: datetime, reason: EndReason) -> bool:
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


class MailComposer(Protocol):
    """Renders a customer email from a named template, ready to queue in the outbox."""

    def compose(self, template: str, values: dict[str, Any], *, at: datetime) -> dict[str, str]:
        """The outbox payload: subject, text and HTML bodies, Message-ID and Date."""
        ...


@dataclass(frozen=True)
class Channel:
    """Where announcements go: ``kind`` "slack", "webhook" (or "email"), and its target (the
    webhook URL, the Slack channel or "incoming-webhook")."""

    kind: str
    target: str


class RevocationPublisher(Protocol):
    """Tells this process's listeners (SSE clients) of a committed revocation."""

    def publish(self, revocation: Revocation) -> None: ...


class ActorTokenMinter(Protocol):
    """Signs actor tokens with the broker's current key (the contract is in DESIGN.md)."""

    def mint(
        self,
        *,
        audience: str,
        subject: str,
        actor: str,
        session_id: str,
        scopes: tuple[str, ...],
        account: str,
        now: datetime,
        not_after: datetime,
    ) -> MintedToken: ...


class RevocationSubscription(Protocol):
    """Revocations committed after subscribing, for one application (or all), as they come."""

    def __enter__(self) -> RevocationSubscription: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def __aiter__(self) -> AsyncIterator[Revocation]: ...
    @property
    def dropped(self) -> bool:
        """True when the subscriber fell too far behind and was cut off."""
        ...


class RevocationFeed(Protocol):
    """This process's fan-out of committed revocations (fed by every replica)."""

    def subscribe(self, application_id: str | None = None) -> RevocationSubscription: ...


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    #: "signing", "pending" (signs after its grace period), "published" or "retired".
    state: str
    activates_at: datetime


class KeyDirectory(Protocol):
    """The broker's signing keys, as the services need them."""

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public keys that verify tokens signed now or recently."""
        ...

    def public_jwk(self, kid: str) -> dict[str, Any] | None: ...
    def rotate(self, now: datetime, *, grace: timedelta) -> KeyInfo:
        """Add a key that starts signing after ``grace``; retire keys no longer needed."""
        ...

    def describe(self, now: datetime) -> list[KeyInfo]: ...


class AuditChain(Protocol):
    """Operations on the whole log, each in a transaction of its own."""

    def verify(self) -> VerifyReport: ...
    def checkpoint(self) -> int | None:
        """Sign the current head unless it is signed already; the seq signed, if any."""
        ...


class UnitOfWork(Protocol):
    """One transaction: its repositories, and the audit log its events go to."""

    def ping(self) -> None:
        """Reach the database (raises ``Unavailable`` when it cannot)."""
        ...

    @property
    def staff(self) -> StaffRepo: ...
    @property
    def staff_sessions(self) -> StaffSessionRepo: ...
    @property
    def applications(self) -> ApplicationRepo: ...
    @property
    def accounts(self) -> AccountRepo: ...
    @property
    def subjects(self) -> SubjectRepo: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def assignments(self) -> AssignmentRepo: ...
    @property
    def slack_links(self) -> SlackLinkRepo: ...
    @property
    def cases(self) -> CaseRepo: ...
    @property
    def requests(self) -> AccessRequestRepo: ...
    @property
    def sessions(self) -> AccessSessionRepo: ...
    @property
    def handoffs(self) -> HandoffRepo: ...
    @property
    def revocations(self) -> RevocationRepo: ...
    @property
    def outbox(self) -> OutboxRepo: ...
    @property
    def ingested(self) -> IngestRepo: ...
    @property
    def links(self) -> LinkRepo: ...
    @property
    def verifications(self) -> VerificationRepo: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> AbstractContextManager[UnitOfWork]: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool: ...
    def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verify, so unknown emails cannot be told apart."""
        ...


class TotpVerifier(Protocol):
    def new_secret(self) -> str: ...
    def provisioning_uri(self, secret: str, *, account_name: str, issuer: str) -> str: ...
    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        """The time step whose code equals ``code`` within one step of ``at``, or None."""
        ...


class Signer(Protocol):
    """Signs bytes with the broker's current Ed25519 key."""

    def sign(self, message: bytes) -> tuple[str, bytes]: ...


class SignatureChecker(Protocol):
    def verify(self, kid: str, message: bytes, signature: bytes) -> bool: ...
