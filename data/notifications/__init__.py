"""Drivers' e-mail notifications (issue 18; opt-in: ``users.email_notifications``): a session
finished; a reservation confirmed or refused by the charger, released as a no-show, or cancelled
by the operator.

``notify_session_finished`` / ``notify_reservation`` are called in the transaction that made
the change (StopTransaction, ``command_ended``, ``cancel_reservation``, the no-show release):
they read the facts and queue one row in ``driver_notifications`` if the person opted in, and
nothing else. The row is unique per event (``kind``, ``about_id``: the session or reservation),
so a re-sent OCPP message or a second worker never queues it twice. The worker (``flask alerts
run``) renders and sends it later through the shared outbox (``data.core.outbox``): retried with
backoff, ``MAX_ATTEMPTS`` at most; a person who opted out since is skipped.
"""

from __future__ import annotations

import enum
import json
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from data.charging.dashboard import operator_settings
from data.core.models import (
    ID_LENGTH,
    Account,
    Base,
    Charger,
    ChargingSession,
    Reservation,
    User,
    UTCDateTime,
    _enum,
)
from data.core.outbox import MAX_ATTEMPTS, Outbox, insert_once
from data.core.sql import kwh_decimal
from data.pricing.rows import stored_cost


class NotificationKind(enum.StrEnum):
    session_finished = "session_finished"
    reservation_confirmed = "reservation_confirmed"
    reservation_refused = "reservation_refused"
    reservation_no_show = "reservation_no_show"
    reservation_cancelled = "reservation_cancelled"  # by the operator


class NotificationState(enum.StrEnum):
    queued = "queued"  # to send (again, after a failure, once its next attempt is due)
    sent = "sent"
    failed = "failed"  # MAX_ATTEMPTS failed: its last_error says why
    skipped = "skipped"  # the person opted out (or was left without an address) meanwhile


# notify_reservation's events, as the callers name them.
RESERVATION_EVENTS: dict[str, NotificationKind] = {
    "confirmed": NotificationKind.reservation_confirmed,
    "refused": NotificationKind.reservation_refused,
    "no_show": NotificationKind.reservation_no_show,
    "cancelled_by_operator": NotificationKind.reservation_cancelled,
}
SUBJECT_LENGTH = 200
_QUEUED = "state = 'queued'"


