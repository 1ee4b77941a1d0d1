"""The :class:`~actas.domain.ports.AuditChain` of a running broker: verifying the whole log and
signing its head, each outside any business transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Engine

from actas.audit.verify import verify_log
from actas.domain.audit import VerifyReport
from actas.domain.ports import SignatureChecker
from actas.store.uow import Store


class SqlAuditChain:
    def __init__(self, engine: Engine, store: Store, checker: SignatureChecker) -> None:
        self.engine = engine
        self.store = store
        self.checker = checker

    def verify(self, witnessed: Sequence[tuple[str, str]] = ()) -> VerifyReport:
        with self.engine.connect() as conn:
            return verify_log(conn, checker=self.checker, witnessed=witnessed)

    def checkpoint(self) -> int | None:
        head = self.store.checkpoint()
        return head.seq if head is not None else None
