"""What every use case receives: the ports, the clock and the tunable rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from actas.domain.clock import Clock
from actas.domain.policy_rules import Policy
from actas.domain.ports import (
    ActorTokenMinter,
    AuditChain,
    Channel,
    KeyDirectory,
    MailComposer,
    PasswordHasher,
    RevocationFeed,
    TotpVerifier,
    UnitOfWorkFactory,
)
from actas.domain.throttle import Throttle


@dataclass(frozen=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    #: A read-only transaction (on SQLite it takes no write lock).
    read: UnitOfWorkFactory
    clock: Clock
    passwords: PasswordHasher
    totp: TotpVerifier
    #: How failed sign-ins and step-ups slow their source down.
    throttle: Throttle
    session_ttl: timedelta
    session_idle: timedelta
    policy: Policy
    minter: ActorTokenMinter
    #: The signing keys: JWKS, rotation, a checkpoint's public key.
    keys: KeyDirectory
    #: Whole-log operations: verification and checkpoints.
    chain: AuditChain
    #: This process's feed of committed revocations (for the SSE stream).
    feed: RevocationFeed
    #: The base of every link the broker builds (never a request's Host header).
    public_url: str
    #: The issuer shown in authenticator apps.
    issuer: str = "actas"
    #: Where announcements go (Slack, webhooks); written to the outbox with each change.
    channels: tuple[Channel, ...] = ()
    #: Renders customer emails (links, codes) into outbox rows; None: no customer email.
    mail: MailComposer | None = None
