"""One claim / retry implementation for every outbox: a table of messages written in the
transaction that decided them and sent later by the worker (``flask alerts run``), never in a
web request or the OCPP server. Used by the operators' alerts (``alert_deliveries``) and the
drivers' notifications (``driver_notifications``).

- ``insert_once`` adds a row unless its unique key is already there (a second evaluation pass,
  a re-sent OCPP message): one row per event.
- ``Outbox.claim`` takes due rows with one conditional UPDATE (PostgreSQL: the candidates chosen
  ``FOR UPDATE SKIP LOCKED``): it counts the attempt and moves ``next_attempt_at`` past a lease,
  so two workers never hold the same row; the claimer commits before sending.
- A failed attempt waits ``backoff_s(attempts)`` (30 s doubling, at most an hour); after
  ``MAX_ATTEMPTS`` the row stays unsent with its ``last_error``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
# A claimed row is left alone this long: a worker that dies mid-send lets another retry it.
# Well above one send's worst case (the worker claims one message at a time, 10 s timeouts).
LEASE_S = 300
ERROR_LENGTH = 500

_INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def backoff_s(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 30, 60, 120, ... up to 3600."""
    return int(min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def insert_once(session: Session, table: Table, row: dict[str, Any], unique: Sequence[str]) -> bool:
    """Insert ``row`` unless one with the same ``unique`` columns exists; whether it was added."""
    statement = _INSERTS[session.get_bind().dialect.name](table).values(row)
    added = session.execute(
        statement.on_conflict_do_nothing(index_elements=list(unique)).returning(table.c.id)
    ).all()
    return bool(added)


@dataclass(frozen=True)
class Outbox:
    """An outbox table (columns ``id``, ``attempts``, ``next_attempt_at``, ``sent_at``,
    ``last_error``) and what makes one of its rows still to send (``pending``)."""

    table: Table
    pending: ColumnElement[bool]

    def claim(
        self, session: Session, now: datetime, limit: int, columns: Sequence[str]
    ) -> list[Row[Any]]:
        """Claim up to ``limit`` pending rows due at ``now`` (oldest due first); ``columns`` of
        each (``attempts`` is after this claim), by id. The caller commits before sending, so
        another worker sees the lease."""
        t = self.table
        due = self.pending & (t.c.next_attempt_at <= now) & (t.c.attempts < MAX_ATTEMPTS)
        # Two statements: the candidates, locked on PostgreSQL (SKIP LOCKED: what another worker
        # is claiming is skipped; a LIMIT in a subquery of the UPDATE may be re-run and take
        # more), then the UPDATE, whose WHERE repeats the conditions for SQLite (nothing locked).
        ids = (
            session.execute(
                select(t.c.id)
                .where(due)
                .order_by(t.c.next_attempt_at, t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        if not ids:
            return []
        statement = (
            update(t)
            .where(t.c.id.in_(ids), due)
            .values(attempts=t.c.attempts + 1, next_attempt_at=now + timedelta(seconds=LEASE_S))
            .returning(t.c.id, *(t.c[name] for name in columns))
        )
        return sorted(session.execute(statement).all(), key=lambda r: r.id)

    def mark_sent(self, session: Session, row_id: int, now: datetime, **values: Any) -> None:
        t = self.table
        session.execute(
            update(t)
            .where(t.c.id == row_id, self.pending)
            .values(sent_at=now, last_error=None, **values)
        )

    def mark_failed(
        self,
        session: Session,
        row_id: int,
        attempts: int,
        error: str,
        now: datetime,
        **values: Any,
    ) -> None:
        """The attempt failed: try again after the backoff (the claim counted the attempt)."""
        t = self.table
        session.execute(
            update(t)
            .where(t.c.id == row_id, self.pending)
            .values(
                next_attempt_at=now + timedelta(seconds=backoff_s(attempts)),
                last_error=error[:ERROR_LENGTH],
                **values,
            )
        )
