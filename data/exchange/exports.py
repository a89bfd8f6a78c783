"""The analysts' CSV exports (``/export/<name>.csv``): which rows, and the bytes, streamed.

Every file of the data-exchange format (``shared/spec/data-exchange.md``) with the same columns
and formatting as the CLI export (``data.exchange.folder``), so an export is also an import, plus
two derived files: ``usage-daily`` (``account_id, charger_id, day, sessions, energy_kwh``) and
``usage-monthly`` (the same with ``month``), by the spec's usage rule: a session counts on the
local day (operator's time zone) on which it started, a session in progress with its energy so
far; aggregated in SQL with ``data.charging.dashboard.local_day_expression``, so the figures are the
dashboard's to the last digit.

Filters come from query parameters (``parse_filter``): ``from``/``to`` (local dates, inclusive)
or ``period`` (current, previous, year), ``charger``, ``account`` and ``status``. A customer
account may export only ``CUSTOMER_EXPORTS``, always limited to itself (``scope_filter``).

Streaming (``export_chunks``) never holds the file. On PostgreSQL the SELECT formats every value
in SQL and runs as ``COPY (...) TO STDOUT WITH (FORMAT csv)`` through psycopg's
``cursor.copy()``, so CSV text arrives ready-made; on SQLite (or with ``method="cursor"``) a
chunked cursor formats with the CLI export's ``data.exchange.folder.format_value``. Both write the
same bytes: values as the CLI export writes them (ISO 8601 UTC with ``Z``, numbers without
trailing zeros, ``true``/``false``), spreadsheet-safe (``data.exchange.folder.neutralise_cell``),
quoted where PostgreSQL quotes (a field holding ``,``, ``"``, a line feed or a carriage return),
``\\n`` line ends. The CLI export differs only for a row with a carriage return in a cell, which
it quotes whole; both read back to the same rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Enum,
    Integer,
    Numeric,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from data.accounts.people import AccountQuery, account_query_conditions
from data.accounts.people import parse_grid_request as parse_account_grid
from data.chargers.fleet import RECENT_DAYS, fleet_filter_condition, parse_fleet_request
from data.charging.dashboard import (
    OFFLINE_AFTER_SECONDS,
    ChargerStatus,
    charger_status_expression,
    local_day_expression,
)
from data.charging.history import chargers_matching, session_conditions
from data.charging.reservations import upcoming_conditions
from data.core.db import Database
from data.core.models import (
    ID_LENGTH,
    Account,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Plan,
    Reservation,
    ReservationStatus,
    User,
)
from data.core.models import Charger as ChargerModel
from data.core.periods import PERIODS, Period, local_midnight_utc, period_bounds
from data.core.sql import Bytewise
from data.exchange.csv_safety import FORMULA_STARTS, PLAIN_NUMBER, neutralise_cell
from data.exchange.exporter import export_query
from data.exchange.format import COLUMNS, FILES, format_value

USAGE_DAILY = "usage-daily"
USAGE_MONTHLY = "usage-monthly"
EXPORTS: tuple[str, ...] = (*FILES, USAGE_DAILY, USAGE_MONTHLY)
"""Every ``/export/<name>.csv``: the data-exchange files in import order, then the usage."""

USAGE_COLUMNS: dict[str, list[str]] = {
    USAGE_DAILY: ["account_id", "charger_id", "day", "sessions", "energy_kwh"],
    USAGE_MONTHLY: ["account_id", "charger_id", "month", "sessions", "energy_kwh"],
}
EXPORT_COLUMNS: dict[str, list[str]] = {**COLUMNS, **USAGE_COLUMNS}

CUSTOMER_EXPORTS = frozenset({"sessions", USAGE_DAILY, USAGE_MONTHLY})
"""What a customer account may export: its own rows only, whatever the query string says."""
CUSTOMER_EXPORT_PATHS = frozenset(f"/export/{name}.csv" for name in CUSTOMER_EXPORTS)

_DATES = ("from", "to", "period")
# The query parameters each export takes; anything else is refused, so a typo never widens it.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "operator": (),
    "plans": (),
    "users": (),
    "accounts": ("account", "search", "filter"),
    "chargers": ("charger", "status", "search", "filter"),
    "access": ("account", "charger"),
    "sessions": (*_DATES, "charger", "account", "status"),
    "id_tags": ("account",),
    "reservations": (*_DATES, "charger", "account", "status", "upcoming", "search"),
    USAGE_DAILY: (*_DATES, "charger", "account"),
    USAGE_MONTHLY: (*_DATES, "charger", "account"),
}
SESSION_STATUSES = ("in_progress", "finalized")
RESERVATION_STATUSES = tuple(s.value for s in ReservationStatus)
CHARGER_STATUSES = tuple(s.value for s in ChargerStatus)  # the fleet's pills: "In use", ...
SEARCH_MAX_LENGTH = 200  # as the admin screens' search boxes
GRID_FILTER_MAX_LENGTH = 4000  # a filter model of every fleet column, two conditions each
# ``state`` is what the admin sessions explorer calls ``status`` (its links carry it; "all" is
# no filter), so "Export CSV" on that screen can pass its query string on unchanged.
_ALIASES = {"sessions": {"state": "status"}}

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)  # the local midnight after it must still be a datetime
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

CHUNK_BYTES = 64 * 1024  # what one streamed piece holds (a few hundred rows)
CURSOR_BATCH_ROWS = 500  # rows per fetch on the cursor path (SQLite): about one chunk
GZIP_LEVEL = 5
# PostgreSQL: an export may run longer than a page's query, but not for ever (a stalled client
# holds the connection). The app's setting EXPORT_STATEMENT_TIMEOUT_MS overrides it.
EXPORT_STATEMENT_TIMEOUT_MS = 10 * 60 * 1000


class ExportRequestError(ValueError):
    """The query string asks for something that cannot be exported (400); says what to fix."""


class ExportForbidden(PermissionError):
    """The account may not have this export (403); the message says why."""


@dataclass(frozen=True)
class ExportFilter:
    """Which rows: local days ``first_day``..``last_day`` (inclusive; None = unbounded) in the
    operator's time zone, and optional charger, account and status."""

    first_day: date | None = None
    last_day: date | None = None
    charger_id: str | None = None
    account_id: str | None = None
    status: str | None = None
    # The admin screens' own filters, with their meaning there (data.charging.history,
    # data.chargers.fleet, data.charging.reservations, data.accounts.people): sessions' ``charger``
    # is the explorer's search (an exact id, else part of an id or name); ``search`` is the
    # reservations, fleet or accounts search box; ``upcoming`` keeps reservations not ended at
    # ``as_of`` (the request's time, which also decides a charger's status).
    charger_search: str | None = None
    charger_status: str | None = None  # chargers: the fleet's status pill ("In use", ...)
    offline_after_s: int = OFFLINE_AFTER_SECONDS  # the app's threshold, as on the fleet page
    # The column filters of the fleet table (chargers) or the accounts table (accounts), from
    # ``filter``, the grid's filter model as JSON, read by that screen's own parser.
    grid_filters: tuple[Any, ...] = ()
    search: str | None = None
    upcoming: bool = False
    as_of: datetime | None = None

    def bounds_utc(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """``[start, end)`` in UTC: the local midnights around the days (DST-exact)."""
        start = None if self.first_day is None else local_midnight_utc(self.first_day, tz)
        end = (
            None
            if self.last_day is None
            else local_midnight_utc(self.last_day + timedelta(days=1), tz)
        )
        return start, end


# --- The query string -----------------------------------------------------------------------------


def _single_values(name: str, args: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each allowed parameter once, blank ones dropped; 400 for unknown or repeated ones."""
    allowed = PARAMETERS[name]
    aliases = _ALIASES.get(name, {})
    values: dict[str, str] = {}
    for key, given in args.items():
        canonical = aliases.get(key, key)
        if canonical not in allowed:
            takes = ", ".join(allowed) if allowed else "no parameters"
            raise ExportRequestError(f"Unknown parameter “{key}”: {name}.csv takes {takes}.")
        if len(given) != 1 or canonical in values:
            raise ExportRequestError(f"Give “{canonical}” once.")
        value = given[0].strip()
        if value:
            values[canonical] = value
    if values.get("status") == "all" and "status" in aliases.values():
        del values["status"]  # the explorer's "all states"
    return values


def _day(key: str, text: str) -> date:
    day: date | None = None
    if _DAY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
    if day is None:
        raise ExportRequestError(f"“{key}” must be a date like 2026-11-24, not “{text}”.")
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ExportRequestError(
            f"“{key}” must be between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}."
        )
    return day


def _identifier(key: str, text: str, length: int = ID_LENGTH) -> str:
    if len(text) > length or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ExportRequestError(f"“{key}” is not a valid id.")
    return text


def _search(text: str) -> str:
    if len(text) > SEARCH_MAX_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ExportRequestError(f"“search” must be at most {SEARCH_MAX_LENGTH} plain characters.")
    return text


def _grid_filters(name: str, text: str) -> tuple[Any, ...]:
    """A table's filter model (JSON) as that table reads it, with its allow-lists and operators
    (``data.chargers.fleet.parse_fleet_request``, ``data.accounts.people.parse_grid_request``):
    entries the table would ignore are ignored here too."""
    try:
        model = json.loads(text) if len(text) <= GRID_FILTER_MAX_LENGTH else None
    except ValueError:
        model = None
    if not isinstance(model, dict):
        raise ExportRequestError(
            "“filter” must be the table's filter model as JSON, like "
            '{"label": {"filterType": "text", "type": "contains", "filter": "fleet"}}.'
        )
    if name == "accounts":
        return parse_account_grid({"filterModel": model}).filters
    return parse_fleet_request({"filterModel": model}).filters


def _status(name: str, text: str) -> str:
    if name == "chargers":
        # As the fleet's ?status= and pills: any case, the status's name as shown.
        for status in CHARGER_STATUSES:
            if status.lower() == text.lower():
                return status
        allowed: tuple[str, ...] = CHARGER_STATUSES
    else:
        allowed = SESSION_STATUSES if name == "sessions" else RESERVATION_STATUSES
        if text in allowed:
            return text
    raise ExportRequestError(f"“status” must be one of: {', '.join(allowed)}.")


def parse_filter(
    name: str,
    args: Mapping[str, Sequence[str]],
    now: datetime,
    tz: ZoneInfo,
    *,
    offline_after_s: int = OFFLINE_AFTER_SECONDS,
) -> ExportFilter:
    """The filter a query string asks for (``args``: each key with all its values, as
    ``request.args.lists()`` gives them). ``ExportRequestError`` says what is wrong."""
    if name not in PARAMETERS:
        raise ExportRequestError(f"There is no export “{name}”.")
    values = _single_values(name, args)
    first = last = None
    if "period" in values:
        if "from" in values or "to" in values:
            raise ExportRequestError("Give either “period” or “from”/“to”, not both.")
        if values["period"] not in PERIODS:
            raise ExportRequestError(f"“period” must be one of: {', '.join(PERIODS)}.")
        period = period_bounds(values["period"], now, tz)
        first, last = period.first_day, period.end_day - timedelta(days=1)
    if "from" in values:
        first = _day("from", values["from"])
    if "to" in values:
        last = _day("to", values["to"])
    if first is not None and last is not None and first > last:
        raise ExportRequestError("“from” is after “to”.")
    status = values.get("status")
    if status is not None:
        status = _status(name, status)
    charger = values.get("charger")
    account = values.get("account")
    search = values.get("search")
    upcoming = values.get("upcoming")
    if upcoming is not None and upcoming not in ("1", "true"):
        raise ExportRequestError("“upcoming” takes 1 (reservations not ended yet) or nothing.")
    if name == "reservations" and search is not None and upcoming is None:
        # The reservations screen searches its upcoming and current list only.
        raise ExportRequestError("“search” goes with “upcoming=1”, as on the reservations page.")
    charger_status = None
    if name == "chargers":
        charger_status, status = status, None
    # Sessions: the explorer's charger search (an id, or part of an id or name), not an id.
    charger_search = None
    if name == "sessions" and charger is not None:
        charger_search = _identifier("charger", charger, SEARCH_MAX_LENGTH)
        charger = None
    return ExportFilter(
        first_day=first,
        last_day=last,
        charger_id=None if charger is None else _identifier("charger", charger),
        account_id=None if account is None else _identifier("account", account),
        status=status,
        charger_search=charger_search,
        charger_status=charger_status,
        search=None if search is None else _search(search),
        upcoming=upcoming is not None,
        as_of=now,
        offline_after_s=offline_after_s,
        grid_filters=() if "filter" not in values else _grid_filters(name, values["filter"]),
    )


def scope_filter(name: str, flt: ExportFilter, account_id: str, is_admin: bool) -> ExportFilter:
    """The filter the account may run: admins as asked; a customer only ``CUSTOMER_EXPORTS``,
    always of its own account (asking for another account's rows is refused)."""
    if is_admin:
        return flt
    if name not in CUSTOMER_EXPORTS:
        raise ExportForbidden("Only an admin account can export this.")
    if flt.account_id is not None and flt.account_id != account_id:
        raise ExportForbidden(
            "This export covers your active account only; switch account to export another."
        )
    return replace(flt, account_id=account_id)


def check_references(session: Session, flt: ExportFilter) -> None:
    """For admins: a charger or account filter must name one that exists (a typo would otherwise
    export an empty file that looks like "no data"). Not used for customers: their rows are
    their own whatever the charger, and an answer must not tell them which ids exist."""
    if flt.charger_id is not None and session.get(ChargerModel, flt.charger_id) is None:
        raise ExportRequestError(f"There is no charger “{flt.charger_id}”.")
    if flt.charger_search is not None and chargers_matching(session, flt.charger_search) == 0:
        raise ExportRequestError(
            f"There is no charger “{flt.charger_search}”: no charger has it in its id or name."
        )
    if flt.account_id is not None and session.get(Account, flt.account_id) is None:
        raise ExportRequestError(f"There is no account “{flt.account_id}”.")


def export_filename(name: str, flt: ExportFilter) -> str:
    """``sessions-2026-11-01-2026-11-24.csv``; ``sessions.csv`` without dates."""
    parts = [name]
    if flt.first_day is not None and flt.last_day is not None:
        parts += [flt.first_day.isoformat(), flt.last_day.isoformat()]
    elif flt.first_day is not None:
        parts += ["from", flt.first_day.isoformat()]
    elif flt.last_day is not None:
        parts += ["to", flt.last_day.isoformat()]
    return "-".join(parts) + ".csv"


# --- The rows -------------------------------------------------------------------------------------


def _range(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column < end)
    return conditions


def _as_of(flt: ExportFilter) -> datetime:
    if flt.as_of is None:
        raise ValueError("this filter needs as_of (parse_filter sets it)")
    return flt.as_of


def _recent(now: datetime, value: Any) -> ColumnElement[Any]:
    """The fleet's "in the last 30 days" figure of each charger (sessions started in
    ``[now - 30 days, now]``), as a subquery per charger."""
    s = ChargingSession
    return (
        select(value)
        .where(
            s.charger_id == ChargerModel.id,
            s.started_at >= now - timedelta(days=RECENT_DAYS),
            s.started_at <= now,
            s.counted(),
        )
        .correlate(ChargerModel)
        .scalar_subquery()
    )


def _fleet_conditions(flt: ExportFilter) -> list[ColumnElement[bool]]:
    """The fleet table's filters (status pill, search box, column menus), as the fleet table
    itself reads them (``data.chargers.fleet``: the same filter model, parser and SQL)."""
    model: dict[str, Any] = {}
    if flt.charger_status is not None:
        model["status"] = {"filterType": "text", "type": "equals", "filter": flt.charger_status}
    if flt.search is not None:
        model["friendly_name"] = {"filterType": "text", "type": "contains", "filter": flt.search}
    filters = (*parse_fleet_request({"filterModel": model}).filters, *flt.grid_filters)
    if not filters:
        return []
    now = _as_of(flt)
    columns: dict[str, ColumnElement[Any]] = {
        "charger_id": ChargerModel.id,
        "friendly_name": ChargerModel.friendly_name,
        "connector_type": ChargerModel.connector_type,
        "max_power_kw": ChargerModel.max_power_kw,
        "visibility": ChargerModel.visibility,
        "status": charger_status_expression(now, flt.offline_after_s),
        "sessions_30d": _recent(now, func.count()),
        "energy_kwh_30d": func.coalesce(_recent(now, func.sum(ChargingSession.energy_kwh)), 0),
    }
    return [fleet_filter_condition(columns, f) for f in filters]


def _file_conditions(
    session: Session, name: str, flt: ExportFilter, tz: ZoneInfo
) -> list[ColumnElement[bool]]:
    start, end = flt.bounds_utc(tz)
    conditions: list[Any] = []
    if name == "sessions":
        # The sessions explorer's own WHERE clause (data.charging.history), so a view and its export
        # agree.
        conditions += session_conditions(
            session,
            start,
            end,
            charger=flt.charger_search,
            account_id=flt.account_id,
            state=flt.status or "all",
        )
        if flt.charger_id is not None:
            conditions.append(ChargingSession.charger_id == flt.charger_id)
    elif name == "reservations":
        r = Reservation
        conditions += _range(r.starts_at, start, end)
        if flt.account_id is not None:
            conditions.append(r.account_id == flt.account_id)
        if flt.charger_id is not None:
            conditions.append(r.charger_id == flt.charger_id)
        if flt.status is not None:
            conditions.append(r.status == flt.status)
        if flt.upcoming:
            # The reservations page's list and search (data.charging.reservations).
            conditions += upcoming_conditions(_as_of(flt), flt.search)
    elif name == "accounts":
        if flt.account_id is not None:
            conditions.append(Account.id == flt.account_id)
        if flt.search is not None or flt.grid_filters:
            # The accounts table's search (every account of a matching person) and column
            # filters, by its own WHERE clause (data.accounts.people) over the same join.
            query = AccountQuery(search=flt.search or "", filters=flt.grid_filters)
            listed = (
                select(Account.id)
                .join(User, User.id == Account.user_id)
                .outerjoin(Plan, Plan.id == Account.plan_id)
                .where(*account_query_conditions(query))
                .correlate(None)
            )
            conditions.append(Account.id.in_(listed))
    elif name == "chargers":
        if flt.charger_id is not None:
            conditions.append(ChargerModel.id == flt.charger_id)
        conditions += _fleet_conditions(flt)
    elif name == "access":
        if flt.account_id is not None:
            conditions.append(ChargerAccess.account_id == flt.account_id)
        if flt.charger_id is not None:
            conditions.append(ChargerAccess.charger_id == flt.charger_id)
    elif name == "id_tags" and flt.account_id is not None:
        conditions.append(IdTag.account_id == flt.account_id)
    return conditions


def _usage_conditions(flt: ExportFilter, tz: ZoneInfo) -> list[Any]:
    s = ChargingSession
    start, end = flt.bounds_utc(tz)
    # Disputed energy counts in no usage figure until an admin resolved it.
    conditions = [*_range(s.started_at, start, end), s.counted()]
    if flt.account_id is not None:
        conditions.append(s.account_id == flt.account_id)
    if flt.charger_id is not None:
        conditions.append(s.charger_id == flt.charger_id)
    return conditions


def usage_period(session: Session, flt: ExportFilter, tz: ZoneInfo) -> Period | None:
    """The local days the usage export spans: the filter's, narrowed to the days that have
    sessions (two index lookups on ``started_at``), so ``local_day_expression`` covers a few
    years at most, never 1970 to 9998. None when no session matches."""
    s = ChargingSession
    first_start, last_start = session.execute(
        select(func.min(s.started_at), func.max(s.started_at)).where(*_usage_conditions(flt, tz))
    ).one()
    if first_start is None or last_start is None:
        return None
    first = first_start.astimezone(tz).date()
    last = last_start.astimezone(tz).date()
    end = last + timedelta(days=1)
    return Period(
        "export", first, end, local_midnight_utc(first, tz), local_midnight_utc(end, tz), tz
    )


def _month_of(day: ColumnElement[date], dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return type_coerce(func.to_char(day, "YYYY-MM"), String)
    return type_coerce(func.substr(day, 1, 7), String)  # SQLite keeps dates as YYYY-MM-DD text


def usage_query(name: str, flt: ExportFilter, period: Period, dialect: str) -> Select[Any]:
    """Sessions and energy per account, charger and local day (or month), in SQL."""
    s = ChargingSession
    day = local_day_expression(s.started_at, period)
    bucket = day if name == USAGE_DAILY else _month_of(day, dialect)
    per_session = (
        select(
            s.account_id,
            s.charger_id,
            bucket.label("bucket"),
            s.energy_kwh,
        )
        .where(*_usage_conditions(flt, period.tz))
        .subquery("per_session")
    )
    c = per_session.c
    return (
        select(
            c.account_id,
            c.charger_id,
            c.bucket.label("day" if name == USAGE_DAILY else "month"),
            func.count().label("sessions"),
            # NUMERIC in both databases' SUM; the 3 decimals the schema keeps.
            type_coerce(func.sum(c.energy_kwh), Numeric(14, 3)).label("energy_kwh"),
        )
        .group_by(c.bucket, c.account_id, c.charger_id)
        .order_by(c.bucket, Bytewise(c.account_id), Bytewise(c.charger_id))
    )


def export_statement(
    session: Session, name: str, flt: ExportFilter, tz: ZoneInfo
) -> Select[Any] | None:
    """The SELECT of an export, its columns ``EXPORT_COLUMNS[name]``; None when it is empty
    without asking (usage with no session in range)."""
    dialect = session.get_bind().dialect.name
    if name in USAGE_COLUMNS:
        period = usage_period(session, flt, tz)
        return None if period is None else usage_query(name, flt, period, dialect)
    return export_query(name, dialect).where(*_file_conditions(session, name, flt, tz))


# --- PostgreSQL: every value formatted in SQL, for COPY -------------------------------------------

_FORMULA_CODES = [ord(ch) for ch in (*FORMULA_STARTS, "'")]
# The same tests as data.exchange.folder._formula_like, as PostgreSQL regular expressions.
_FORMULA_RE = "^[-" + "".join(ch for ch in FORMULA_STARTS if ch != "-") + "]"  # "-" first
_NUMBER_RE = "^" + PLAIN_NUMBER.pattern + "$"


def _pg_text(column: Any) -> ColumnElement[str]:
    # ascii() first: one integer test per cell; the regular expressions run only on the rare
    # cell that starts with one of the characters.
    rest = func.ltrim(column, "'")
    return case(
        (
            and_(
                func.ascii(column).in_(_FORMULA_CODES),
                rest.op("~")(_FORMULA_RE),
                rest.op("!~")(_NUMBER_RE),
            ),
            literal("'") + column,
        ),
        else_=func.nullif(column, ""),  # '' and NULL are both an empty cell, as in the CLI
    )


def _pg_formatted(column: Any) -> ColumnElement[Any]:
    """One selected column as the text the CLI export writes for it."""
    kind = column.type
    if isinstance(kind, TypeDecorator):  # UTCDateTime: what it stores is a DateTime
        kind = kind.impl_instance
    if isinstance(kind, Enum):
        return cast(column, Text)
    if isinstance(kind, DateTime):
        # With DateStyle ISO (set for the COPY), a timestamp's text is format_timestamp's shape
        # (seconds always, microseconds without trailing zeros) with a space for the "T":
        # twice as fast as to_json or to_char, which dominated the export's time.
        utc = cast(func.timezone("UTC", column), Text)
        return func.replace(utc, " ", "T").op("||")("Z")
    if isinstance(kind, Boolean):
        return case((column.is_(True), "true"), (column.is_(False), "false"))
    if isinstance(kind, Integer):
        return cast(column, Text)
    if isinstance(kind, Numeric):
        return cast(func.trim_scale(column), Text)  # 12.500 -> 12.5, 7.000 -> 7
    if isinstance(kind, Date):
        return func.to_char(column, "YYYY-MM-DD")
    if isinstance(kind, String):
        return _pg_text(column)
    return column  # NULL (the users file's password)


def copy_sql(session: Session, stmt: Select[Any]) -> tuple[str, dict[str, Any]]:
    """``COPY (<stmt with every column formatted>) TO STDOUT`` and its parameters (merged into
    the statement by psycopg on the client: COPY takes no server-side parameters)."""
    formatted = [_pg_formatted(c) for c in stmt.selected_columns]
    compiled = stmt.with_only_columns(*formatted, maintain_column_froms=False).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    return f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)", dict(compiled.params)


def _postgres_chunks(
    session: Session, stmt: Select[Any], header: bytes, timeout_ms: int
) -> Iterator[bytes]:
    sql, params = copy_sql(session, stmt)
    # A bounded statement time for exports; JIT compiling buys nothing for a streamed scan.
    session.execute(select(func.set_config("statement_timeout", str(int(timeout_ms)), True)))
    session.execute(select(func.set_config("jit", "off", True)))
    session.execute(select(func.set_config("datestyle", "ISO, YMD", True)))
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    buffer = bytearray(header)
    with raw.cursor() as cursor, cursor.copy(sql, params) as copy:
        # One message per row; handed on in pieces of about CHUNK_BYTES. On an early close
        # (the client went away) psycopg cancels the COPY and drains it, so the connection goes
        # back to the pool clean.
        for data in copy:
            buffer += data
            if len(buffer) >= CHUNK_BYTES:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


# --- Any database: a chunked cursor ---------------------------------------------------------------


def _needs_quotes(cell: str) -> bool:
    return any(ch in cell for ch in ',"\n\r')


def _quoted_line(cells: Iterable[str]) -> str:
    # PostgreSQL's CSV quoting, for the rows Python's csv module would leave a "\r" bare in.
    return (
        ",".join('"' + c.replace('"', '""') + '"' if _needs_quotes(c) else c for c in cells) + "\n"
    )


def _cursor_chunks(session: Session, stmt: Select[Any], header: bytes) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")  # quotes , " and \n like PostgreSQL does
    yield_size = CHUNK_BYTES  # characters; close enough to bytes for chunking
    pending = header
    # data.exchange.folder.iter_rows, with fetches of a few chunks' worth of rows rather than 5000.
    for row in session.execute(stmt.execution_options(yield_per=CURSOR_BATCH_ROWS)):
        cells = [neutralise_cell(format_value(v)) for v in row]
        if any("\r" in c for c in cells):
            out.write(_quoted_line(cells))
        else:
            writer.writerow(cells)
        if out.tell() >= yield_size:
            yield pending + out.getvalue().encode("utf-8")
            pending = b""
            out.seek(0)
            out.truncate()
    yield pending + out.getvalue().encode("utf-8")


def header_line(name: str) -> bytes:
    return _quoted_line(neutralise_cell(c) for c in EXPORT_COLUMNS[name]).encode("utf-8")


def export_chunks(
    db: Database,
    name: str,
    flt: ExportFilter,
    tz: ZoneInfo,
    *,
    method: str = "auto",
    timeout_ms: int = EXPORT_STATEMENT_TIMEOUT_MS,
) -> Iterator[bytes]:
    """The CSV file, header first, in pieces of about ``CHUNK_BYTES``; the first piece comes
    once the database has started answering. The database session lives exactly as long as
    the iteration: closing the generator early (a client that went away) ends it.

    ``method``: ``"copy"`` (PostgreSQL only), ``"cursor"``, or ``"auto"`` (COPY on PostgreSQL).
    """
    if method not in ("auto", "copy", "cursor"):
        raise ValueError(f"unknown method {method!r}")
    use_copy = method == "copy" or (method == "auto" and db.dialect == "postgresql")
    if use_copy and db.dialect != "postgresql":
        raise ValueError("COPY needs PostgreSQL")
    header = header_line(name)
    with db.sessions() as session, session.begin():
        stmt = export_statement(session, name, flt, tz)
        if stmt is None:
            yield header
            return
        if use_copy:
            yield from _postgres_chunks(session, stmt, header, timeout_ms)
        else:
            yield from _cursor_chunks(session, stmt, header)


def _close(source: Iterable[bytes]) -> None:
    close: Callable[[], None] | None = getattr(source, "close", None)
    if close is not None:
        close()


def gzip_chunks(chunks: Iterable[bytes], level: int = GZIP_LEVEL) -> Iterator[bytes]:
    """``chunks`` gzip-compressed on the fly (one member, as ``Content-Encoding: gzip`` wants);
    closing this closes ``chunks``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    try:
        for chunk in chunks:
            if out := compressor.compress(chunk):
                yield out
        yield compressor.flush()
    finally:
        _close(chunks)


def closing_chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """``first``, then ``rest``; closing this closes ``rest`` (``itertools.chain`` would not, and
    the database session inside ``rest`` would wait for the garbage collector)."""
    try:
        yield first
        yield from rest
    finally:
        _close(rest)
