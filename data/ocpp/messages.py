"""What OCPP 1.6J messages from chargers do to the database: one function per message.

Each function takes a session (the caller commits it: one message, one transaction), the id of
the charger that sent the message (the central system knows it from the connection, never from
the payload), the payload values and ``now``. They are written so that a charger re-sending a
message after a reconnect changes nothing the second time:

- a StartTransaction with the same connector and timestamp finds the transaction it opened;
- meter readings only ever move a transaction's register upwards, and the session's energy is
  "highest reading - meterStart", so a late or repeated MeterValues never lowers or double-counts;
- a StopTransaction for a stopped transaction answers the same and changes nothing.

Whether a reading is plausible, and what happens when it is not, is ``data.ocpp.energy``;
reservations sent to chargers are ``data.ocpp.reservations``.

Sessions opened here are ordinary rows in ``sessions`` (id ``ocpp-<transactionId>``), so the
dashboards, the admin views and the exports see them like any imported session.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Numeric,
    Table,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.core.db import rows_changed
from data.core.models import (
    Charger,
    ChargerAccess,
    ChargingSession,
    ConnectorStatus,
    IdTag,
    OcppTransaction,
    UTCDateTime,
    Visibility,
)
from data.notifications import notify_session_finished
from data.ocpp.energy import (
    MAX_READING_WH,
    WH,
    check_reading,
    dispute_session,
    highest_energy_wh,
    log_dispute,
    peak_power_w,
    session_energy_kwh,
)
from data.pricing.tariffs import price_session
from data.uptime.live import close_offline, follow_reports

# A charger whose clock runs ahead would otherwise open sessions in the future.
MAX_CLOCK_AHEAD = timedelta(minutes=5)
SESSION_PREFIX = "ocpp-"

# OCPP 1.6 AuthorizationStatus values we answer with.
ACCEPTED = "Accepted"
# A known tag on a restricted charger its account has no grant for, or a blocked (lost) card.
BLOCKED = "Blocked"
INVALID = "Invalid"  # an unknown tag


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


def ocpp_time(moment: datetime) -> str:
    """An OCPP timestamp: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def session_id_for(transaction_id: int) -> str:
    return f"{SESSION_PREFIX}{transaction_id}"


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
_chargers = typing.cast(Table, Charger.__table__)
_transactions = typing.cast(Table, OcppTransaction.__table__)
_sessions = typing.cast(Table, ChargingSession.__table__)
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


def _raised_peak(peak: ColumnElement[Any]) -> ColumnElement[Any]:
    """``peak_power_w`` raised to ``peak`` if that is higher (a NULL ``peak`` keeps it): CASE,
    not GREATEST, which SQLite lacks (and whose max() would take a NULL for the highest)."""
    column = _transactions.c.peak_power_w
    return case((func.coalesce(column, -1) < peak, peak), else_=column)


