"""The alerts' outbox: ``alert_deliveries``, one row per message to send (an email or a webhook
call), written in the transaction that decided it and sent later by the worker (``flask alerts
run``), never in a web request or the OCPP server.

- ``dedupe_key`` is unique: enqueueing the same message twice (a second evaluation pass, a
  second worker) keeps the first row.
- ``claim_due`` takes due rows with one conditional UPDATE (PostgreSQL: the candidates chosen
  ``FOR UPDATE SKIP LOCKED``): it counts the attempt and moves ``next_attempt_at`` past a lease,
  so two workers never hold the same row; the claimer commits before sending.
- A failed attempt waits ``backoff_s(attempts)`` (30 s doubling, at most an hour); after
  ``MAX_ATTEMPTS`` the row stays unsent with its ``last_error`` for the operator to see.
"""

from __future__ import annotations

import enum
import json
import typing
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.core.models import Base, UTCDateTime, _enum

MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30
BACKOFF_MAX_S = 3600
# A claimed row is left alone this long: a worker that dies mid-send lets another retry it.
# Well above one send's worst case (the worker claims one message at a time, 10 s timeouts).
LEASE_S = 300
ERROR_LENGTH = 500


class Channel(enum.StrEnum):
    email = "email"
    webhook = "webhook"


class DeliveryKind(enum.StrEnum):
    opened = "opened"
    recovered = "recovered"
    digest = "digest"


_DUE = "sent_at IS NULL"


class AlertDelivery(Base):
    """One message to send: ``payload`` is its JSON (the webhook's body; ``subject`` and
    ``text`` make the email)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        # The worker's scan: unsent rows by due time.
        Index(
            "ix_alert_deliveries_due",
            "next_attempt_at",
            postgresql_where=text(_DUE),
            sqlite_where=text(_DUE),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[Channel] = mapped_column(_enum(Channel, "alert_channel"))
    kind: Mapped[DeliveryKind] = mapped_column(_enum(DeliveryKind, "alert_delivery_kind"))
    payload: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


_deliveries = typing.cast(Table, AlertDelivery.__table__)
_INSERTS: dict[str, Any] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def backoff_s(attempts: int) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: 30, 60, 120, ... up to 3600."""
    return int(min(BACKOFF_BASE_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def enqueue(
    session: Session,
    dedupe_key: str,
    channel: Channel,
    kind: DeliveryKind,
    payload: dict[str, Any],
    now: datetime,
    alert_id: int | None = None,
) -> bool:
    """Add one message, due now, unless one with ``dedupe_key`` exists; whether it was added."""
    row = {
        "dedupe_key": dedupe_key,
        "alert_id": alert_id,
        "channel": channel.value,
        "kind": kind.value,
        "payload": json.dumps(payload, sort_keys=True),
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
    statement = _INSERTS[session.get_bind().dialect.name](_deliveries).values(row)
    added = session.execute(
        statement.on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_deliveries.c.id)
    ).all()
    return bool(added)


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: Channel
    kind: DeliveryKind
    payload: dict[str, Any]
    attempts: int  # including this one


def claim_due(session: Session, now: datetime, limit: int = 20) -> list[Claimed]:
    """Claim up to ``limit`` unsent rows due at ``now`` (oldest due first). The caller commits
    before sending, so another worker sees the lease."""
    due = (
        (_deliveries.c.sent_at.is_(None))
        & (_deliveries.c.next_attempt_at <= now)
        & (_deliveries.c.attempts < MAX_ATTEMPTS)
    )
    # Two statements: the candidates, locked on PostgreSQL (SKIP LOCKED: what another worker is
    # claiming is skipped; a LIMIT in a subquery of the UPDATE may be re-run and take more), then
    # the UPDATE, whose WHERE repeats the conditions for SQLite, where nothing is locked.
    ids = (
        session.execute(
            select(_deliveries.c.id)
            .where(due)
            .order_by(_deliveries.c.next_attempt_at, _deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    statement = (
        update(_deliveries)
        .where(_deliveries.c.id.in_(ids), due)
        .values(
            attempts=_deliveries.c.attempts + 1,
            next_attempt_at=now + timedelta(seconds=LEASE_S),
        )
        .returning(
            _deliveries.c.id,
            _deliveries.c.channel,
            _deliveries.c.kind,
            _deliveries.c.payload,
            _deliveries.c.attempts,
        )
    )
    rows = session.execute(statement).all()
    return sorted(
        (
            Claimed(
                r.id, Channel(r.channel), DeliveryKind(r.kind), json.loads(r.payload), r.attempts
            )
            for r in rows
        ),
        key=lambda c: c.id,
    )


def mark_sent(session: Session, delivery_id: int, now: datetime) -> None:
    session.execute(
        update(_deliveries)
        .where(_deliveries.c.id == delivery_id, _deliveries.c.sent_at.is_(None))
        .values(sent_at=now, last_error=None)
    )


def mark_failed(
    session: Session, delivery_id: int, attempts: int, error: str, now: datetime
) -> None:
    """The attempt failed: try again after the backoff (the claim counted the attempt)."""
    session.execute(
        update(_deliveries)
        .where(_deliveries.c.id == delivery_id, _deliveries.c.sent_at.is_(None))
        .values(
            next_attempt_at=now + timedelta(seconds=backoff_s(attempts)),
            last_error=error[:ERROR_LENGTH],
        )
    )
