"""The ports the services need. Adapters in ``store``, ``security`` and ``keys`` implement them;
``bootstrap`` chooses which."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from actas.domain.access import (
    MintedToken,
    Revocation,
)
from actas.domain.audit import AuditEvent, VerifyReport
from actas.domain.customer_page import CustomerPageRepo
from actas.domain.identity_repo import IdentityRepo
from actas.domain.report_repos import GaugeRepo, ReviewRepo
from actas.domain.repos import (
    AccessCodeRepo,
    AccessRequestRepo,
    AccessSessionRepo,
    AccountRepo,
    AlertRepo,
    ApplicationRepo,
    AssignmentRepo,
    AuditLog,
    BreakGlassRepo,
    CaseRepo,
    CustomerActionRepo,
    CustomerPolicyRepo,
    GrantRepo,
    HandoffRepo,
    IngestRepo,
    LinkRepo,
    OutboxRepo,
    RevocationRepo,
    SlackLinkRepo,
    StaffRepo,
    StaffSessionRepo,
    SubjectRepo,
    ThrottleRepo,
    VerificationRepo,
)


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
        #: ``assist`` or ``impersonate``: the ``kind`` claim.
        kind: str,
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

    def verify(self, witnessed: Sequence[tuple[str, str]] = ()) -> VerifyReport:
        """Walk the whole log; ``witnessed`` are ``(signed note, kid)`` checkpoints kept by a
        witness, which the log must still extend."""
        ...

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
    @property
    def grants(self) -> GrantRepo: ...
    @property
    def access_codes(self) -> AccessCodeRepo: ...
    @property
    def customer_policies(self) -> CustomerPolicyRepo: ...
    @property
    def customer_pages(self) -> CustomerPageRepo: ...
    @property
    def throttle(self) -> ThrottleRepo: ...
    @property
    def customer_actions(self) -> CustomerActionRepo: ...
    @property
    def identity(self) -> IdentityRepo: ...
    @property
    def alerts(self) -> AlertRepo: ...
    @property
    def break_glass(self) -> BreakGlassRepo: ...
    @property
    def reviews(self) -> ReviewRepo: ...
    @property
    def gauges(self) -> GaugeRepo: ...


class EventObserver(Protocol):
    """Sees every event a transaction appends, inside that transaction, after they are in the
    log (so counts include them). What it records is appended too, but not shown to it again."""

    def __call__(self, uow: UnitOfWork, events: Sequence[AuditEvent]) -> None: ...


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
        """The time step whose code equals ``code`` within one step of ``at``, or None.
        ``secret`` is the stored (sealed) seed; a seed that cannot be opened matches nothing."""
        ...

    def reseal(self, secret: str) -> str | None:
        """The stored seed sealed with the newest data key, or None when it already is."""
        ...


class SeedSealer(Protocol):
    """Seals secrets kept at rest (the TOTP seeds) with the broker's data keys."""

    def seal(self, seed: str) -> str: ...
    def open(self, stored: str) -> str:
        """The seed; a value stored before sealing existed comes back as it is."""
        ...

    def is_current(self, stored: str) -> bool:
        """True when ``stored`` is sealed with the newest data key."""
        ...


class Signer(Protocol):
    """Signs bytes with the broker's current Ed25519 key."""

    def sign(self, message: bytes) -> tuple[str, bytes]: ...


class NoteSigner(Signer, Protocol):
    """A signer that also names the public key it signed with (for C2SP note key IDs)."""

    def public_key(self, kid: str) -> bytes | None:
        """The raw 32-byte Ed25519 public key of ``kid``, if the ring has it."""
        ...


class SignatureChecker(Protocol):
    def verify(self, kid: str, message: bytes, signature: bytes) -> bool: ...
