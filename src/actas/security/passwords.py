"""argon2id password hashing at the RFC 9106 defaults of argon2-cffi.

One verify takes ~130 ms and both cores, so a small semaphore bounds how many run at once:
a burst of sign-ins queues instead of exhausting memory (64 MiB each).
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Passwords:
    def __init__(self, *, concurrency: int = 2, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = threading.BoundedSemaphore(concurrency)
        with self._slots:
            self._dummy = self._hasher.hash("actas-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        with self._slots:
            return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        with self._slots:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

    def verify_dummy(self, password: str) -> None:
        self.verify(self._dummy, password)


class FastTestPasswords(Argon2Passwords):
    """argon2id with tiny costs, for test suites only: same code path, milliseconds per hash."""

    def __init__(self) -> None:
        super().__init__(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
