"""What every use case receives: the ports, the clock and the tunable rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from actas.domain.clock import Clock
from actas.domain.identity import IdentityRules
from actas.domain.identity_ports import OidcClient, WebAuthn
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
    #: Which sign-in methods are on and when a passkey is required.
    identity: IdentityRules = field(default_factory=IdentityRules)
    #: The company's OpenID provider; None when SSO is off.
    oidc: OidcClient | None = None
    #: WebAuthn checks for this broker's origin; None when passkeys are off.
    webauthn: WebAuthn | None = None
