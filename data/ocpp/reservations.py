"""Reservations held at chargers over OCPP 1.6J (ReserveNow / CancelReservation), in
``ocpp_reservations``, sent as commands (``data.ocpp.commands``) like everything else.

The reservation scheduler (``schedule_reservations``, run by each OCPP server for the chargers
connected to it) asks for a ReserveNow command shortly before a confirmed reservation starts and
for a CancelReservation command once a reservation the charger holds (or may hold: no answer) was
cancelled in Polaris. Each is asked for once: the ``ocpp_reservations`` row is unique per
reservation (a second scheduler's insert does nothing) and a cancellation first moves the row's
state with a conditional UPDATE; the row and its command are written in one transaction. The
commands are Polaris's own (no user, no account: they neither count against the customer's
command rate nor show as the customer's commands) and carry the row's id as
``ocpp_reservation_id``; when one ends, ``command_ended`` (called by ``record_answer`` /
``expire_commands`` in their transaction) records the outcome on the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from data.core.db import rows_changed
from data.core.models import (
    CommandStatus,
    IdTag,
    OcppReservation,
    Reservation,
    ReservationStatus,
)
from data.notifications import notify_reservation
from data.ocpp.commands import CommandRow, request_command
from data.ocpp.messages import ACCEPTED

# ocpp_reservations.state values besides the charger's own ReserveNow answers.
SENDING = "sending"
NO_ANSWER = "no answer"  # the charger was gone (offline) or did not answer in time (timeout)
CALL_ERROR = "error"  # the charger answered with a CallError (e.g. reservations not supported)
NO_ID_TAG = "no id tag"
CANCEL_SENT = "cancel_sent"
CANCELLED = "cancelled"
# ReserveNow answers by which the charger refuses to hold the reservation: it is cancelled.
REFUSALS = ("Occupied", "Faulted", "Rejected", "Unavailable")
# Polaris models a charger as one connector (one connector_type per charger).
RESERVE_CONNECTOR_ID = 1


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


def request_reserve_now(session: Session, reservation_id: str, now: datetime) -> CommandRow | None:
    """Ask for the ReserveNow of ``reservation_id`` (its ``ocpp_reservations`` row, ``sending``,
    and the command); the command, or None.

    None when the reservation already has its row (the unique reservation_id: one ReserveNow per
    reservation, whoever else asks at the same moment) or is no longer confirmed. A reservation
    whose account has no id tag cannot be held for anyone at the charger: it is recorded as
    ``no id tag`` and nothing is sent.
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
    # ON CONFLICT DO NOTHING rather than a savepoint: the row and its command commit together
    # (SQLite's outermost RELEASE would commit the row alone), and a second scheduler's insert
    # waits for the first's commit, then does nothing.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    ocpp_reservation_id = session.scalar(
        insert(OcppReservation)
        .values(
            reservation_id=reservation.id,
            charger_id=reservation.charger_id,
            connector_id=RESERVE_CONNECTOR_ID,
            state=SENDING if id_tag else NO_ID_TAG,
            sent_at=now if id_tag else None,
        )
        .on_conflict_do_nothing(index_elements=["reservation_id"])
        .returning(OcppReservation.id)
    )
    if ocpp_reservation_id is None or id_tag is None:
        return None
    params = {
        "connector_id": RESERVE_CONNECTOR_ID,
        "expiry_date": reservation.ends_at,
        "id_tag": id_tag,
        "reservation_id": ocpp_reservation_id,
    }
    return request_command(
        session,
        reservation.charger_id,
        "ReserveNow",
        params,
        now,
        ocpp_reservation_id=ocpp_reservation_id,
    )


def due_cancellations(session: Session, charger_ids: Sequence[str]) -> list[int]:
    """The ``ocpp_reservations`` ids of reservations cancelled in Polaris that a charger of
    ``charger_ids`` accepted (or may have: no answer) and was not yet asked to cancel."""
    if not charger_ids:
        return []
    return list(
        session.scalars(
            select(OcppReservation.id)
            .join(Reservation, Reservation.id == OcppReservation.reservation_id)
            .where(
                OcppReservation.charger_id.in_(list(charger_ids)),
                OcppReservation.state.in_([ACCEPTED, NO_ANSWER]),
                Reservation.status == ReservationStatus.cancelled,
            )
            .order_by(OcppReservation.id)
        )
    )


