"""The analysts' CSV exports (``/export/<name>.csv``): which rows (``export_stream`` streams them).

Every file of the data-exchange format (``shared/spec/data-exchange.md``) with the same columns
and formatting as the CLI export (``data.exchange.exporter``), so an export is also an import, plus
three derived files: ``usage-daily`` (``account_id, charger_id, day, sessions, energy_kwh,
cost_total``) and ``usage-monthly`` (the same with ``month``), by the spec's usage rule: a session
counts on the local day (operator's time zone) on which it started, a session in progress with
its energy so far; ``cost_total`` is the sum of the stored costs (data/pricing) attributed the
same way (a session in progress adds its cost once finalized; empty when no session of the row
is priced); aggregated in SQL with ``data.charging.dashboard.local_day_expression``, so the
figures are the dashboard's to the last digit. And ``uptime-monthly`` (admins): every charger and
calendar month asked by the spec's uptime rule (``data.uptime.monthly``), minutes to the
thousandth, percentages with three decimals.

Filters come from query parameters (``parse_filter``): ``from``/``to`` (local dates, inclusive;
months ``YYYY-MM`` for ``uptime-monthly``) or ``period`` (current, previous, year), ``charger``,
``account`` and ``status`` (for ``outages``: ``open`` or ``closed``, and ``cause``, one of the
spec's causes: the filters of /admin/uptime's list). A customer account may export only
``CUSTOMER_EXPORTS`` (and the CDRs), always limited to itself (``scope_filter``).

The file is streamed by ``data.exchange.export_stream``. ``/export/cdrs.json`` (``CDRS``, the
OCPI CDRs of ``data.exchange.cdrs``) takes the parameters of ``sessions.csv``, read the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Numeric,
    Select,
    String,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from data.accounts.people import AccountQuery, listed_accounts, parse_accounts_request
from data.chargers.fleet import fleet_conditions, parse_fleet_request
from data.chargers.status import OFFLINE_AFTER_SECONDS, ChargerStatus
from data.charging.dashboard import local_day_expression
from data.charging.history import STATES, chargers_matching, session_conditions
from data.charging.reservations import upcoming_conditions
from data.core.grid import ColumnFilter
from data.core.models import (
    ID_LENGTH,
    Account,
    ChargerAccess,
    ChargingSession,
    IdTag,
    Reservation,
    ReservationStatus,
)
from data.core.models import Charger as ChargerModel
from data.core.periods import PERIODS, Period, local_midnight_utc, period_bounds
from data.core.sql import Bytewise, Thousandths, ThousandthsText
from data.exchange.exporter import export_query
from data.exchange.format import COLUMNS, FILES
from data.pricing.statements import MonthError, month_key, month_of, parse_month, shift_month
from data.uptime.monthly import MAX_MONTHS, TRAILING_MONTHS, stored_months, uptime_statement
from data.uptime.outages import Outage, OutageCause

USAGE_DAILY = "usage-daily"
USAGE_MONTHLY = "usage-monthly"
UPTIME_MONTHLY = "uptime-monthly"
EXPORTS: tuple[str, ...] = (*FILES, USAGE_DAILY, USAGE_MONTHLY, UPTIME_MONTHLY)
"""Every ``/export/<name>.csv``: the data-exchange files in import order, then the derived ones."""

USAGE_COLUMNS: dict[str, list[str]] = {
    USAGE_DAILY: ["account_id", "charger_id", "day", "sessions", "energy_kwh", "cost_total"],
    USAGE_MONTHLY: ["account_id", "charger_id", "month", "sessions", "energy_kwh", "cost_total"],
}
UPTIME_COLUMNS = [
    "charger_id",
    "month",
    "minutes",
    "outage_minutes",
    "excluded_minutes",
    "uptime_percent",
    "uptime_12m_percent",
]
EXPORT_COLUMNS: dict[str, list[str]] = {
    **COLUMNS,
    **USAGE_COLUMNS,
    UPTIME_MONTHLY: UPTIME_COLUMNS,
}

CUSTOMER_EXPORTS = frozenset({"sessions", USAGE_DAILY, USAGE_MONTHLY})
"""What a customer account may export: its own rows only, whatever the query string says."""
CDRS = "cdrs"
"""``/export/cdrs.json``: the finalized, priced sessions as OCPI CDRs, filtered as sessions.csv;
a customer may have its own."""
CUSTOMER_EXPORT_PATHS = frozenset(
    {f"/export/{name}.{ext}" for name in CUSTOMER_EXPORTS for ext in ("csv", "parquet")}
    | {f"/export/{CDRS}.json"}
)

_DATES = ("from", "to", "period")
# The query parameters each export takes; anything else is refused, so a typo never widens it.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "tariffs": (),
    "operator": (),
    "plans": (),
    "users": (),
    "accounts": ("account", "search", "filter"),
    "chargers": ("charger", "status", "search", "filter"),
    "access": ("account", "charger"),
    "sessions": (*_DATES, "charger", "account", "status"),
    CDRS: (*_DATES, "charger", "account", "status"),
    "id_tags": ("account",),
    "reservations": (*_DATES, "charger", "account", "status", "upcoming", "search"),
    USAGE_DAILY: (*_DATES, "charger", "account"),
    USAGE_MONTHLY: (*_DATES, "charger", "account"),
    "outages": (*_DATES, "charger", "cause", "status"),
    UPTIME_MONTHLY: ("from", "to", "charger"),
}
SESSION_STATUSES = tuple(s for s in STATES if s != "all")  # the explorer's states
RESERVATION_STATUSES = tuple(s.value for s in ReservationStatus)
CHARGER_STATUSES = tuple(s.value for s in ChargerStatus)  # the fleet's pills: "In use", ...
OUTAGE_STATUSES = ("open", "closed")  # outages still going on, or over
OUTAGE_CAUSES = tuple(c.value for c in OutageCause)
SEARCH_MAX_LENGTH = 200  # as the admin screens' search boxes
GRID_FILTER_MAX_LENGTH = 4000  # a filter model of every fleet column, two conditions each
# ``state`` is what the admin sessions explorer calls ``status`` (its links carry it; "all" is
# no filter), so "Export CSV" on that screen can pass its query string on unchanged.
_ALIASES = {"sessions": {"state": "status"}, CDRS: {"state": "status"}}
# Exports filtered as the sessions explorer filters (data.charging.history).
_SESSION_FILTERED = ("sessions", CDRS)

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)  # the local midnight after it must still be a datetime
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


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
    cause: str | None = None  # outages: one of the spec's causes
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
    grid_filters: tuple[ColumnFilter, ...] = ()
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
            raise ExportRequestError(
                f"Unknown parameter “{key}”: {export_filename(name)} takes {takes}."
            )
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


def _month(key: str, text: str) -> date:
    try:
        return parse_month(text)
    except MonthError:
        raise ExportRequestError(
            f"“{key}” must be a month like 2026-11 (1970-01 to 9998-12), not “{text[:40]}”."
        ) from None


def uptime_months(
    first_day: date | None, last_day: date | None, now: datetime, tz: ZoneInfo
) -> tuple[date, date]:
    """The first and last month of ``uptime-monthly``: the months of ``first_day`` and
    ``last_day``; without either, the twelve full months before the current one; from a month
    on, up to the current one; up to a month, the twelve that end with it."""
    current = month_of(now, tz)
    first = None if first_day is None else first_day.replace(day=1)
    last = None if last_day is None else last_day.replace(day=1)
    if last is None:
        last = max(first, current) if first is not None else shift_month(current, -1) or current
    if first is None:
        first = shift_month(last, 1 - TRAILING_MONTHS) or FIRST_DAY
    return first, last


def _uptime_days(values: dict[str, str], now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """``from``/``to`` months as the first day of the first month and the last day of the
    last one (the defaults of ``uptime_months`` filled in)."""
    first = _month("from", values["from"]) if "from" in values else None
    last = _month("to", values["to"]) if "to" in values else None
    if first is not None and last is not None and first > last:
        raise ExportRequestError("“from” is after “to”.")
    first, last = uptime_months(first, last, now, tz)
    if (last.year - first.year) * 12 + last.month - first.month >= MAX_MONTHS:
        raise ExportRequestError(f"Ask for at most {MAX_MONTHS} months at a time.")
    return first, (last + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _identifier(key: str, text: str, length: int = ID_LENGTH) -> str:
    if len(text) > length or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ExportRequestError(f"“{key}” is not a valid id.")
    return text


def _search(text: str) -> str:
    if len(text) > SEARCH_MAX_LENGTH or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ExportRequestError(f"“search” must be at most {SEARCH_MAX_LENGTH} plain characters.")
    return text


def _grid_filters(name: str, text: str) -> tuple[ColumnFilter, ...]:
    """A table's filter model (JSON) as that table reads it, with its allow-lists and operators
    (``data.chargers.fleet.parse_fleet_request``, ``data.accounts.people.parse_accounts_request``):
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
        return parse_accounts_request({"filterModel": model}).filters
    return parse_fleet_request({"filterModel": model}).filters


