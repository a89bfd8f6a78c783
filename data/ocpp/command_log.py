"""The operators' command log: commands to chargers with who asked, filtered in SQL.

``command_log_rows`` reads ``charger_commands`` newest first, with the asking person's email
joined, filtered by charger, action, status and a range of local days (``CommandLogFilter``,
built from what a page or a query string sent by ``parse_log_filter``, which says what is wrong
in words). ``sessions_in_progress`` names the sessions open on a charger: what a destructive
command would interrupt, and what RemoteStopTransaction may stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from data.core.models import ChargerCommand, ChargingSession, CommandStatus, OcppTransaction, User
from data.core.periods import local_midnight_utc
from data.ocpp.commands import ACTIONS, CommandError, CommandRow, command_row

LOG_LIMIT = 200  # rows a page shows; the CSV export has every filtered row
CHARGER_ID_MAX = 64


@dataclass(frozen=True)
class CommandLogRow:
    command: CommandRow
    user_email: str | None  # who asked (None from the command line, or the person was removed)


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


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise CommandError(f"{name}: give one value as text")
    return value.strip() or None


def _day(value: object, name: str) -> date | None:
    text = _text(value, name)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10]) if len(text) <= 10 else date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{name}: a date like 2026-12-05, not {text[:20]!r}") from None


def parse_log_filter(
    charger: object = None,
    action: object = None,
    status: object = None,
    first_day: object = None,
    last_day: object = None,
) -> CommandLogFilter:
    """The filter from what a page or a query string sent; ``CommandError`` says what is wrong
    (an unknown action or status, a date that is not one, from after to)."""
    charger_id = _text(charger, "charger")
    if charger_id is not None and len(charger_id) > CHARGER_ID_MAX:
        raise CommandError(f"charger: at most {CHARGER_ID_MAX} characters")
    action_name = _text(action, "action")
    if action_name is not None and action_name not in ACTIONS:
        raise CommandError(f"action: one of {', '.join(ACTIONS)}")
    status_name = _text(status, "status")
    if status_name is not None and status_name not in CommandStatus.__members__:
        raise CommandError(f"status: one of {', '.join(s.value for s in CommandStatus)}")
    first, last = _day(first_day, "from"), _day(last_day, "to")
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


def command_log_rows(
    session: Session, flt: CommandLogFilter, tz: ZoneInfo, limit: int | None = LOG_LIMIT
) -> list[CommandLogRow]:
    """The commands matching ``flt`` (days in ``tz``), newest first, at most ``limit``
    (None: all of them, for the CSV export)."""
    statement = _filtered(flt, tz).order_by(
        ChargerCommand.requested_at.desc(), ChargerCommand.id.desc()
    )
    if limit is not None:
        statement = statement.limit(max(0, limit))
    return [CommandLogRow(command_row(c), email) for c, email in session.execute(statement)]


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
