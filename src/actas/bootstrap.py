"""The composition root: settings to adapters to services. The only module that picks them."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.engine import Engine

from actas.audit.operations import SqlAuditChain
from actas.audit.witness import FileWitness
from actas.domain.audit import Actor
from actas.domain.clock import Clock, system_clock
from actas.domain.identity_ports import OidcClient
from actas.domain.ports import Channel, PasswordHasher
from actas.domain.throttle import Throttle
from actas.keys import keyring
from actas.keys.directory import KeyFileDirectory
from actas.keys.keyring import KeySource
from actas.keys.seeds import SeedCipher
from actas.keys.tokens import KeyRingMinter
from actas.notify.channels import broker_domain, channels_for
from actas.notify.email import EmailComposer
from actas.policy_file import load_default_policy, load_policy
from actas.revocation.bus import RevocationBus
from actas.security.passwords import Argon2Passwords
from actas.security.totp import PyOtpTotp
from actas.security.webauthn import PyWebAuthn, passkeys_possible
from actas.services import alerts as alert_service
from actas.services import staff as staff_service
from actas.services.context import ServiceContext
from actas.settings import Settings
from actas.store.engine import make_engine
from actas.store.migrate import upgrade
from actas.store.uow import Store


@dataclass
class Broker:
    settings: Settings
    engine: Engine
    store: Store
    keys: KeySource
    services: ServiceContext
    clock: Clock
    #: Where announcements go (Slack, webhooks), from the settings.
    channels: tuple[Channel, ...] = ()
    #: This process's revocation fan-out to SSE clients (fed after commit and, on PostgreSQL,
    #: by the LISTEN thread the app starts).
    bus: RevocationBus = field(default_factory=RevocationBus)

    def close(self) -> None:
        """Close the database connections (a CLI command's end, a test's teardown)."""
        self.engine.dispose()


def initialise(settings: Settings, *, clock: Clock = system_clock) -> bool:
    """Create or migrate the database and the key file, then seal any TOTP seed still stored
    plain (the migration cannot: the data key is in the key file). Safe to run twice.
    Returns True when a new key file was created."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    _, created = keyring.ensure(settings.key_file, clock())
    broker = build(settings, clock=clock)
    try:
        staff_service.seal_seeds(broker.services, by=Actor(id="actas:init"))
    finally:
        broker.engine.dispose()
    return created


def _oidc(settings: Settings, clock: Clock) -> OidcClient | None:
    oidc = settings.identity.oidc
    if oidc is None:
        return None
    # Imported only when SSO is configured: Authlib's httpx integration warns on import, and a
    # broker without SSO has no use for it.
    from actas.security.oidc import AuthlibOidc

    callback = settings.public_url.rstrip("/") + "/console/sso/callback"
    return AuthlibOidc(oidc, redirect_uri=callback, clock=clock)


def build(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    passwords: PasswordHasher | None = None,
) -> Broker:
    engine = make_engine(settings.database_url)
    keys = KeySource(settings.key_file, clock)
    if not keys.data_keys():
        # Fail at start, with the fix, rather than at the first enrollment or sign-in.
        raise keyring.KeyFileError(
            f"ACTAS_KEY_FILE={str(settings.key_file)!r} holds no data key to seal TOTP seeds; "
            "run `actas init`"
        )
    bus = RevocationBus()
    store = Store(
        engine,
        clock=clock,
        signer=keys,
        checkpoint_every=settings.checkpoint_every,
        publisher=bus,
        origin=settings.audit_origin,
        witness=FileWitness(settings.audit_witness_file) if settings.audit_witness_file else None,
    )
    channels = channels_for(settings)
    services = ServiceContext(
        uow=store.transaction,
        read=store.read,
        clock=clock,
        passwords=passwords or Argon2Passwords(),
        totp=PyOtpTotp(SeedCipher(keys.data_keys)),
        throttle=Throttle.from_settings(
            free_failures=settings.sign_in_free_failures,
            max_delay_seconds=settings.sign_in_max_delay_seconds,
        ),
        session_ttl=timedelta(seconds=settings.staff_session_ttl),
        session_idle=timedelta(seconds=settings.staff_session_idle),
        policy=load_policy(settings.policy_file) if settings.policy_file else load_default_policy(),
        minter=KeyRingMinter(keys, issuer=settings.public_url),
        keys=KeyFileDirectory(keys, settings.key_file),
        chain=SqlAuditChain(engine, store, keys),
        feed=bus,
        public_url=settings.public_url,
        channels=channels,
        mail=EmailComposer(domain=broker_domain(settings)),
        identity=settings.identity.rules,
        oidc=_oidc(settings, clock),
        # WebAuthn needs a domain as relying party id: at an IP address, no passkeys.
        webauthn=PyWebAuthn.for_public_url(settings.public_url)
        if passkeys_possible(settings.public_url)
        else None,
    )
    # The store shows each transaction's events to the alert rules before it commits.
    store.observer = functools.partial(alert_service.observe, services)
    return Broker(
        settings=settings,
        engine=engine,
        store=store,
        keys=keys,
        services=services,
        clock=clock,
        channels=channels,
        bus=bus,
    )
