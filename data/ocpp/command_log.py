"""The operators' command log: commands to chargers with who asked, filtered in SQL.

``command_log_rows`` reads a page's worth of ``charger_commands`` newest first, with the asking
person's email (or, for Polaris's own ReserveNow / CancelReservation, the reservation) joined
(``iter_command_log_rows`` streams them all, for the CSV export), filtered by charger, action,
status and a range of local days (``CommandLogFilter``, built from what a
page or a query string sent by ``parse_log_filter``, which says what is wrong in words).
``sessions_in_progress`` names the sessions open on a charger: what a destructive command would
interrupt, and what RemoteStopTransaction may stop.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from data.core.models import (
    ChargerCommand,
    ChargingSession,
    CommandStatus,
    OcppReservation,
    OcppTransaction,
    User,
)
from data.core.periods import FilterValueError, filter_day, filter_text, local_midnight_utc
from data.ocpp.commands import ACTIONS, CommandError, CommandRow, command_row

LOG_LIMIT = 200  # rows a page shows; the CSV export has every filtered row
CHARGER_ID_MAX = 64


@dataclass(frozen=True)
class CommandLogRow:
    command: CommandRow
    user_email: str | None  # who asked (None from the command line, or the person was removed)
    reservation_id: str | None = None  # ReserveNow / CancelReservation: the reservation's id


@dataclass(frozen=True)
class CommandLogFilter:
    charger_id: str | None = None
    action: str | None = None
    status: CommandStatus | None = None
    first_day: date | None = None  # local days, both included
    last_day: date | None = None

    def query(self) -> dict[str, str]:
        """The filter as a query string's values (for the Export CSV link)."""
        values = {
            "charger": self.charger_id,
            "action": self.action,
            "status": None if self.status is None else self.status.value,
            "from": None if self.first_day is None else self.first_day.isoformat(),
            "to": None if self.last_day is None else self.last_day.isoformat(),
        }
        return {k: v for k, v in values.items() if v}


def parse_log_filter(
    charger: object = None,
    action: object = None,
    status: object = None,
    first_day: object = None,
    last_day: object = None,
) -> CommandLogFilter:
    """The filter from what a page or a query string sent; ``CommandError`` says what is wrong
    (an unknown action or status, a date that is not one, from after to)."""
    try:
        return _log_filter(charger, action, status, first_day, last_day)
    except FilterValueError as exc:
        raise CommandError(str(exc)) from None


def _log_filter(
    charger: object, action: object, status: object, first_day: object, last_day: object
) -> CommandLogFilter:
    charger_id = filter_text(charger, "charger")
    if charger_id is not None and len(charger_id) > CHARGER_ID_MAX:
        raise CommandError(f"charger: at most {CHARGER_ID_MAX} characters")
    action_name = filter_text(action, "action")
    if action_name is not None and action_name not in ACTIONS:
        raise CommandError(f"action: one of {', '.join(ACTIONS)}")
    status_name = filter_text(status, "status")
    if status_name is not None and status_name not in CommandStatus.__members__:
        raise CommandError(f"status: one of {', '.join(s.value for s in CommandStatus)}")
    first, last = filter_day(first_day, "from"), filter_day(last_day, "to")
    if first is not None and last is not None and first > last:
        raise CommandError("from: the first day comes after the last one")
    return CommandLogFilter(
        charger_id=charger_id,
        action=action_name,
        status=None if status_name is None else CommandStatus(status_name),
        first_day=first,
        last_day=last,
    )


def _filtered(flt: CommandLogFilter, tz: ZoneInfo) -> Select[ChargerCommand, str]:
    statement = select(ChargerCommand, User.email).outerjoin(
        User, User.id == ChargerCommand.user_id
    )
    if flt.charger_id is not None:
        statement = statement.where(ChargerCommand.charger_id == flt.charger_id)
    if flt.action is not None:
        statement = statement.where(ChargerCommand.action == flt.action)
    if flt.status is not None:
        statement = statement.where(ChargerCommand.status == flt.status)
    if flt.first_day is not None:
        since = local_midnight_utc(flt.first_day, tz)
        statement = statement.where(ChargerCommand.requested_at >= since)
    if flt.last_day is not None:
        until = local_midnight_utc(flt.last_day + timedelta(days=1), tz)
        statement = statement.where(ChargerCommand.requested_at < until)
    return statement


def _newest_first(flt: CommandLogFilter, tz: ZoneInfo) -> Select[ChargerCommand, str, str]:
    # Polaris's own commands name the reservation they were made for.
    return (
        _filtered(flt, tz)
        .add_columns(OcppReservation.reservation_id)
        .outerjoin(OcppReservation, OcppReservation.id == ChargerCommand.ocpp_reservation_id)
        .order_by(ChargerCommand.requested_at.desc(), ChargerCommand.id.desc())
    )


def command_log_rows(
    session: Session, flt: CommandLogFilter, tz: ZoneInfo, limit: int = LOG_LIMIT
) -> list[CommandLogRow]:
    """The commands matching ``flt`` (days in ``tz``), newest first, at most ``limit``."""
    statement = _newest_first(flt, tz).limit(max(0, limit))
    return [
        CommandLogRow(command_row(c), email, reservation_id)
        for c, email, reservation_id in session.execute(statement)
    ]


def iter_command_log_rows(
    session: Session, flt: CommandLogFilter, tz: ZoneInfo, *, batch_rows: int
) -> Generator[CommandLogRow]:
    """Every command matching ``flt``, newest first, for the CSV export: fetched ``batch_rows``
    at a time (a server-side cursor on PostgreSQL), so the whole log is never in memory. Read
    it to the end or close it while ``session``'s transaction is open (closing it closes the
    cursor)."""
    statement = _newest_first(flt, tz).execution_options(yield_per=batch_rows)
    with session.execute(statement) as result:
        for c, email, reservation_id in result:
            yield CommandLogRow(command_row(c), email, reservation_id)


def command_log_count(session: Session, flt: CommandLogFilter, tz: ZoneInfo) -> int:
    """How many commands match ``flt``."""
    return int(session.scalar(select(func.count()).select_from(_filtered(flt, tz).subquery())) or 0)


@dataclass(frozen=True)
class InProgress:
    session_id: str
    account_id: str
    connector_id: int | None  # from the OCPP transaction; None for a session without one
    remote_stoppable: bool  # an OCPP transaction is open for it: RemoteStopTransaction can stop it


def sessions_in_progress(session: Session, charger_id: str) -> list[InProgress]:
    """The sessions open on ``charger_id`` (oldest first), with their OCPP transaction if any."""
    rows = session.execute(
        select(
            ChargingSession.id,
            ChargingSession.account_id,
            OcppTransaction.connector_id,
            OcppTransaction.id.label("transaction_id"),
        )  # fmt: skip
        .outerjoin(
            OcppTransaction,
            (OcppTransaction.session_id == ChargingSession.id)
            & OcppTransaction.stopped_at.is_(None),
        )
        .where(ChargingSession.charger_id == charger_id, ChargingSession.ended_at.is_(None))
        .order_by(ChargingSession.started_at, ChargingSession.id)
    ).all()
    return [
        InProgress(r.id, r.account_id, r.connector_id, r.transaction_id is not None) for r in rows
    ]
