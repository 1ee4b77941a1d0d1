"""RFC 6238 TOTP (30 s, 6 digits, one step of drift) through pyotp.

pyotp's ``verify`` accepts the same code again inside its window; we return the matched time
step instead, and the store only accepts a step newer than the last one used.

With a :class:`~actas.domain.ports.SeedSealer` the seeds it hands out and takes back are
sealed (AES-GCM, ``actas.keys.seeds``): the services and the database only ever hold the
sealed form, and the plain seed exists only inside these methods and the enrollment URI.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

import pyotp

from actas.domain.ports import SeedSealer
from actas.domain.staff import is_totp_code

log = logging.getLogger("actas.totp")

INTERVAL = 30
DIGITS = 6


class PyOtpTotp:
    def __init__(self, seeds: SeedSealer | None = None) -> None:
        self._seeds = seeds

    def new_secret(self) -> str:
        seed = pyotp.random_base32(32)
        return self._seeds.seal(seed) if self._seeds else seed

    def _open(self, secret: str) -> str:
        return self._seeds.open(secret) if self._seeds else secret

    def provisioning_uri(self, secret: str, *, account_name: str, issuer: str) -> str:
        return str(
            pyotp.TOTP(self._open(secret), digits=DIGITS, interval=INTERVAL).provisioning_uri(
                name=account_name, issuer_name=issuer
            )
        )

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        # Six ASCII digits only: compare_digest raises TypeError on non-ASCII text (finding 1).
        if not is_totp_code(code):
            return None
        try:
            seed = self._open(secret)
        except Exception as exc:
            # A seed that does not open (its data key is gone from the key file) matches
            # nothing: the sign-in fails like any wrong code, and the operator is told why.
            log.error("a staff TOTP seed cannot be opened: %s", exc)
            return None
        totp = pyotp.TOTP(seed, digits=DIGITS, interval=INTERVAL)
        step = int(at.timestamp()) // INTERVAL
        found = None
        for candidate in (step - 1, step, step + 1):
            # Compare every candidate, so the time taken does not depend on which matched.
            if hmac.compare_digest(str(totp.generate_otp(candidate)), code):
                found = candidate
        return found

    def reseal(self, secret: str) -> str | None:
        if self._seeds is None or self._seeds.is_current(secret):
            return None
        return self._seeds.seal(self._seeds.open(secret))

    def code_at(self, secret: str, at: datetime) -> str:
        """The code an authenticator shows at ``at``: for the CLI's demo seeding and tests."""
        return str(pyotp.TOTP(self._open(secret), digits=DIGITS, interval=INTERVAL).at(at))
