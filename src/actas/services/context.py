"""What every use case receives: the ports, the clock and the tunable rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from actas.domain.clock import Clock
from actas.domain.ports import PasswordHasher, TotpVerifier, UnitOfWorkFactory
from actas.domain.staff import LockoutRule


@dataclass(frozen=True)
class ServiceContext:
    uow: UnitOfWorkFactory
    #: A read-only transaction (on SQLite it takes no write lock).
    read: UnitOfWorkFactory
    clock: Clock
    passwords: PasswordHasher
    totp: TotpVerifier
    lockout: LockoutRule
    session_ttl: timedelta
    session_idle: timedelta
    #: The issuer shown in authenticator apps.
    issuer: str = "actas"
