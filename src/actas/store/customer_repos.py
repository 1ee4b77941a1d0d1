"""The repository of kill switches and close-out answers. Used once by one conditional
``UPDATE ... RETURNING``, so two concurrent posts never both act."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from actas.domain.customer import ActionKind, CustomerAction
from actas.store.rows import enum_value, from_row, to_row
from actas.store.tables import customer_actions, outbox

_COLUMNS = [c for c in customer_actions.c if c.name != "token_hash"]


class SqlCustomerActionRepo:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _select(self) -> Any:
        # Whether its email went out comes from the outbox row that carries it.
        return select(
            *_COLUMNS,
            outbox.c.delivered_at.label("sent_at"),
            outbox.c.dead_at.label("send_failed_at"),
        ).outerjoin(outbox, outbox.c.id == customer_actions.c.outbox_id)

    def _one(self, where: Any) -> CustomerAction | None:
        row = self.conn.execute(self._select().where(where)).first()
        return from_row(CustomerAction, row, kind=ActionKind) if row is not None else None

    def add(self, action: CustomerAction, *, token_hash: str) -> None:
        values = to_row(action, kind=enum_value, skip=("sent_at", "send_failed_at"))
        self.conn.execute(insert(customer_actions).values(**values, token_hash=token_hash))

    def use(
        self, *, token_hash: str, kind: ActionKind, at: datetime, answer: str | None = None
    ) -> CustomerAction | None:
        t = customer_actions
        row = self.conn.execute(
            update(t)
            .where(
                t.c.token_hash == token_hash,
                t.c.kind == kind.value,
                t.c.used_at.is_(None),
                t.c.expires_at > at,
            )
            .values(used_at=at, answer=answer)
            .returning(t.c.id)
        ).first()
        return self._one(t.c.id == row.id) if row is not None else None

    def by_token_hash(self, token_hash: str) -> CustomerAction | None:
        return self._one(customer_actions.c.token_hash == token_hash)

    def for_case(self, case_id: str) -> list[CustomerAction]:
        t = customer_actions
        rows = self.conn.execute(
            self._select().where(t.c.case_id == case_id).order_by(t.c.issued_at, t.c.id)
        )
        return [from_row(CustomerAction, r, kind=ActionKind) for r in rows]
