"""Reservations sent to chargers over OCPP 1.6J (ReserveNow / CancelReservation): which are
due, claiming one so it is sent once, and the charger's answers, in ``ocpp_reservations``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.core.db import rows_changed
from data.core.models import IdTag, OcppReservation, Reservation, ReservationStatus
from data.ocpp.messages import ACCEPTED

# ocpp_reservations.state values besides the charger's own ReserveNow answers.
SENDING = "sending"
NO_ANSWER = "no answer"  # the charger was gone or did not answer in time
CALL_ERROR = "error"  # the charger answered with a CallError (e.g. reservations not supported)
NO_ID_TAG = "no id tag"
CANCEL_SENT = "cancel_sent"
CANCELLED = "cancelled"
# Polaris models a charger as one connector (one connector_type per charger).
RESERVE_CONNECTOR_ID = 1


@dataclass(frozen=True)
class ReservationToSend:
    ocpp_reservation_id: int  # the reservationId sent to the charger
    reservation_id: str
    charger_id: str
    connector_id: int
    id_tag: str
    expires_at: datetime


def due_reservations(
    session: Session, now: datetime, lead: timedelta, charger_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(reservation id, charger id) of confirmed reservations on ``charger_ids`` that start
    within ``lead`` of ``now``, have not ended and were never sent to their charger."""
    if not charger_ids:
        return []
    rows = session.execute(
        select(Reservation.id, Reservation.charger_id)
        .where(
            Reservation.charger_id.in_(list(charger_ids)),
            Reservation.status == ReservationStatus.confirmed,
            Reservation.starts_at <= now + lead,
            Reservation.ends_at > now,
            ~exists().where(OcppReservation.reservation_id == Reservation.id),
        )
        .order_by(Reservation.starts_at, Reservation.id)
    ).all()
    return [(r.id, r.charger_id) for r in rows]


def claim_reservation(
    session: Session, reservation_id: str, now: datetime
) -> ReservationToSend | None:
    """Record that ReserveNow is about to go out for ``reservation_id`` and return what to send.

    None when it was already claimed (the unique reservation_id makes sure only one ReserveNow
    is ever sent per reservation) or is no longer confirmed. A reservation whose account has no
    id tag cannot be held for anyone at the charger: it is recorded as ``no id tag``.
    """
    reservation = session.get(Reservation, reservation_id)
    if reservation is None or reservation.status != ReservationStatus.confirmed:
        return None
    id_tag = session.scalar(
        select(IdTag.id_tag)
        .where(IdTag.account_id == reservation.account_id)
        .order_by(IdTag.id_tag)
        .limit(1)
    )
    try:
        with session.begin_nested():
            row = OcppReservation(
                reservation_id=reservation.id,
                charger_id=reservation.charger_id,
                connector_id=RESERVE_CONNECTOR_ID,
                state=SENDING if id_tag else NO_ID_TAG,
                sent_at=now if id_tag else None,
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        return None
    if id_tag is None:
        return None
    return ReservationToSend(
        row.id, reservation.id, reservation.charger_id, row.connector_id, id_tag,
        reservation.ends_at,
    )  # fmt: skip


def record_reserve_answer(
    session: Session, ocpp_reservation_id: int, answer: str, now: datetime
) -> None:
    """The charger's ReserveNow answer (Accepted, Faulted, Occupied, Rejected, Unavailable) or
    ``no answer``."""
    session.execute(
        update(OcppReservation)
        .where(OcppReservation.id == ocpp_reservation_id, OcppReservation.state == SENDING)
        .values(state=answer[:32], answered_at=now),
        execution_options={"synchronize_session": False},
    )


@dataclass(frozen=True)
class CancellationToSend:
    ocpp_reservation_id: int
    charger_id: str


def due_cancellations(session: Session, charger_ids: Sequence[str]) -> list[CancellationToSend]:
    """Reservations cancelled in Polaris that a connected charger accepted (or may have: no
    answer yet) and was not yet told about."""
    if not charger_ids:
        return []
    rows = session.execute(
        select(OcppReservation.id, OcppReservation.charger_id)
        .join(Reservation, Reservation.id == OcppReservation.reservation_id)
        .where(
            OcppReservation.charger_id.in_(list(charger_ids)),
            OcppReservation.state.in_([ACCEPTED, NO_ANSWER]),
            Reservation.status == ReservationStatus.cancelled,
        )
        .order_by(OcppReservation.id)
    ).all()
    return [CancellationToSend(r.id, r.charger_id) for r in rows]


def claim_cancellation(session: Session, ocpp_reservation_id: int, now: datetime) -> bool:
    """Mark CancelReservation as going out; False if another sender already did."""
    del now
    return bool(
        rows_changed(
            session,
            update(OcppReservation)
            .where(
                OcppReservation.id == ocpp_reservation_id,
                OcppReservation.state.in_([ACCEPTED, NO_ANSWER]),
            )
            .values(state=CANCEL_SENT)
            .execution_options(synchronize_session=False),
        )
    )


def record_cancel_answer(
    session: Session, ocpp_reservation_id: int, answer: str, now: datetime
) -> None:
    """The charger's CancelReservation answer (Accepted, Rejected) or ``no answer``."""
    session.execute(
        update(OcppReservation)
        .where(OcppReservation.id == ocpp_reservation_id, OcppReservation.state == CANCEL_SENT)
        .values(state=CANCELLED, cancel_answer=answer[:32], answered_at=now),
        execution_options={"synchronize_session": False},
    )
