"""What OCPP 1.6J messages from chargers do to the database: one function per message.

Each function takes a session (the caller commits it: one message, one transaction), the id of
the charger that sent the message (the central system knows it from the connection, never from
the payload), the payload values and ``now``. They are written so that a charger re-sending a
message after a reconnect changes nothing the second time:

- a StartTransaction with the same connector and timestamp finds the transaction it opened;
- meter readings only ever move a transaction's register upwards, and the session's energy is
  "highest reading - meterStart", so a late or repeated MeterValues never lowers or double-counts;
- a StopTransaction for a stopped transaction answers the same and changes nothing.

A reading is taken only when it is plausible (``allowed_energy_kwh``): the energy since the
transaction's start is at most what the charger's ``max_power_kw`` can deliver in the time
since then, 10 % plus 0.05 kWh of tolerance, and the register never goes backwards. An
implausible MeterValues or StopTransaction is still answered (a charger refused would retry
forever) but its energy is not taken: the session keeps its last plausible figure, is marked
``energy_disputed_at`` with what the charger reported, counts in no usage figure until an admin
confirms or corrects it (data/ocpp/admin.py), and the rejection is logged.

Sessions opened here are ordinary rows in ``sessions`` (id ``ocpp-<transactionId>``), so the
dashboards, the admin views and the exports see them like any imported session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    Integer,
    Numeric,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.core.models import (
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    IdTag,
    OcppReservation,
    OcppTransaction,
    Reservation,
    ReservationStatus,
    UTCDateTime,
    Visibility,
)

ENERGY_REGISTER = "Energy.Active.Import.Register"
KWH = Decimal("0.001")  # sessions.energy_kwh is Numeric(12, 3)
WH = Decimal("0.001")  # meter readings are kept to the milliwatt-hour (Numeric(15, 3))
MAX_READING_WH = Decimal("999999999999.999")  # the largest Numeric(15, 3)
# A charger whose clock runs ahead would otherwise open sessions in the future.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
SESSION_PREFIX = "ocpp-"

# Plausible energy: max_power_kw x hours since the start, 10 % over (meters and power ratings
# are not exact) plus a fixed 0.05 kWh (seconds of clock skew between start and reading).
POWER_TOLERANCE = Decimal("1.10")
ENERGY_ALLOWANCE_KWH = Decimal("0.05")
# A charger without a power rating: above the fastest car chargers (350 kW CCS).
FALLBACK_POWER_KW = Decimal("400")
# The start time is the charger's own word: a backdated StartTransaction buys no more than
# three days of charging (a real session never needs more: no car battery takes more).
MAX_PLAUSIBLE_DURATION = timedelta(days=3)

log = logging.getLogger("polaris.ocpp")

# OCPP 1.6 AuthorizationStatus values we answer with.
ACCEPTED = "Accepted"
BLOCKED = "Blocked"  # a known tag on a restricted charger its account has no grant for
INVALID = "Invalid"  # an unknown tag

# ocpp_reservations.state values besides the charger's own ReserveNow answers.
SENDING = "sending"
NO_ANSWER = "no answer"  # the charger was gone or did not answer in time
CALL_ERROR = "error"  # the charger answered with a CallError (e.g. reservations not supported)
NO_ID_TAG = "no id tag"
CANCEL_SENT = "cancel_sent"
CANCELLED = "cancelled"
# Polaris models a charger as one connector (one connector_type per charger).
RESERVE_CONNECTOR_ID = 1


class OcppDataError(ValueError):
    """A payload value we cannot use (the central system answers with a CallError)."""


# --- small parsers ---------------------------------------------------------------------------


def parse_timestamp(value: str | None, now: datetime) -> datetime:
    """An OCPP timestamp as an aware UTC datetime; ``now`` when missing, unreadable or ahead.

    Naive timestamps are read as UTC (OCPP requires UTC anyway). A timestamp more than
    ``MAX_CLOCK_AHEAD`` in the future is a charger with a wrong clock: ``now`` is used instead.
    """
    if not value:
        return now
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return now
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    return now if parsed > now + MAX_CLOCK_AHEAD else parsed


def energy_reading_wh(sampled_value: Mapping[str, Any]) -> Decimal | None:
    """The energy register in Wh from one OCPP SampledValue, or None if it is not one.

    OCPP defaults: measurand Energy.Active.Import.Register, unit Wh. Per-phase values are
    skipped (the register total has no phase); so are unreadable or negative values.
    """
    if sampled_value.get("measurand", ENERGY_REGISTER) != ENERGY_REGISTER:
        return None
    if sampled_value.get("phase"):
        return None
    unit = sampled_value.get("unit", "Wh")
    try:
        value = Decimal(str(sampled_value.get("value", "")).strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    if unit == "kWh":
        value *= 1000
    elif unit != "Wh":
        return None
    # Beyond any register (and Decimal's precision): the most a reading can be, implausible.
    return min(value, MAX_READING_WH).quantize(WH, rounding=ROUND_HALF_UP)


def highest_energy_wh(meter_values: Iterable[Mapping[str, Any]]) -> Decimal | None:
    """The highest energy register reading (Wh) in a MeterValues ``meterValue`` list."""
    readings = [
        wh
        for meter_value in meter_values
        for sampled in meter_value.get("sampled_value", ())
        if (wh := energy_reading_wh(sampled)) is not None
    ]
    return max(readings, default=None)


def session_energy_kwh(start_wh: Decimal, last_wh: Decimal) -> Decimal:
    """kWh delivered between two register readings, rounded as sessions.energy_kwh stores it."""
    delivered = max(Decimal(last_wh) - Decimal(start_wh), Decimal(0))
    return (delivered / 1000).quantize(KWH, rounding=ROUND_HALF_UP)


def session_id_for(transaction_id: int) -> str:
    return f"{SESSION_PREFIX}{transaction_id}"


def allowed_energy_kwh(
    max_power_kw: Decimal | float | None, started_at: datetime, read_at: datetime
) -> Decimal:
    """The most energy (kWh) a charger rated ``max_power_kw`` can have delivered between
    ``started_at`` and ``read_at``, with the tolerance above (never less than 0.05 kWh)."""
    power = Decimal(str(max_power_kw)) if max_power_kw and max_power_kw > 0 else FALLBACK_POWER_KW
    elapsed = min(max(read_at - started_at, timedelta(0)), MAX_PLAUSIBLE_DURATION)
    hours = Decimal(elapsed // timedelta(microseconds=1)) / Decimal(3_600_000_000)
    return (power * hours * POWER_TOLERANCE + ENERGY_ALLOWANCE_KWH).quantize(KWH, ROUND_DOWN)


def _reported_kwh(start_wh: Decimal, reading_wh: Decimal) -> Decimal:
    # Readings are capped at MAX_READING_WH, so this always fits sessions.energy_kwh.
    return session_energy_kwh(start_wh, reading_wh)


@dataclass(frozen=True)
class Dispute:
    """Why a reading was not taken: what it claims and the most (or least) it could be."""

    reported_kwh: Decimal
    limit_kwh: Decimal
    decreasing: bool


def check_reading(
    max_power_kw: Decimal | float | None,
    started_at: datetime,
    meter_start_wh: Decimal,
    meter_last_wh: Decimal,
    meter_last_at: datetime | None,
    reading_wh: Decimal,
    read_at: datetime,
) -> Dispute | None:
    """None when ``reading_wh`` at ``read_at`` may be taken (or is simply an old or repeated
    reading: not higher, and not sampled after the register's latest); a ``Dispute`` when it
    claims more than the charger can deliver, or is lower than a reading sampled before it."""
    if reading_wh > meter_last_wh:
        allowed = allowed_energy_kwh(max_power_kw, started_at, read_at)
        if (Decimal(reading_wh) - Decimal(meter_start_wh)) / 1000 <= allowed:
            return None
        return Dispute(_reported_kwh(meter_start_wh, reading_wh), allowed, decreasing=False)
    if reading_wh < meter_last_wh and meter_last_at is not None and read_at > meter_last_at:
        return Dispute(
            _reported_kwh(meter_start_wh, reading_wh),
            session_energy_kwh(meter_start_wh, meter_last_wh),
            decreasing=True,
        )
    return None


def _log_dispute(
    charger_id: str, transaction_id: int, session_id: str | None, dispute: Dispute, message: str
) -> None:
    if dispute.decreasing:
        log.warning(
            "%s from charger %s, session %s (transaction %s): register went back to %s kWh "
            "since the start, below the %s kWh already read; not taken, energy disputed",
            message, charger_id, session_id, transaction_id, dispute.reported_kwh,
            dispute.limit_kwh,
        )  # fmt: skip
    else:
        log.warning(
            "%s from charger %s, session %s (transaction %s): %s kWh since the start reported, "
            "at most %s kWh allowed; not taken, energy disputed",
            message, charger_id, session_id, transaction_id, dispute.reported_kwh,
            dispute.limit_kwh,
        )  # fmt: skip


def _dispute_session(
    session: Session, session_id: str | None, dispute: Dispute, now: datetime
) -> None:
    """Mark the session's energy disputed (the first time at ``now``), keeping the latest
    reported figure; the rollup triggers take it out of every usage figure."""
    if session_id is None:
        return
    session.execute(
        update(ChargingSession)
        .where(ChargingSession.id == session_id)
        .values(
            energy_disputed_at=func.coalesce(ChargingSession.energy_disputed_at, now),
            energy_disputed_kwh=dispute.reported_kwh,
        ),
        execution_options={"synchronize_session": False},
    )


# --- connecting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChargerLogin:
    charger_id: str
    password_hash: str | None  # None: the charger connects without HTTP Basic auth


def charger_login(session: Session, charger_id: str) -> ChargerLogin | None:
    """What the handshake needs to know about a charger id; None for an unknown charger."""
    row = session.execute(
        select(Charger.id, Charger.ocpp_password_hash).where(Charger.id == charger_id)
    ).first()
    return None if row is None else ChargerLogin(row.id, row.ocpp_password_hash)


# The hot path (every heartbeat and meter value) runs statements built once, on the tables:
# no per-message statement building, no ORM bulk-update machinery (about half the CPU).
_chargers = Charger.__table__
_transactions = OcppTransaction.__table__
_sessions = ChargingSession.__table__
_now = bindparam("now", type_=UTCDateTime())
_TOUCH = (
    _chargers.update()
    .where(
        _chargers.c.id == bindparam("for_charger"),
        or_(_chargers.c.last_seen_at.is_(None), _chargers.c.last_seen_at < _now),
    )
    .values(last_seen_at=_now)
)
_reading = bindparam("reading", type_=Numeric(15, 3))
_higher = _transactions.c.meter_last_wh < _reading
_OPEN_TRANSACTION = and_(
    _transactions.c.id == bindparam("for_transaction", type_=Integer()),
    _transactions.c.charger_id == bindparam("for_charger"),
    _transactions.c.stopped_at.is_(None),
)
_REGISTER = (
    _transactions.c.session_id,
    _transactions.c.meter_start_wh,
    _transactions.c.meter_last_wh,
)
# Only a higher reading moves the register (SET sees the row as it was before the UPDATE).
_RAISE_REGISTER = (
    _transactions.update()
    .where(_OPEN_TRANSACTION)
    .values(
        meter_last_wh=case((_higher, _reading), else_=_transactions.c.meter_last_wh),
        meter_last_at=case(
            (_higher, bindparam("sampled_at", type_=UTCDateTime())),
            else_=_transactions.c.meter_last_at,
        ),
    )
    .returning(*_REGISTER)
)
# What the plausibility check needs, with the register (one statement).
_READ_REGISTER = (
    select(
        *_REGISTER,
        _transactions.c.meter_last_at,
        _transactions.c.started_at,
        _chargers.c.max_power_kw,
    )
    .join(_chargers, _chargers.c.id == _transactions.c.charger_id)
    .where(_OPEN_TRANSACTION)
)
_energy = bindparam("energy", type_=Numeric(12, 3))
_SESSION_ENERGY = (
    _sessions.update()
    .where(
        _sessions.c.id == bindparam("for_session"),
        _sessions.c.ended_at.is_(None),
        _sessions.c.energy_kwh < _energy,
    )
    .values(energy_kwh=_energy)
)


def touch(session: Session, charger_id: str, now: datetime) -> None:
    """The charger was heard from at ``now`` (never moves ``last_seen_at`` backwards)."""
    session.execute(_TOUCH, {"for_charger": charger_id, "now": now})


# --- messages from chargers ------------------------------------------------------------------


def boot_notification(session: Session, charger_id: str, now: datetime) -> None:
    """BootNotification: every known charger is accepted (unknown ones never get this far)."""
    touch(session, charger_id, now)


def heartbeat(session: Session, charger_id: str, now: datetime) -> None:
    touch(session, charger_id, now)


def status_notification(
    session: Session,
    charger_id: str,
    connector_id: int,
    status: str,
    error_code: str,
    info: str | None,
    timestamp: str | None,
    now: datetime,
) -> None:
    """StatusNotification: keep the latest status per connector (an older report never wins)."""
    touch(session, charger_id, now)
    if connector_id < 0:
        raise OcppDataError("connectorId must be 0 or more")
    reported_at = parse_timestamp(timestamp, now)
    row = session.get(ConnectorStatus, (charger_id, connector_id), with_for_update=True)
    if row is None:
        session.add(
            ConnectorStatus(
                charger_id=charger_id,
                connector_id=connector_id,
                status=status[:32],
                error_code=error_code[:64],
                info=info[:255] if info else None,
                reported_at=reported_at,
            )
        )
        session.flush()
    elif row.reported_at <= reported_at:
        row.status = status[:32]
        row.error_code = error_code[:64]
        row.info = info[:255] if info else None
        row.reported_at = reported_at


def _tag_status(session: Session, charger_id: str, id_tag: str) -> tuple[str, str | None]:
    """(AuthorizationStatus, account id) for ``id_tag`` at ``charger_id``."""
    account_id = session.scalar(select(IdTag.account_id).where(IdTag.id_tag == id_tag))
    if account_id is None:
        return INVALID, None
    allowed = session.scalar(
        select(
            or_(
                Charger.visibility == Visibility.public,
                exists().where(
                    ChargerAccess.account_id == account_id, ChargerAccess.charger_id == Charger.id
                ),
            )
        ).where(Charger.id == charger_id)
    )
    return (ACCEPTED if allowed else BLOCKED), account_id


def authorize(session: Session, charger_id: str, id_tag: str, now: datetime) -> str:
    """Authorize: Accepted for a tag assigned to an account that may use this charger."""
    touch(session, charger_id, now)
    return _tag_status(session, charger_id, id_tag)[0]


@dataclass(frozen=True)
class StartResult:
    transaction_id: int
    status: str  # AuthorizationStatus for idTagInfo
    session_id: str | None


def start_transaction(
    session: Session,
    charger_id: str,
    connector_id: int,
    id_tag: str,
    meter_start_wh: int,
    timestamp: str | None,
    now: datetime,
) -> StartResult:
    """StartTransaction: open a session for the tag's account and return the transactionId.

    A refused tag still gets a transactionId (OCPP requires one) but no session. Re-sending the
    same start (connector and timestamp) returns the same transaction.
    """
    touch(session, charger_id, now)
    if meter_start_wh < 0:
        raise OcppDataError("meterStart must not be negative")
    if meter_start_wh > MAX_READING_WH:
        raise OcppDataError(f"meterStart must be at most {MAX_READING_WH} Wh")
    started_at = parse_timestamp(timestamp, now)
    existing = _find_start(session, charger_id, connector_id, started_at)
    if existing is not None:
        return existing
    status, account_id = _tag_status(session, charger_id, id_tag)
    meter_start = Decimal(meter_start_wh).quantize(WH)
    try:
        with session.begin_nested():
            tx = OcppTransaction(
                charger_id=charger_id,
                connector_id=connector_id,
                id_tag=id_tag[:64],
                meter_start_wh=meter_start,
                meter_last_wh=meter_start,
                meter_last_at=started_at,
                started_at=started_at,
            )
            session.add(tx)
            session.flush()
            if status == ACCEPTED and account_id is not None:
                session_id = session_id_for(tx.id)
                session.add(
                    ChargingSession(
                        id=session_id,
                        account_id=account_id,
                        charger_id=charger_id,
                        started_at=started_at,
                        ended_at=None,
                        energy_kwh=Decimal("0.000"),
                        finalized=False,
                    )
                )
                session.flush()
                tx.session_id = session_id
                session.flush()
    except IntegrityError:
        # The same start arrived twice at once (two connections of one charger): the first won.
        existing = _find_start(session, charger_id, connector_id, started_at)
        if existing is None:
            raise
        return existing
    return StartResult(tx.id, status, tx.session_id)


def _find_start(
    session: Session, charger_id: str, connector_id: int, started_at: datetime
) -> StartResult | None:
    row = session.execute(
        select(OcppTransaction.id, OcppTransaction.session_id).where(
            OcppTransaction.charger_id == charger_id,
            OcppTransaction.connector_id == connector_id,
            OcppTransaction.started_at == started_at,
        )
    ).first()
    if row is None:
        return None
    return StartResult(row.id, ACCEPTED if row.session_id else INVALID, row.session_id)


def _own_transaction(
    session: Session, charger_id: str, transaction_id: int | None
) -> OcppTransaction | None:
    """The transaction, if it exists and belongs to this charger (never another charger's)."""
    if transaction_id is None:
        return None
    tx = session.get(OcppTransaction, int(transaction_id))
    return tx if tx is not None and tx.charger_id == charger_id else None


def _raise_register(
    session: Session, tx: OcppTransaction, reading_wh: Decimal, at: datetime
) -> bool:
    """Move the transaction's register to ``reading_wh`` if that is higher; True if it moved.

    One conditional UPDATE, so two concurrent writers can never lower it.
    """
    moved = session.execute(
        update(OcppTransaction)
        .where(OcppTransaction.id == tx.id, OcppTransaction.meter_last_wh < reading_wh)
        .values(meter_last_wh=reading_wh, meter_last_at=at),
        execution_options={"synchronize_session": False},
    ).rowcount
    if moved:
        session.refresh(tx)
    return bool(moved)


def meter_values(
    session: Session,
    charger_id: str,
    connector_id: int,
    transaction_id: int | None,
    meter_value: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Decimal | None:
    """MeterValues: the session's kWh so far from the highest register reading.

    Returns the session's energy in kWh after this message (None when the values belong to no
    open transaction of this charger: they are acknowledged and ignored). The busiest message
    of all: three statements (last seen, register, session), four when the register moves.
    An implausible reading is not taken: the session is marked disputed instead.
    """
    del connector_id  # the transaction names its connector
    touch(session, charger_id, now)
    if transaction_id is None:
        return None
    key = {"for_transaction": int(transaction_id), "for_charger": charger_id}
    row: Any = session.execute(_READ_REGISTER, key).first()
    if row is None:
        return None  # not this charger's, unknown, or stopped (meterStop is final)
    reading = highest_energy_wh(meter_value)
    if reading is not None:
        sampled_at = max(
            (parse_timestamp(v.get("timestamp"), now) for v in meter_value), default=now
        )
        dispute = check_reading(
            row.max_power_kw, row.started_at, row.meter_start_wh, row.meter_last_wh,
            row.meter_last_at, reading, sampled_at,
        )  # fmt: skip
        if dispute is not None:
            _log_dispute(charger_id, int(transaction_id), row.session_id, dispute, "MeterValues")
            _dispute_session(session, row.session_id, dispute, now)
        elif reading > row.meter_last_wh:
            params = key | {"reading": reading, "sampled_at": sampled_at}
            row = session.execute(_RAISE_REGISTER, params).first()
            if row is None:
                return None  # stopped meanwhile
    energy = session_energy_kwh(row.meter_start_wh, row.meter_last_wh)
    if row.session_id is not None:
        session.execute(_SESSION_ENERGY, {"for_session": row.session_id, "energy": energy})
    return energy


def stop_transaction(
    session: Session,
    charger_id: str,
    transaction_id: int,
    meter_stop_wh: int,
    timestamp: str | None,
    reason: str | None,
    id_tag: str | None,
    transaction_data: Sequence[Mapping[str, Any]] | None,
    now: datetime,
) -> str | None:
    """StopTransaction: close the session with the final reading and mark it finalized.

    An implausible final reading still stops the transaction and finalizes the session, with
    its last plausible energy, marked disputed.

    Returns the idTagInfo status for ``id_tag`` (None when the charger sent no tag). Stopping
    a stopped or unknown transaction changes nothing (a charger re-sending after a reconnect
    must still get its answer, or it would retry forever).
    """
    touch(session, charger_id, now)
    if meter_stop_wh < 0:
        raise OcppDataError("meterStop must not be negative")
    tag_status = _tag_status(session, charger_id, id_tag)[0] if id_tag else None
    tx = _own_transaction(session, charger_id, transaction_id)
    if tx is None or tx.stopped_at is not None:
        return tag_status
    final = min(Decimal(meter_stop_wh), MAX_READING_WH).quantize(WH)
    if transaction_data:
        final = max(final, highest_energy_wh(transaction_data) or final)
    stopped_at = max(parse_timestamp(timestamp, now), tx.started_at)
    charger = session.get(Charger, charger_id)
    dispute = check_reading(
        charger.max_power_kw if charger is not None else None, tx.started_at,
        tx.meter_start_wh, tx.meter_last_wh, tx.meter_last_at, final, stopped_at,
    )  # fmt: skip
    if dispute is None:
        _raise_register(session, tx, final, stopped_at)
    else:
        # Still stopped and answered; the session keeps its last plausible figure.
        _log_dispute(charger_id, tx.id, tx.session_id, dispute, "StopTransaction")
    tx.stopped_at = stopped_at
    tx.stop_reason = (reason or "Local")[:32]
    if tx.session_id is not None:
        row = session.get(ChargingSession, tx.session_id, with_for_update=True)
        if row is not None:
            row.ended_at = max(stopped_at, row.started_at)
            row.energy_kwh = max(
                Decimal(row.energy_kwh), session_energy_kwh(tx.meter_start_wh, tx.meter_last_wh)
            )
            row.finalized = True
            if dispute is not None:
                row.energy_disputed_at = row.energy_disputed_at or now
                row.energy_disputed_kwh = dispute.reported_kwh
    session.flush()
    return tag_status


# --- reservations sent to chargers (ReserveNow / CancelReservation) ---------------------------


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
        session.execute(
            update(OcppReservation)
            .where(
                OcppReservation.id == ocpp_reservation_id,
                OcppReservation.state.in_([ACCEPTED, NO_ANSWER]),
            )
            .values(state=CANCEL_SENT),
            execution_options={"synchronize_session": False},
        ).rowcount
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
