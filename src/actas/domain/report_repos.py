"""The repositories of the reports: the access review's facts and sign-offs, and the counts
behind the metrics gauges. Kept apart from ``actas.domain.repos`` to keep both short."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from actas.domain.access_review import ApprovalFact, SessionFact, SignOff


class GaugeRepo(Protocol):
    def counts(self, now: datetime) -> dict[str, int]:
        """Broker-wide figures for the metrics gauges: sessions active, approvals pending,
        outbox pending and dead-lettered, the newest revocation's seq."""
        ...


class ReviewRepo(Protocol):
    """The quarter's facts for the access review, and its sign-offs."""

    def sessions_between(self, start: datetime, end: datetime) -> list[SessionFact]:
        """Access sessions started in [start, end), with their case's reason code."""
        ...

    def approvals_between(self, start: datetime, end: datetime) -> list[ApprovalFact]:
        """Approvers' decisions given in [start, end)."""
        ...

    def sign(self, signoff: SignOff) -> bool:
        """Store a sign-off unless this reviewer signed this quarter already; True if stored."""
        ...

    def signoffs(self, quarter: str) -> list[SignOff]: ...
