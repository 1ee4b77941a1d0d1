"""RFC 6238 TOTP (30 s, 6 digits, one step of drift) through pyotp.

pyotp's ``verify`` accepts the same code again inside its window; we return the matched time
step instead, and the store only accepts a step newer than the last one used.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

INTERVAL = 30
DIGITS = 6


class PyOtpTotp:
    def new_secret(self) -> str:
        return pyotp.random_base32(32)

    def provisioning_uri(self, secret: str, *, account_name: str, issuer: str) -> str:
        return str(
            pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(
                name=account_name, issuer_name=issuer
            )
        )

    def matching_step(self, secret: str, code: str, at: datetime) -> int | None:
        if len(code) != DIGITS or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
        step = int(at.timestamp()) // INTERVAL
        found = None
        for candidate in (step - 1, step, step + 1):
            # Compare every candidate, so the time taken does not depend on which matched.
            if hmac.compare_digest(str(totp.generate_otp(candidate)), code):
                found = candidate
        return found

    def code_at(self, secret: str, at: datetime) -> str:
        """The code an authenticator shows at ``at``: for the CLI's demo seeding and tests."""
        return str(pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).at(at))