def request_cancel_reservation(
    session: Session, ocpp_reservation_id: int, now: datetime
) -> CommandRow | None:
    """Ask for the CancelReservation of a held reservation (state ``cancel_sent``); the command,
    or None when another scheduler already did (or the row is in no state to cancel)."""
    moved = rows_changed(
        session,
        update(OcppReservation)
        .where(
            OcppReservation.id == ocpp_reservation_id,
            OcppReservation.state.in_([ACCEPTED, NO_ANSWER]),
        )
        .values(state=CANCEL_SENT)
        .execution_options(synchronize_session=False),
    )
    if not moved:
        return None
    row = session.get(OcppReservation, ocpp_reservation_id, populate_existing=True)
    assert row is not None  # it was just updated, in this transaction
    return request_command(
        session,
        row.charger_id,
        "CancelReservation",
        {"reservation_id": row.id},
        now,
        ocpp_reservation_id=row.id,
    )


def schedule_reservations(
    session: Session, now: datetime, lead: timedelta, charger_ids: Sequence[str]
) -> list[CommandRow]:
    """One pass of the scheduler over ``charger_ids``: the ReserveNow commands of the reservations
    due, then the CancelReservation commands of those cancelled; the commands asked for."""
    asked: list[CommandRow] = []
    for reservation_id, _charger_id in due_reservations(session, now, lead, charger_ids):
        reserve = request_reserve_now(session, reservation_id, now)
        if reserve is not None:
            asked.append(reserve)
    for ocpp_reservation_id in due_cancellations(session, charger_ids):
        cancel = request_cancel_reservation(session, ocpp_reservation_id, now)
        if cancel is not None:
            asked.append(cancel)
    return asked


def outcome(status: CommandStatus, response: Mapping[str, Any] | None) -> str:
    """The word the admin sees for how a reservation's command ended: the charger's answer
    (Accepted, Occupied, Rejected, ...), ``error`` for a CallError, else ``no answer``."""
    if status in (CommandStatus.accepted, CommandStatus.rejected):
        answered = (response or {}).get("status")
        return str(answered or status.value.capitalize())[:32]
    if status == CommandStatus.failed:
        return CALL_ERROR
    return NO_ANSWER


def _refused_by_charger(session: Session, ocpp_reservation_id: int, word: str) -> None:
    """The charger will not hold the reservation: it is cancelled, saying why (the driver sees
    it in Next reservation); nothing is then sent to cancel it at the charger."""
    session.execute(
        update(Reservation)
        .where(
            Reservation.id
            == select(OcppReservation.reservation_id)
            .where(OcppReservation.id == ocpp_reservation_id)
            .scalar_subquery(),
            Reservation.status == ReservationStatus.confirmed,
        )
        .values(status=ReservationStatus.cancelled, end_reason=f"the charger answered {word}")
        .execution_options(synchronize_session=False)
    )


def command_ended(
    session: Session,
    ocpp_reservation_id: int,
    action: str,
    status: CommandStatus,
    response: Mapping[str, Any] | None,
    now: datetime,
) -> None:
    """Record on the reservation's row how its ReserveNow (``state``) or CancelReservation
    (``cancelled`` and ``cancel_answer``) ended; a row already past that step is left alone.
    A ReserveNow the charger refused (``REFUSALS``) cancels the reservation with the reason."""
    word = outcome(status, response)
    if action == "ReserveNow":
        reservation_id = session.scalar(
            update(OcppReservation)
            .where(OcppReservation.id == ocpp_reservation_id, OcppReservation.state == SENDING)
            .values(state=word, answered_at=now)
            .returning(OcppReservation.reservation_id),
            execution_options={"synchronize_session": False},
        )
        # The driver hears of the charger's answer (no answer or a CallError says nothing of
        # the reservation: the admin sees those), once: the row left SENDING just now.
        if reservation_id is not None and word in REFUSALS:
            _refused_by_charger(session, ocpp_reservation_id, word)
        if reservation_id is not None and status == CommandStatus.accepted:
            notify_reservation(session, reservation_id, "confirmed", now)
        elif reservation_id is not None and status == CommandStatus.rejected:
            notify_reservation(session, reservation_id, "refused", now, reason=word)
        return
    elif action == "CancelReservation":
        statement = (
            update(OcppReservation)
            .where(OcppReservation.id == ocpp_reservation_id, OcppReservation.state == CANCEL_SENT)
            .values(state=CANCELLED, cancel_answer=word, answered_at=now)
        )
    else:
        return
    session.execute(statement, execution_options={"synchronize_session": False})
