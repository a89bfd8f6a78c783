"""The alerts' outbox: ``alert_deliveries``, one row per message to send (an email or a webhook
call), written in the transaction that decided it and sent later by the worker (``flask alerts
run``), never in a web request or the OCPP server. Claims, leases and backoff are the shared
outbox's (``data.core.outbox``).

- ``dedupe_key`` is unique: enqueueing the same message twice (a second evaluation pass, a
  second worker) keeps the first row.
- After ``MAX_ATTEMPTS`` a row stays unsent with its ``last_error`` for the operator to see.
"""

from __future__ import annotations

import enum
import json
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Table, Text, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.core.models import Base, UTCDateTime, _enum

# The alerts' limits are the shared outbox's (re-exported for data.uptime.alerts and tests).
from data.core.outbox import LEASE_S as LEASE_S
from data.core.outbox import MAX_ATTEMPTS as MAX_ATTEMPTS
from data.core.outbox import Outbox, insert_once
from data.core.outbox import backoff_s as backoff_s


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
_OUTBOX = Outbox(_deliveries, _deliveries.c.sent_at.is_(None))


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
    return insert_once(session, _deliveries, row, ["dedupe_key"])


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
    rows = _OUTBOX.claim(session, now, limit, ["channel", "kind", "payload", "attempts"])
    return [
        Claimed(r.id, Channel(r.channel), DeliveryKind(r.kind), json.loads(r.payload), r.attempts)
        for r in rows
    ]


def mark_sent(session: Session, delivery_id: int, now: datetime) -> None:
    _OUTBOX.mark_sent(session, delivery_id, now)


def mark_failed(
    session: Session, delivery_id: int, attempts: int, error: str, now: datetime
) -> None:
    """The attempt failed: try again after the backoff (the claim counted the attempt)."""
    _OUTBOX.mark_failed(session, delivery_id, attempts, error, now)