class DriverNotification(Base):
    """One e-mail to a person: ``facts`` (JSON) hold what the message says, read when the event
    happened; the worker renders them."""

    __tablename__ = "driver_notifications"
    __table_args__ = (
        UniqueConstraint("kind", "about_id", name="uq_driver_notifications_event"),
        CheckConstraint("attempts >= 0", name="notification_attempts_non_negative"),
        # The worker's scan: queued rows by due time.
        Index(
            "ix_driver_notifications_due",
            "next_attempt_at",
            postgresql_where=text(_QUEUED),
            sqlite_where=text(_QUEUED),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(
        Enum(
            NotificationKind,
            name="notification_kind",
            native_enum=False,
            create_constraint=True,
            length=32,
            values_callable=lambda members: [m.value for m in members],
            validate_strings=True,
        )
    )
    about_id: Mapped[str] = mapped_column(String(ID_LENGTH))  # the session or reservation
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    facts: Mapped[str] = mapped_column(Text)
    state: Mapped[NotificationState] = mapped_column(
        _enum(NotificationState, "notification_state"), server_default="queued"
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


_notifications = typing.cast(Table, DriverNotification.__table__)
_OUTBOX = Outbox(_notifications, _notifications.c.state == NotificationState.queued.value)


def _opted_in_user(session: Session, account_id: str) -> tuple[int, str] | None:
    """(user id, display name) of the account's holder if they opted in to e-mails."""
    row = session.execute(
        select(User.id, User.display_name)
        .join(Account, Account.user_id == User.id)
        .where(Account.id == account_id, User.email_notifications.is_(True))
    ).first()
    return None if row is None else (row.id, row.display_name)


def _queue(
    session: Session,
    user_id: int,
    kind: NotificationKind,
    about_id: str,
    subject: str,
    facts: dict[str, Any],
    now: datetime,
) -> bool:
    row = {
        "user_id": user_id,
        "kind": kind.value,
        "about_id": about_id,
        "subject": " ".join(subject.split())[:SUBJECT_LENGTH],  # one line, whatever names hold
        "facts": json.dumps(facts, sort_keys=True),
        "state": NotificationState.queued.value,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }
    return insert_once(session, _notifications, row, ["kind", "about_id"])


def _operator_facts(session: Session) -> dict[str, Any]:
    operator = operator_settings(session)
    return {
        "operator": operator.name,
        "support_email": operator.support_email,
        "timezone": operator.tz.key,
    }


def notify_session_finished(session: Session, session_id: str, now: datetime) -> bool:
    """Queue the "session finished" e-mail of finalized session ``session_id`` (its kWh, times,
    stored cost) if its account's holder opted in; whether a row was added (never twice)."""
    found = session.execute(
        select(ChargingSession, Charger.friendly_name)
        .join(Charger, Charger.id == ChargingSession.charger_id)
        .where(ChargingSession.id == session_id)
    ).first()
    if found is None:
        return False
    row, charger_name = found
    if not row.finalized or row.ended_at is None:
        return False
    person = _opted_in_user(session, row.account_id)
    if person is None:
        return False
    cost = stored_cost(row)
    facts = {
        **_operator_facts(session),
        "display_name": person[1],
        "session_id": row.id,
        "charger_id": row.charger_id,
        "charger_name": charger_name,
        "started_at": row.started_at.isoformat(),
        "ended_at": row.ended_at.isoformat(),
        "energy_kwh": str(kwh_decimal(row.energy_kwh)),
        "energy_under_review": row.energy_disputed_at is not None,
        "cost_total": None if cost is None else str(cost.total),
        "currency": None if cost is None else cost.currency,
    }
    subject = f"Charging finished at {charger_name}"
    return _queue(
        session, person[0], NotificationKind.session_finished, row.id, subject, facts, now
    )


_RESERVATION_SUBJECTS = {
    NotificationKind.reservation_confirmed: "Reservation confirmed: {charger}",
    NotificationKind.reservation_refused: "Reservation refused by {charger}",
    NotificationKind.reservation_no_show: "Reservation released (no-show): {charger}",
    NotificationKind.reservation_cancelled: "Reservation cancelled: {charger}",
}


def notify_reservation(
    session: Session,
    reservation_id: str,
    event: str,
    now: datetime,
    reason: str | None = None,
) -> bool:
    """Queue the e-mail of ``event`` (``confirmed``, ``refused``, ``no_show``,
    ``cancelled_by_operator``) on ``reservation_id`` if its account's holder opted in; ``reason``
    is what the charger answered (refused) or the operator's words. Whether a row was added
    (each event of a reservation at most once)."""
    kind = RESERVATION_EVENTS.get(event)
    if kind is None:
        raise ValueError(f"unknown reservation event {event!r}")
    found = session.execute(
        select(Reservation, Charger.friendly_name)
        .join(Charger, Charger.id == Reservation.charger_id)
        .where(Reservation.id == reservation_id)
    ).first()
    if found is None:
        return False
    reservation, charger_name = found
    person = _opted_in_user(session, reservation.account_id)
    if person is None:
        return False
    facts = {
        **_operator_facts(session),
        "display_name": person[1],
        "event": event,
        "reason": reason,
        "reservation_id": reservation.id,
        "charger_id": reservation.charger_id,
        "charger_name": charger_name,
        "starts_at": reservation.starts_at.isoformat(),
        "ends_at": reservation.ends_at.isoformat(),
    }
    subject = _RESERVATION_SUBJECTS[kind].format(charger=charger_name)
    return _queue(session, person[0], kind, reservation.id, subject, facts, now)


# --- the worker's side ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedNotification:
    id: int
    kind: NotificationKind
    subject: str
    facts: dict[str, Any]
    attempts: int  # including this one
    email: str | None  # None: the person opted out since (skip it)


def claim_notifications(
    session: Session, now: datetime, limit: int = 1
) -> list[ClaimedNotification]:
    """Claim up to ``limit`` queued notifications due at ``now``, each with its person's address
    as it is now (None when they opted out since). The caller commits before sending."""
    rows = _OUTBOX.claim(session, now, limit, ["user_id", "kind", "subject", "facts", "attempts"])
    if not rows:
        return []
    people = {
        r.id: (r.email, r.email_notifications)
        for r in session.execute(
            select(User.id, User.email, User.email_notifications).where(
                User.id.in_({r.user_id for r in rows})
            )
        )
    }
    claimed = []
    for r in rows:
        email, opted_in = people.get(r.user_id, (None, False))
        claimed.append(
            ClaimedNotification(
                r.id,
                NotificationKind(r.kind),
                r.subject,
                json.loads(r.facts),
                r.attempts,
                email if opted_in and email else None,
            )
        )
    return claimed


def mark_notification_sent(session: Session, notification_id: int, now: datetime) -> None:
    _OUTBOX.mark_sent(session, notification_id, now, state=NotificationState.sent.value)


def mark_notification_skipped(session: Session, notification_id: int, now: datetime) -> None:
    """Not sent: the person opted out after it was queued."""
    _OUTBOX.mark_failed(
        session, notification_id, 0, "not sent: the person turned e-mails off", now,
        state=NotificationState.skipped.value,
    )  # fmt: skip


def mark_notification_failed(
    session: Session, notification_id: int, attempts: int, error: str, now: datetime
) -> None:
    """The attempt failed: queued again after the backoff, or ``failed`` after the last one."""
    state = NotificationState.failed if attempts >= MAX_ATTEMPTS else NotificationState.queued
    _OUTBOX.mark_failed(session, notification_id, attempts, error, now, state=state.value)