def _status(name: str, text: str) -> str:
    if name == "chargers":
        # As the fleet's ?status= and pills: any case, the status's name as shown.
        for status in CHARGER_STATUSES:
            if status.lower() == text.lower():
                return status
        allowed: tuple[str, ...] = CHARGER_STATUSES
    elif name == "outages":
        allowed = OUTAGE_STATUSES
        if text in allowed:
            return text
    else:
        allowed = SESSION_STATUSES if name in _SESSION_FILTERED else RESERVATION_STATUSES
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
    first: date | None = None
    last: date | None = None
    if name == UPTIME_MONTHLY:
        first, last = _uptime_days(values, now, tz)
    if "period" in values:
        if "from" in values or "to" in values:
            raise ExportRequestError("Give either “period” or “from”/“to”, not both.")
        if values["period"] not in PERIODS:
            raise ExportRequestError(f"“period” must be one of: {', '.join(PERIODS)}.")
        period = period_bounds(values["period"], now, tz)
        first, last = period.first_day, period.end_day - timedelta(days=1)
    if "from" in values and name != UPTIME_MONTHLY:
        first = _day("from", values["from"])
    if "to" in values and name != UPTIME_MONTHLY:
        last = _day("to", values["to"])
    if first is not None and last is not None and first > last:
        raise ExportRequestError("“from” is after “to”.")
    status = values.get("status")
    if status is not None:
        status = _status(name, status)
    cause = values.get("cause")
    if cause is not None and cause not in OUTAGE_CAUSES:
        raise ExportRequestError(f"“cause” must be one of: {', '.join(OUTAGE_CAUSES)}.")
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
    if name in _SESSION_FILTERED and charger is not None:
        charger_search = _identifier("charger", charger, SEARCH_MAX_LENGTH)
        charger = None
    return ExportFilter(
        first_day=first,
        last_day=last,
        charger_id=None if charger is None else _identifier("charger", charger),
        account_id=None if account is None else _identifier("account", account),
        status=status,
        cause=cause,
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
    if name not in CUSTOMER_EXPORTS and name != CDRS:
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


def export_filename(name: str, flt: ExportFilter | None = None) -> str:
    """``sessions-2026-11-01-2026-11-24.csv``; ``sessions.csv`` without dates (``cdrs...json``)."""
    parts = [name]
    flt = flt or ExportFilter()
    if name == UPTIME_MONTHLY and flt.first_day is not None and flt.last_day is not None:
        parts += [month_key(flt.first_day), month_key(flt.last_day)]
    elif flt.first_day is not None and flt.last_day is not None:
        parts += [flt.first_day.isoformat(), flt.last_day.isoformat()]
    elif flt.first_day is not None:
        parts += ["from", flt.first_day.isoformat()]
    elif flt.last_day is not None:
        parts += ["to", flt.last_day.isoformat()]
    return "-".join(parts) + (".json" if name == CDRS else ".csv")


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


def sessions_conditions(
    session: Session, flt: ExportFilter, tz: ZoneInfo
) -> list[ColumnElement[bool]]:
    """The sessions of ``sessions.csv`` (and of the CDRs): the sessions explorer's own WHERE
    clause (data.charging.history), so a view and its exports agree."""
    start, end = flt.bounds_utc(tz)
    conditions = session_conditions(
        session,
        start,
        end,
        charger=flt.charger_search,
        account_id=flt.account_id,
        state=flt.status or "all",
    )
    if flt.charger_id is not None:
        conditions.append(ChargingSession.charger_id == flt.charger_id)
    return conditions


def _file_conditions(
    session: Session, name: str, flt: ExportFilter, tz: ZoneInfo
) -> list[ColumnElement[bool]]:
    start, end = flt.bounds_utc(tz)
    conditions: list[Any] = []
    if name == "sessions":
        conditions += sessions_conditions(session, flt, tz)
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
            conditions.append(Account.id.in_(listed_accounts(query)))
    elif name == "chargers":
        if flt.charger_id is not None:
            conditions.append(ChargerModel.id == flt.charger_id)
        if flt.charger_status is not None or flt.search is not None or flt.grid_filters:
            # The fleet table's status pill, search box and column filters, by its own rule.
            conditions += fleet_conditions(
                _as_of(flt),
                status=flt.charger_status,
                search=flt.search,
                filters=flt.grid_filters,
                offline_after_s=flt.offline_after_s,
            )
    elif name == "access":
        if flt.account_id is not None:
            conditions.append(ChargerAccess.account_id == flt.account_id)
        if flt.charger_id is not None:
            conditions.append(ChargerAccess.charger_id == flt.charger_id)
    elif name == "id_tags" and flt.account_id is not None:
        conditions.append(IdTag.account_id == flt.account_id)
    elif name == "outages":
        conditions += _range(Outage.started_at, start, end)
        if flt.charger_id is not None:
            conditions.append(Outage.charger_id == flt.charger_id)
        if flt.cause is not None:
            conditions.append(Outage.cause == OutageCause(flt.cause))
        if flt.status is not None:
            still_down = Outage.ended_at.is_(None)
            conditions.append(still_down if flt.status == "open" else ~still_down)
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
            s.cost_total,
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
            # NULL (an empty cell) when no session of the row has a stored cost.
            type_coerce(func.sum(c.cost_total), Numeric(16, 3)).label("cost_total"),
        )
        .group_by(c.bucket, c.account_id, c.charger_id)
        .order_by(c.bucket, Bytewise(c.account_id), Bytewise(c.charger_id))
    )