# Only a higher reading moves the register, only a higher power the peak (a NULL ``reading``
# or ``peak`` moves neither; SET sees the row as it was before the UPDATE).
_RAISE_REGISTER = (
    _transactions.update()
    .where(_OPEN_TRANSACTION)
    .values(
        meter_last_wh=case((_higher, _reading), else_=_transactions.c.meter_last_wh),
        meter_last_at=case(
            (_higher, bindparam("sampled_at", type_=UTCDateTime())),
            else_=_transactions.c.meter_last_at,
        ),
        peak_power_w=_raised_peak(bindparam("peak", type_=Numeric(10, 0))),
    )
    .returning(*_REGISTER)
)
# What the plausibility check needs, with the register and the peak (one statement).
_READ_REGISTER = (
    select(
        *_REGISTER,
        _transactions.c.peak_power_w,
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
    """The charger was heard from at ``now`` (never moves ``last_seen_at`` backwards), which
    ends its offline outage if one is open."""
    session.execute(_TOUCH, {"for_charger": charger_id, "now": now})
    close_offline(session, charger_id, now)


def _heard(session: Session, charger_id: str, now: datetime) -> None:
    """``touch`` less the offline outage: a StatusNotification ends that in the statement that
    follows its report (``follow_reports``), one round trip for both."""
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
    """StatusNotification: keep the latest status per connector (an older report never wins),
    and open or close the charger's out_of_order outage at this report when it is kept."""
    _heard(session, charger_id, now)
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
    elif row.reported_at <= reported_at:
        row.status = status[:32]
        row.error_code = error_code[:64]
        row.info = info[:255] if info else None
        row.reported_at = reported_at
    else:
        close_offline(session, charger_id, now)  # an older report: only the offline outage ends
        return
    session.flush()
    follow_reports(session, charger_id, status[:32], reported_at, now)


def _tag_status(session: Session, charger_id: str, id_tag: str) -> tuple[str, str | None]:
    """(AuthorizationStatus, account id) for ``id_tag`` at ``charger_id``: a blocked card is
    Blocked wherever it is used (no session starts with it)."""
    tag = session.execute(
        select(IdTag.account_id, IdTag.blocked_at).where(IdTag.id_tag == id_tag)
    ).first()
    if tag is None:
        return INVALID, None
    account_id: str = tag.account_id
    if tag.blocked_at is not None:
        return BLOCKED, account_id
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
    """Authorize: Accepted for a tag assigned to an account that may use this charger (and not
    blocked)."""
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
    session: Session,
    tx: OcppTransaction,
    reading_wh: Decimal | None,
    peak_w: Decimal | None,
    at: datetime,
) -> bool:
    """Move the transaction's register to ``reading_wh`` and its peak power to ``peak_w``,
    each if higher (None: not that one); True if either moved.

    One conditional UPDATE, so two concurrent writers can never lower either.
    """
    t = OcppTransaction
    values: dict[str, Any] = {}
    moves: list[ColumnElement[bool]] = []
    if reading_wh is not None:
        higher = t.meter_last_wh < reading_wh
        values["meter_last_wh"] = case((higher, reading_wh), else_=t.meter_last_wh)
        values["meter_last_at"] = case((higher, literal(at, UTCDateTime())), else_=t.meter_last_at)
        moves.append(higher)
    if peak_w is not None:
        values["peak_power_w"] = _raised_peak(literal(peak_w, Numeric(10, 0)))
        moves.append(func.coalesce(t.peak_power_w, -1) < peak_w)
    if not moves:
        return False
    moved = rows_changed(
        session,
        update(t)
        .where(t.id == tx.id, or_(*moves))
        .values(values)
        .execution_options(synchronize_session=False),
    )
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
    of all: three statements (last seen, register, session), four when the register or the
    peak power moves (one UPDATE raises both). An implausible reading is not taken: the
    session is marked disputed instead; its power, checked on its own, still counts.
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
    sampled_at = now
    if reading is not None:
        sampled_at = max(
            (parse_timestamp(v.get("timestamp"), now) for v in meter_value), default=now
        )
        dispute = check_reading(
            row.max_power_kw, row.started_at, row.meter_start_wh, row.meter_last_wh,
            row.meter_last_at, reading, sampled_at,
        )  # fmt: skip
        if dispute is not None:
            log_dispute(charger_id, int(transaction_id), row.session_id, dispute, "MeterValues")
            dispute_session(session, row.session_id, dispute, now)
            reading = None
        elif reading <= row.meter_last_wh:
            reading = None
    peak = peak_power_w(meter_value)
    if peak is not None and row.peak_power_w is not None and peak <= row.peak_power_w:
        peak = None
    if reading is not None or peak is not None:
        params = key | {"reading": reading, "sampled_at": sampled_at, "peak": peak}
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
    peak = None
    if transaction_data:
        final = max(final, highest_energy_wh(transaction_data) or final)
        peak = peak_power_w(transaction_data)
    stopped_at = max(parse_timestamp(timestamp, now), tx.started_at)
    charger = session.get(Charger, charger_id)
    dispute = check_reading(
        charger.max_power_kw if charger is not None else None, tx.started_at,
        tx.meter_start_wh, tx.meter_last_wh, tx.meter_last_at, final, stopped_at,
    )  # fmt: skip
    # A disputed final reading is not taken (the session keeps its last plausible figure; it
    # is still stopped and answered); its power, checked on its own, still counts.
    _raise_register(session, tx, final if dispute is None else None, peak, stopped_at)
    if dispute is not None:
        log_dispute(charger_id, tx.id, tx.session_id, dispute, "StopTransaction")
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
            # Its cost, by the tariff version in force at its start (none while disputed).
            price_session(session, row.id)
            # The driver's e-mail, queued in this transaction (sent later by the worker).
            notify_session_finished(session, row.id, now)
    session.flush()
    return tag_status