def uptime_query(flt: ExportFilter, tz: ZoneInfo, stored: Collection[str] = ()) -> Select[Any]:
    """``uptime-monthly``: every charger (or the one asked for) and month of ``uptime_months``,
    at ``flt.as_of``; minutes as numbers, percentages as text with three decimals. ``stored``:
    the months read from the stored figures (``stored_months``)."""
    now = _as_of(flt)
    first, last = uptime_months(flt.first_day, flt.last_day, now, tz)
    chargers = None if flt.charger_id is None else [flt.charger_id]
    figures = uptime_statement(tz, first, last, now, chargers, stored)
    c = figures.selected_columns
    return figures.with_only_columns(
        c.charger_id,
        c.month,
        Thousandths(c.minutes_milli).label("minutes"),
        Thousandths(c.outage_milli).label("outage_minutes"),
        Thousandths(c.excluded_milli).label("excluded_minutes"),
        ThousandthsText(c.uptime_milli).label("uptime_percent"),
        ThousandthsText(c.uptime_12m_milli).label("uptime_12m_percent"),
    )


def export_statement(
    session: Session, name: str, flt: ExportFilter, tz: ZoneInfo
) -> Select[Any] | None:
    """The SELECT of an export, its columns ``EXPORT_COLUMNS[name]``; None when it is empty
    without asking (usage with no session in range)."""
    dialect = session.get_bind().dialect.name
    if name == UPTIME_MONTHLY:
        return uptime_query(flt, tz, stored_months(session, tz, _as_of(flt)))
    if name in USAGE_COLUMNS:
        period = usage_period(session, flt, tz)
        return None if period is None else usage_query(name, flt, period, dialect)
    return export_query(name, dialect).where(*_file_conditions(session, name, flt, tz))
